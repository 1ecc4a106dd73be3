"""The Gemini stream decoder: one upstream event -> common deltas (``translate.stream_in`` describes
every decoder).
"""

from __future__ import annotations

from ...sse import SSEEvent
from ...translate.common import (
    Delta,
    Finish,
    FinishReason,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
    dumps,
)
from ...translate.stream_in import failure_of, load_data
from . import response


class GeminiDecoder:
    __slots__ = ("_calls", "_response_id", "_started")

    def __init__(self) -> None:
        self._started = False
        self._response_id: str | None = None
        self._calls = 0

    def feed(self, event: SSEEvent) -> list[Delta]:
        obj = load_data(event.data)
        if isinstance(obj, list) and obj:
            obj = obj[0]
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [failure_of(obj["error"])]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            self._response_id = obj.get("responseId")
            out.append(Start(self._response_id))
        metadata = obj.get("usageMetadata")
        if metadata is not None:  # most fragments have none: no call for them
            usage = response.usage_from(metadata)
            if usage is not None:
                out.append(UsageSeen(usage))  # before the parts: an Anthropic caller's message_start shows it
        candidates = obj.get("candidates") or ()
        for cand in candidates:
            if cand.get("index", 0) != 0:
                continue
            for part in (cand.get("content") or {}).get("parts") or ():
                signature = part.get("thoughtSignature")
                if part.get("thought"):
                    if part.get("text"):
                        out.append(Reasoning(part["text"]))
                    if signature:
                        out.append(ReasoningSignature(signature, "gemini"))
                    continue
                if signature:
                    out.append(ReasoningSignature(signature, "gemini", standalone=True))
                if "text" in part:
                    if part["text"]:
                        out.append(Text(part["text"]))
                elif "functionCall" in part:
                    fc = part["functionCall"]
                    ordinal = self._calls
                    self._calls += 1
                    ident = fc.get("id") or response.call_id(self._response_id, ordinal)
                    out.append(ToolStart(ordinal, ident, fc.get("name") or ""))
                    out.append(ToolArgs(ordinal, dumps(fc.get("args") or {})))
            raw = cand.get("finishReason")
            if raw:
                reason = response.finish_from(raw, self._calls > 0)
                if reason is not None:
                    out.append(Finish(reason, raw))
        if not candidates:
            blocked = (obj.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                out.append(Finish(FinishReason.CONTENT_FILTER, blocked))
        return out
