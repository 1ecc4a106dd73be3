"""An answer kept as its provider's bytes until a hit first needs its entry: a miss's work after the answer.

A miss's answer becomes an entry after the answer is written (``server.cache_stage._keep``): the body in the
common form, the extras, the entry's ``footprint``. Most entries of many caches are never read again; for
those the work is spent for nothing. So a whole OpenAI answer to an OpenAI caller, stored in memory with no
follower waiting for it (single flight's), is kept as ``Pending``: the answer's bytes as the caller got
them and what the entry's other fields come from (the target, provider and model, when, the cost), with
only what deciding to keep it needs read at once from the body the fallback loop already parsed
(``whole_verdict``: its finish reason and whether it holds an answer, the reasons of ``unstorable_by``).
The entry is made on the first read of the key (``Pending.entry``: the memory store's ``read_kept``,
which keeps it in the pending one's place and counts its size from then on). Any other answer (a stream,
another dialect, tool calls, a shape the check does not read: ``FULL``) is made into its entry at once,
as before. Its hits cannot tell: the entry is the one the miss would have made.

``unstorable_by`` is ``entry.unstorable``'s rule, on the two facts it reads.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import orjson

from ..dialects import Dialect
from ..dialects.openai.response import FINISH_FROM
from ..translate.common import FinishReason

if TYPE_CHECKING:
    from .entry import Entry

GOOD_FINISH = frozenset((FinishReason.STOP, FinishReason.STOP_SEQUENCE, FinishReason.TOOL_CALLS))

FULL = "full"
"""``whole_verdict``: the answer is to be made into its entry now (the check does not read its shape)."""

PENDING_OVERHEAD = 120
"""The bytes of a ``Pending`` object (its slots; the strings it shares with the policy not counted)."""


def unstorable_by(reason: FinishReason | None, answered: bool, *, store_truncated: bool) -> str | None:
    """Why an answer ending with ``reason`` (``answered``: it holds text, reasoning or a call) must not be
    stored, or None when it may be."""
    if reason is None:
        return "unfinished"
    if reason is FinishReason.LENGTH:
        return None if store_truncated and answered else "truncated"
    if reason is FinishReason.CONTENT_FILTER:
        return "refused"
    if reason not in GOOD_FINISH:
        return "unfinished"
    if not answered:
        return "empty"
    return None


def whole_verdict(body: dict[str, Any], *, store_truncated: bool) -> str | None:
    """Of a whole OpenAI answer (``body`` parsed): None when it may be kept pending, ``unstorable_by``'s
    reason when it must not be stored, ``FULL`` when its entry is to be made now (several choices, tool
    calls, a member of another type than OpenAI's: what the common form's parser reads and checks)."""
    choices = body.get("choices")
    if type(choices) is not list or len(choices) != 1 or type(choices[0]) is not dict:
        return FULL
    choice = choices[0]
    message = choice.get("message")
    if type(message) is not dict or message.get("tool_calls") or type(body.get("id")) is not str:
        return FULL
    content, refusal = message.get("content"), message.get("refusal")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if any(value is not None and type(value) is not str for value in (content, refusal, reasoning)):
        return FULL
    raw = choice.get("finish_reason")
    reason = FINISH_FROM.get(raw, FinishReason.OTHER) if raw else None
    if reason is FinishReason.STOP and refusal and not content:
        reason = FinishReason.CONTENT_FILTER  # as the parser reads a refusal (openai.response.parse_response)
    return unstorable_by(reason, bool(content or refusal or reasoning), store_truncated=store_truncated)


class Pending:
    """A whole OpenAI answer kept as its bytes until its entry is first needed (see the module docstring)."""

    __slots__ = ("cost_usd", "model", "provider", "raw", "stored_at", "target")

    def __init__(
        self, raw: bytes, *, model: str, target: str, provider: str, stored_at: float, cost_usd: float | None
    ) -> None:
        self.raw = raw  # the answer's body as the caller got it
        self.model = model  # the upstream model, when the body names none
        self.target = target
        self.provider = provider
        self.stored_at = stored_at
        self.cost_usd = cost_usd

    @property
    def size(self) -> int:
        """The bytes it holds (what the memory store counts until its entry is made)."""
        return PENDING_OVERHEAD + sys.getsizeof(self.raw)

    def entry(self) -> Entry | None:
        """The entry the miss would have made of the answer; None when its body does not read as one."""
        from ..translate import TranslationError, parse_chat_response
        from .entry import entry_from_response
        from .extras import extras_of, model_of

        try:
            body = orjson.loads(self.raw)
            answer = parse_chat_response(body, Dialect.OPENAI)
        except (ValueError, TranslationError):
            return None
        return entry_from_response(
            answer,
            model=model_of(body) or self.model,
            target=self.target,
            provider=self.provider,
            stored_at=self.stored_at,
            cost_usd=self.cost_usd,
            extras=extras_of(body, Dialect.OPENAI),
        )
