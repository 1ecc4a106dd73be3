"""The OpenAI stream decoder: one upstream event -> common deltas (``translate.stream_in`` describes
every decoder).
"""

from __future__ import annotations

from ...sse import SSEEvent
from ...translate.common import (
    Delta,
    End,
    Finish,
    FinishReason,
    Reasoning,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
    new_id,
)
from ...translate.stream_in import failure_of, load_data
from . import response


class OpenAIDecoder:
    __slots__ = ("_answered", "_refused", "_started", "_tools")

    def __init__(self) -> None:
        self._started = False
        self._tools: set[int] = set()
        self._refused = False  # a refusal streamed (and no content): the stop is a content-filter stop
        self._answered = False

    def feed(self, event: SSEEvent) -> list[Delta]:
        data = event.data
        if data.startswith(b"[DONE]"):
            return [End()]
        obj = load_data(data)
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [failure_of(obj["error"])]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            out.append(Start(obj.get("id")))
        for choice in obj.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if reasoning and isinstance(reasoning, str):
                out.append(Reasoning(reasoning))
            content = delta.get("content")
            refusal = delta.get("refusal")
            if content:
                self._answered = True
                out.append(Text(content))
            elif refusal:
                self._refused = True
                out.append(Text(refusal))
            for call in delta.get("tool_calls") or ():
                index = call.get("index", 0)
                fn = call.get("function") or {}
                if index not in self._tools:
                    self._tools.add(index)
                    out.append(ToolStart(index, call.get("id") or new_id("call_"), fn.get("name") or ""))
                if fn.get("arguments"):
                    out.append(ToolArgs(index, fn["arguments"]))
            raw = choice.get("finish_reason")
            if raw:
                reason = response.FINISH_FROM.get(raw, FinishReason.OTHER)
                if reason is FinishReason.STOP and self._refused and not self._answered:
                    reason = FinishReason.CONTENT_FILTER
                out.append(Finish(reason, raw))
        raw_usage = obj.get("usage")
        if raw_usage is not None:  # only the last chunk has one: no call for the others
            usage = response.usage_from(raw_usage)
            if usage is not None:
                out.append(UsageSeen(usage))
        return out
