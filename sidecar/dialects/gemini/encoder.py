"""The Gemini stream encoder: common deltas -> a Gemini caller's events (``translate.stream_out``
describes every encoder).

The last fragment (finish reason, usage, whole function calls) always has content, an empty text part
when nothing else is left, as Gemini's own last fragment has: google-genai's chat sessions (Python and
Node) keep a streamed turn in the history they send next only when every fragment has content. A
content-filter stop (``SAFETY``) has none, as Gemini sends it. A ``ScoredText``'s tokens go in the
``logprobsResult`` (and ``avgLogprobs``) of the fragment carrying its text. Citations (``Cited``) go on
the last fragment, every one, as ``citationMetadata`` in bytes of the whole text sent (the encoder keeps
it): Google's SDKs take the last fragment's as the answer's (``citations``).

``replayed`` shapes a whole stream known in advance (a cache hit's) as Gemini streams it: the last text
fragment carries the finish (and usage, citations), where a live encoder, not knowing which text is the
last, sends them in a fragment of their own with an empty text part.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import Citation, Usage
from ...translate.deltas import (
    Cited,
    Delta,
    End,
    Failure,
    Finish,
    Reasoning,
    ReasoningSignature,
    ScoredText,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from ...translate.parts import new_id, parse_arguments
from ...translate.stream_out import json_event
from . import citations, response
from .fields import SKIP_SIGNATURE
from .logprobs import add_to_candidate as add_logprobs

_TEXT_HEAD = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":'


class GeminiEncoder:
    failure: str | None = None  # never ends a stream with an error of its own (``translate.stream``)

    __slots__ = (
        "_calls",
        "_cited",
        "_closed",
        "_finish",
        "_gemini_signed",
        "_held",
        "_id",
        "_model",
        "_signature",
        "_text_tail",
        "_texts",
        "_usage",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._id: str | None = None
        self._closed = False
        self._calls: dict[int, tuple[str, str, list[str], str | None]] = {}
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._held: dict[str, Any] | None = None  # the last thought part, waiting for its own signature
        self._signature: str | None = None  # a standalone signature, for the next part
        self._gemini_signed = False  # Gemini signed something: its answer, no call needs the skip value
        self._text_tail = b""  # a text fragment's wire bytes after the text, made once the id is known
        self._texts: list[str] = []  # the text sent: citations count bytes of its join
        self._cited: list[Citation] = []  # citations held for the last fragment

    def _fragment(
        self, parts: list[dict[str, Any]], extra: dict[str, Any] | None = None, text: Text | None = None
    ) -> SSEEvent:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}} if parts else {}
        candidate["index"] = 0
        if type(text) is ScoredText:
            add_logprobs(candidate, text.logprobs)
        body: dict[str, Any] = {"candidates": [{**candidate, **(extra or {})}]}
        if self._usage is not None and extra is not None:
            body["usageMetadata"] = response.usage_to(self._usage)
        body["modelVersion"] = self._model
        body["responseId"] = self._id or ""
        return json_event(body)

    def _part(self, part: dict[str, Any]) -> dict[str, Any]:
        if self._signature is not None:
            part["thoughtSignature"] = self._signature
            self._signature = None
        return part

    def _flush(self) -> list[SSEEvent]:
        held, self._held = self._held, None
        return [self._fragment([held])] if held is not None else []

    def text_wire(self, text: str) -> bytes | None:
        """A text fragment's wire bytes (``feed(Text(text))``'s, rendered) when nothing is held for the next
        part; None otherwise."""
        if self._closed or self._held is not None or self._signature is not None:
            return None
        tail = self._text_tail
        if not tail:
            tail = self._text_tail = (
                b'}]},"index":0}],"modelVersion":'
                + orjson.dumps(self._model)
                + b',"responseId":'
                + orjson.dumps(self._id or "")
                + b"}\n\n"
            )
        self._texts.append(text)
        return _TEXT_HEAD + orjson.dumps(text) + tail

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if self._closed:
            return []
        if isinstance(delta, Reasoning):
            out = self._flush()
            self._held = self._part({"text": delta.text, "thought": True})
            return out
        if isinstance(delta, ReasoningSignature):
            if delta.origin != "gemini" or delta.redacted:
                return []  # another provider's signature means nothing to Gemini
            self._gemini_signed = True
            if not delta.standalone and self._held is not None and "thoughtSignature" not in self._held:
                self._held["thoughtSignature"] = delta.signature
                return self._flush()
            out = self._flush()
            self._signature = delta.signature
            return out
        if isinstance(delta, Start):
            self._id = delta.id or new_id("")
            self._text_tail = b""
        elif isinstance(delta, Text):
            self._texts.append(delta.text)
            return [*self._flush(), self._fragment([self._part({"text": delta.text})], None, delta)]
        elif isinstance(delta, ToolStart):
            signature, self._signature = self._signature, None
            self._calls[delta.index] = (delta.id, delta.name, [], signature)
            return self._flush()
        elif isinstance(delta, ToolArgs):
            call = self._calls.get(delta.index)
            if call is not None:
                call[2].append(delta.fragment)
        elif isinstance(delta, Finish):
            self._finish = delta
        elif isinstance(delta, Cited):
            self._cited += delta.citations
        elif isinstance(delta, UsageSeen):
            self._usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
        elif isinstance(delta, End):
            return self.close()
        elif isinstance(delta, Failure):
            self._closed = True
            return [*self._flush(), response.error_event(delta.status, delta.message, condition=delta.condition)]
        return []

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._flush()
        self._closed = True
        parts: list[dict[str, Any]] = []
        for ident, name, fragments, signature in self._calls.values():
            part: dict[str, Any] = {
                "functionCall": response.function_call(ident, name, parse_arguments("".join(fragments)))
            }
            if signature is not None:
                part["thoughtSignature"] = signature
            elif not parts and not self._gemini_signed and response.foreign_call(ident):
                part["thoughtSignature"] = SKIP_SIGNATURE  # as ``response.thought_parts``
            parts.append(part)
        reason = response.FINISH_TO[self._finish.reason] if self._finish else "STOP"
        if self._signature is not None or (not parts and reason != "SAFETY"):
            parts.append(self._part({"text": ""}))  # content, as Gemini's last fragment has (see the docstring)
        last: dict[str, Any] = {"finishReason": reason}
        if self._cited:
            citations.add_to_candidate(last, self._cited, "".join(self._texts))
        out.append(self._fragment(parts, last))
        return out

    @staticmethod
    def replayed(events: list[SSEEvent]) -> list[SSEEvent]:
        """``events``, a whole answer's stream, with a last fragment of an empty text alone folded into the
        text fragment before it (``translate.stream.Replayer``)."""
        if len(events) < 2:
            return events
        last, before = orjson.loads(events[-1].data), orjson.loads(events[-2].data)
        end, text = last["candidates"][0], before["candidates"][0]
        parts = text.get("content", {}).get("parts") or ()
        if end.get("content", {}).get("parts") != [{"text": ""}] or "finishReason" in text or not parts:
            return events
        if any(set(part) != {"text"} for part in parts):  # a thought, a signature, a call: left as they are
            return events
        folded: dict[str, Any] = {"candidates": [{**text, **{k: v for k, v in end.items() if k != "content"}}]}
        if "usageMetadata" in last:
            folded["usageMetadata"] = last["usageMetadata"]
        folded["modelVersion"] = before["modelVersion"]
        folded["responseId"] = before["responseId"]
        return [*events[:-2], json_event(folded)]
