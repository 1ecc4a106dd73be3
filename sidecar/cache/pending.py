"""An answer kept as its provider's bytes until a hit first needs its entry: a miss's work after the answer.

A miss's answer becomes an entry after the answer is written (``server.cache_stage._keep``): the body in the
common form, the extras, the entry's ``footprint``. Most entries of many caches are never read again; for
those the work is spent for nothing. So a whole answer to a caller of its own dialect (OpenAI's chat
completion, Anthropic's message, Gemini's ``generateContent`` answer; text, tool calls), stored in memory
with no follower waiting for it (single flight's), is kept as ``Pending``: the answer's bytes as the
caller got them, their dialect, and what the entry's other fields come from (the target, provider and
model, when, the cost), with only what deciding to keep it needs read at once from the body the fallback
loop already parsed (``whole_verdict``: its finish reason and whether it holds an answer, the reasons of
``storable.unstorable_by``). The entry is made on the first read of the key (``Pending.entry``: the memory store's
``read_kept``, which keeps it in the pending one's place and counts its size from then on). Any other
answer (a stream, a translated one, reasoning, several choices, a block or member the check does not
read: ``FULL``) is made into its entry at once, as before. Its hits cannot tell: the entry is the one the
miss would have made (an OpenAI call's arguments kept as the model wrote them, an Anthropic or Gemini
call's integers beyond 64 bits read exactly, as ``cache_stage`` does for an entry made at once).

``entry_of`` is the one builder of a whole answer's entry: the miss's, made at once, and ``Pending.entry``'s.
``storable.unstorable_by`` is ``entry.unstorable``'s rule, on the two facts it reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.anthropic.response import FINISH_FROM as ANTHROPIC_FINISH
from ..dialects.gemini.response import finish_from as gemini_finish
from ..dialects.openai.response import FINISH_FROM
from ..translate import TranslationError, parse_chat_response
from ..translate.common import FinishReason
from ..translate.numbers import long_digit_run, read_exactly
from ..translate.parts import RESPONSE_TOOL, RESPONSE_TOOL_VALUE
from .entry import Entry, entry_from_response
from .extras import extras_of, model_of
from .storable import unstorable_by

FULL = "full"
"""``whole_verdict``: the answer is to be made into its entry now (the check does not read its shape)."""

ANSWER_TOOLS = (RESPONSE_TOOL, RESPONSE_TOOL_VALUE)

# Enum members read as module globals (a read through the class is not specialized by Python 3.11: about 975
# instructions against 70, docs/benchmarks.md, wave 47 ``plain48``); a whole answer's verdict read two of them
_OTHER, _STOP, _CONTENT_FILTER = FinishReason.OTHER, FinishReason.STOP, FinishReason.CONTENT_FILTER
_OPENAI = Dialect.OPENAI

PENDING_OVERHEAD = 168
"""The bytes of a ``Pending`` object: its slots, its ``stored_at`` and its ``size`` (tracemalloc, 2,000 made:
168 a ``Pending``, list slot included; 128 before ``size`` was a slot); the strings it shares with the policy
not counted."""


def whole_verdict(body: dict[str, Any], dialect: Dialect, *, store_truncated: bool) -> str | None:
    """Of a whole answer in ``dialect`` (``body`` parsed): None when it may be kept pending, ``unstorable_by``'s
    reason when it must not be stored, ``FULL`` when its entry is to be made now (a shape the check does not
    read: what the common form's parser reads and checks)."""
    judge = _JUDGES.get(dialect)  # a dialect added as a package (not one of the three): made at once
    judged = judge(body) if judge is not None else None
    if judged is None:
        return FULL
    reason, answered = judged
    return unstorable_by(reason, answered, store_truncated=store_truncated)


def _openai(body: dict[str, Any]) -> tuple[FinishReason | None, bool] | None:
    """A chat completion's finish reason and whether it answers; None for several choices, content parts,
    an odd member's type (as ``openai.response.parse_response`` reads them)."""
    choices = body.get("choices")
    if type(choices) is not list or len(choices) != 1 or type(choices[0]) is not dict:
        return None
    choice = choices[0]
    message = choice.get("message")
    if type(message) is not dict or type(body.get("id")) is not str:
        return None
    content, refusal = message.get("content"), message.get("refusal")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    # each a string or null (written out, not a generator over the three: a miss's verdict makes none)
    if (
        (content is not None and type(content) is not str)
        or (refusal is not None and type(refusal) is not str)
        or (reasoning is not None and type(reasoning) is not str)
    ):
        return None
    calls = message.get("tool_calls")
    if calls and not _openai_calls(calls):
        return None
    raw = choice.get("finish_reason")
    if raw is not None and type(raw) is not str:
        return None
    reason = FINISH_FROM.get(raw, _OTHER) if raw else None
    if reason is _STOP and refusal and not content:
        reason = _CONTENT_FILTER  # as the parser reads a refusal (openai.response.parse_response)
    return reason, bool(content or refusal or reasoning or calls)


def _openai_calls(calls: Any) -> bool:
    """Tool calls as OpenAI writes them: each with a string id, and a function of a string name and arguments."""
    if type(calls) is not list:
        return False
    for call in calls:
        function = call.get("function") if type(call) is dict else None
        if type(function) is not dict or type(call.get("id")) is not str:
            return False
        if type(function.get("name")) is not str or type(function.get("arguments")) is not str:
            return False
    return True


def _anthropic(body: dict[str, Any]) -> tuple[FinishReason | None, bool] | None:
    """A message's stop reason and whether it answers; None for thinking, an answer tool's call (structured
    output, read as text), any other block or an odd member (as ``anthropic.response.parse_response`` reads)."""
    content = body.get("content")
    if type(content) is not list or type(body.get("id")) is not str:
        return None
    for block in content:
        kind = block.get("type") if type(block) is dict else None
        if kind == "text":
            if type(block.get("text")) is not str:
                return None
        elif kind == "tool_use":
            name = block.get("name")
            if (
                type(name) is not str
                or name in (RESPONSE_TOOL, RESPONSE_TOOL_VALUE)
                or type(block.get("id")) is not str
            ):
                return None
            if type(block.get("input")) is not dict:
                return None
        else:
            return None
    raw = body.get("stop_reason")
    if raw is not None and type(raw) is not str:
        return None
    return (ANTHROPIC_FINISH.get(raw, _OTHER) if raw else None), bool(content)


def _gemini(body: dict[str, Any]) -> tuple[FinishReason | None, bool] | None:
    """A ``generateContent`` answer's finish reason and whether it answers; None for several candidates,
    thoughts or their signatures, any part but text and a function call (as ``gemini.response.parse_response``)."""
    candidates = body.get("candidates")
    if type(candidates) is not list or len(candidates) != 1 or type(candidates[0]) is not dict:
        return None
    content = candidates[0].get("content")
    parts = content.get("parts") if type(content) is dict else None
    if type(parts) is not list:
        return None
    answered = calls = False
    for part in parts:
        if type(part) is not dict or len(part) != 1:
            return None
        if "text" in part:
            if type(part["text"]) is not str:
                return None
            answered = answered or bool(part["text"])
        elif type(call := part.get("functionCall")) is dict and type(call.get("name")) is str:
            if type(call.get("args", {})) is not dict:
                return None
            answered = calls = True
        else:
            return None
    raw = candidates[0].get("finishReason")
    if raw is not None and type(raw) is not str:
        return None
    return gemini_finish(raw, calls), answered


_JUDGES: dict[Dialect, Callable[[dict[str, Any]], tuple[FinishReason | None, bool] | None]] = {
    Dialect.OPENAI: _openai,
    Dialect.ANTHROPIC: _anthropic,
    Dialect.GEMINI: _gemini,
}


def written_arguments(body: dict[str, Any]) -> tuple[object, ...]:
    """An OpenAI answer's tool calls' ``arguments`` as the model wrote them (JSON text: its spacing, escapes
    and numbers), in order, for the entry to keep (``entry_from_response``); ``body`` parsed as an answer
    calling tools, so its first choice's message holds them."""
    calls = body["choices"][0]["message"]["tool_calls"]
    return tuple((call.get("function") or {}).get("arguments") for call in calls)


def calls_tools(answer: Any) -> bool:
    """Whether a ``ChatResponse``'s (first) choice calls a tool."""
    return any(part["type"] == "tool_call" for choice in answer["choices"][:1] for part in choice["parts"])


class Pending:
    """A whole answer kept as its bytes until its entry is first needed (see the module docstring)."""

    __slots__ = ("cost_usd", "dialect", "kept_s", "model", "provider", "raw", "size", "stored_at", "target")

    def __init__(
        self,
        raw: bytes,
        *,
        model: str,
        target: str,
        provider: str,
        stored_at: float,
        cost_usd: float | None,
        dialect: Dialect = Dialect.OPENAI,
    ) -> None:
        self.raw = raw  # the answer's body as the caller got it
        self.dialect = dialect  # the caller's and the upstream's
        self.model = model  # the upstream model, when the body names none
        self.target = target
        self.provider = provider
        self.stored_at = stored_at
        self.cost_usd = cost_usd
        self.kept_s = 0.0  # when the memory store kept it, on its monotonic clock (``store.MemoryStore.write_pending``)
        # the bytes it holds (what the memory store counts until its entry is made): a slot, not a property
        # (read by every miss's insert; Python 3.11 specializes no property read)
        self.size = PENDING_OVERHEAD + sys.getsizeof(raw)

    def entry(self) -> Entry | None:
        """The entry the miss would have made of the answer (``entry_of``); None when its body does not read
        as one."""
        dialect = self.dialect
        try:
            return entry_of(
                orjson.loads(self.raw),
                dialect,
                self.raw,
                dialect,
                model=self.model,
                target=self.target,
                provider=self.provider,
                stored_at=self.stored_at,
                cost_usd=self.cost_usd,
            )
        except (ValueError, TranslationError):
            return None


def entry_of(
    body: dict[str, Any],
    wire: Dialect,
    raw: bytes,
    caller: Dialect,
    *,
    model: str,
    target: str,
    provider: str,
    stored_at: float,
    cost_usd: float | None,
) -> Entry | None:
    """The entry of a whole answer, made at once by the miss (``server.cache_stage``) or on a pending answer's
    first read (``Pending.entry``): ``body`` the answer parsed, in the upstream's ``wire`` dialect; ``raw`` the
    bytes the caller got, in its dialect ``caller`` (the same when not translated); ``model`` the upstream
    model asked for (the entry's when the body names none, or when translated: the caller was told the
    target's). In the caller's own dialect the answer's fields outside the common form are kept, and an
    OpenAI call's arguments as written; an Anthropic or Gemini call's integer beyond 64 bits, which orjson
    read as a double, is read again exactly from the caller's bytes (``translate.numbers``). None when it has
    no single choice; ``ValueError`` or ``TranslationError`` when it does not read as an answer."""
    same = wire is caller
    answer = parse_chat_response(body, wire)
    calls = calls_tools(answer)
    if calls and wire is not _OPENAI and long_digit_run(raw):
        body, wire = read_exactly(raw), caller
        answer = parse_chat_response(body, wire)
    return entry_from_response(
        answer,
        model=(model_of(body) if same else None) or model,
        target=target,
        provider=provider,
        stored_at=stored_at,
        cost_usd=cost_usd,
        extras=extras_of(body, wire) if same else None,
        arguments=written_arguments(body) if same and calls and wire is _OPENAI else (),
        asked=model,
    )
