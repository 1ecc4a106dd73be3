"""The Gemini stream decoder: one upstream event -> common deltas (``translate.stream_in`` describes
every decoder).

A fragment's ``logprobsResult`` (asked by the request) makes its first ``Text`` a ``ScoredText``; its
``citationMetadata`` a ``Cited`` (the byte spans into the text streamed so far, which the decoder keeps,
converted to characters; each source once), before the fragment's ``Finish``. A function call's ``args``
holding an integer beyond 64 bits (which orjson reads as a double) are read again exactly
(``translate.numbers``), so that a 30-digit order number reaches the caller digit for digit.
"""

from __future__ import annotations

from typing import Any

from ...sse import SSEEvent
from ...translate.common import FinishReason, Usage
from ...translate.deltas import (
    Delta,
    Finish,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from ...translate.numbers import holds_inexact, read_exactly
from ...translate.parts import dumps
from ...translate.stream_in import LoadedOnce, failure_of, new_citations, text_field
from .. import Dialect
from . import citations, response
from .logprobs import scored_text


class GeminiDecoder:
    __slots__ = ("_calls", "_cited", "_loaded", "_response_id", "_started", "_texts", "_unread_usage", "_usage")

    def __init__(self) -> None:
        self._texts: list[str] = []  # the answer's text fragments: citations count bytes of their join
        self._cited: set[tuple[str, str | None, int, int]] = set()
        self._started = False
        self._response_id: str | None = None
        self._calls = 0
        self._loaded = LoadedOnce()
        self._unread_usage: Any = None  # the usageMetadata of the last text fragment ``text_of`` read
        self._usage: Usage | None = None  # the stream's usage so far: the fragments' totals, merged

    def text_of(self, event: SSEEvent) -> str | None:
        """The text of ``event`` when it is a fragment of one non-empty text part and nothing else (after
        the first fragment: no finish, signature or thought, no ``error``, no citation) but its usage;
        None for every other event, which ``feed`` then reads. Keeps the text, as ``feed`` does, and the
        usage unread (``_unread_usage``: Gemini's counts are the totals so far, so only the last text
        fragment's before the next ``feed`` or ``unread_usage`` can matter)."""
        if not self._started or event.event is not None:
            return None
        obj = self._loaded.first(event.data)
        if type(obj) is not dict or "error" in obj:
            return None
        candidates = obj.get("candidates")
        if type(candidates) is not list or len(candidates) != 1:
            return None
        candidate = candidates[0]
        if (
            type(candidate) is not dict
            or candidate.get("index", 0) != 0
            or "finishReason" in candidate
            or "logprobsResult" in candidate  # the text's tokens: a ScoredText, which ``feed`` makes
            or "citationMetadata" in candidate
            or "groundingMetadata" in candidate  # the searches run: counted by ``feed`` with the usage
        ):
            return None
        content = candidate.get("content")
        parts = content.get("parts") if type(content) is dict else None
        if type(parts) is not list or len(parts) != 1:
            return None
        part = parts[0]
        if type(part) is not dict or len(part) != 1:  # the text alone: no thought, no signature
            return None
        text = part.get("text")
        if type(text) is not str or not text:
            return None
        self._texts.append(text)
        metadata = obj.get("usageMetadata")
        if metadata is not None:
            self._unread_usage = metadata
        return text

    def unread_usage(self) -> Usage | None:
        """The stream's usage with the last text fragment's that ``text_of`` read and no ``feed`` has
        reported yet; None when there is none (``StreamTranslator.usage``)."""
        metadata, self._unread_usage = self._unread_usage, None
        return None if metadata is None else self._merged(metadata)

    def _merged(self, metadata: Any, searches: int = 0) -> Usage | None:
        """The stream's usage with a fragment's ``usageMetadata`` (and the search queries its grounding ran);
        None when it holds none."""
        usage = response.usage_from(metadata, searches)
        if usage is not None:
            self._usage = usage = usage if self._usage is None else self._usage.merge(usage)
        return usage

    def feed(self, event: SSEEvent) -> list[Delta]:
        data = event.data
        obj = self._loaded.again(data)
        if isinstance(obj, list) and obj:
            obj = obj[0]
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [failure_of(Dialect.GEMINI, obj["error"])]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            self._response_id = text_field(obj.get("responseId")) or None
            out.append(Start(self._response_id, obj))
        metadata = obj.get("usageMetadata")
        if metadata is not None or self._unread_usage is not None:  # most fragments have none: no call
            usage = self.unread_usage()  # a text fragment's before this one, not reported yet
            if metadata is not None:
                usage = self._merged(metadata, response.web_searches(obj)) or usage
            if usage is not None:  # before the parts: an Anthropic caller's message_start shows it
                out.append(UsageSeen(usage, obj))
        candidates = obj.get("candidates") or ()
        for cand in candidates:
            if cand.get("index", 0) != 0:
                continue
            scores = cand.get("logprobsResult")
            parts = (cand.get("content") or {}).get("parts") or ()
            for part in parts:
                signature = text_field(part.get("thoughtSignature"))
                text = text_field(part.get("text"))
                if part.get("thought"):
                    if text:
                        out.append(Reasoning(text))
                    if signature:
                        out.append(ReasoningSignature(signature, "gemini"))
                    continue
                if signature:
                    out.append(ReasoningSignature(signature, "gemini", standalone=True))
                if "text" in part:
                    if text:
                        self._texts.append(text)
                        out.append(Text(text) if scores is None else scored_text(text, cand))
                        scores = None  # a fragment's tokens go with its first text
                elif "functionCall" in part:
                    fc = part["functionCall"]
                    ordinal = self._calls
                    self._calls += 1
                    ident = text_field(fc.get("id")) or response.call_id(self._response_id, ordinal)
                    out.append(ToolStart(ordinal, ident, text_field(fc.get("name"))))
                    args = fc.get("args") or {}
                    out.append(ToolArgs(ordinal, dumps(_exact_args(args, data, candidates, cand, parts, part))))
            if "citationMetadata" in cand:
                self._cite(cand, out)
            raw = text_field(cand.get("finishReason"))
            if raw:
                reason = response.finish_from(raw, self._calls > 0)
                if reason is not None:
                    out.append(Finish(reason, raw))
        if not candidates:
            blocked = text_field((obj.get("promptFeedback") or {}).get("blockReason"))
            if blocked:
                out.append(Finish(FinishReason.CONTENT_FILTER, blocked))
        return out

    def _cite(self, candidate: dict[str, Any], out: list[Delta]) -> None:
        """The candidate's citations not reported before, over the text streamed so far."""
        cited = new_citations(citations.citations_of(candidate, "".join(self._texts)), self._cited)
        if cited is not None:
            out.append(cited)


def _exact_args(args: Any, data: bytes, candidates: Any, candidate: Any, parts: Any, part: Any) -> Any:
    """A function call's ``args`` as orjson read them from the fragment ``data`` (``part`` of ``parts``, of
    ``candidate`` of ``candidates``); when they hold a double that may stand for an integer beyond 64 bits,
    read again with each such integer exact (``translate.numbers``), or as they are when that fails (it
    reads what orjson read: it does not)."""
    if not holds_inexact(args):
        return args
    try:
        fragment = read_exactly(data)
        if isinstance(fragment, list):
            fragment = fragment[0]
        fragment_parts = fragment["candidates"][_position(candidates, candidate)]["content"]["parts"]
        return fragment_parts[_position(parts, part)]["functionCall"]["args"]
    except (ValueError, LookupError, TypeError):
        return args


def _position(items: Any, item: Any) -> int:
    """Where ``item`` itself stands in ``items`` (not an equal one: two calls' arguments may read alike as
    doubles and differ in their digits)."""
    return next(index for index, each in enumerate(items) if each is item)
