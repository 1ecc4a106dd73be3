"""The OpenAI stream decoder: one upstream event -> common deltas (``translate.stream_in`` describes
every decoder).

A content chunk's ``logprobs`` (asked by the request) makes its ``Text`` a ``ScoredText``; a chunk's
``delta.annotations`` (a search model's citations, once, after the text) a ``Cited``, and the usage
that follows them one web search (``Usage.web_search_calls``, as a whole answer citing the web).
"""

from __future__ import annotations

from typing import Any

from ...sse import SSEEvent
from ...translate.common import FinishReason, Usage
from ...translate.deltas import Delta, End, Finish, Reasoning, Start, Text, ToolArgs, ToolStart, UsageSeen
from ...translate.parts import new_id
from ...translate.stream_in import LoadedOnce, failure_of, new_citations, text_field
from .. import Dialect
from . import citations, response
from .logprobs import scored_text


class OpenAIDecoder:
    __slots__ = ("_answered", "_cited", "_loaded", "_refused", "_started", "_tools", "_usage")

    def __init__(self) -> None:
        self._cited: set[tuple[str, str | None, int, int]] = set()
        self._started = False
        self._tools: set[int] = set()
        self._refused = False  # a refusal streamed (and no content): the stop is a content-filter stop
        self._answered = False
        self._loaded = LoadedOnce()
        self._usage: Usage | None = None  # the stream's usage so far (a compatible server may repeat it)

    def text_of(self, event: SSEEvent) -> str | None:
        """The content of ``event`` when it is a chunk of content text and nothing else (after the first
        chunk; what ``feed`` would return as one ``Text``, with the same effect on the decoder); None for
        every other event (no ``error`` or ``usage`` in it), which ``feed`` then reads."""
        if not self._started or event.event is not None:
            return None
        obj = self._loaded.first(event.data)
        if type(obj) is not dict or obj.get("usage") is not None or "error" in obj:
            return None
        choices = obj.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        if (
            type(choice) is not dict
            or choice.get("index", 0) != 0
            or choice.get("finish_reason")
            or choice.get("logprobs")  # the text's tokens: a ScoredText, which ``feed`` makes
        ):
            return None
        delta = choice.get("delta")
        if type(delta) is not dict:
            return None
        content = delta.get("content")
        if (
            type(content) is not str
            or not content
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or delta.get("tool_calls")
            or delta.get("refusal")
            or "annotations" in delta
        ):
            return None
        self._answered = True
        return content

    def feed(self, event: SSEEvent) -> list[Delta]:
        data = event.data
        if data.startswith(b"[DONE]"):
            return [End()]
        obj = self._loaded.again(data)
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [failure_of(Dialect.OPENAI, obj["error"])]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            out.append(Start(text_field(obj.get("id")) or None, obj))
        choices = obj.get("choices")
        for choice in choices if type(choices) is list else ():
            if type(choice) is not dict or choice.get("index", 0) != 0:
                continue  # another choice (n > 1), or not one: a provider's bytes are not trusted
            delta = choice.get("delta")
            if type(delta) is not dict:
                delta = {}
            reasoning = response.reasoning_in(delta)
            if reasoning is not None:
                out.append(Reasoning(reasoning))
            content = delta.get("content")
            refusal = delta.get("refusal")
            if content and type(content) is str:
                self._answered = True
                scores = choice.get("logprobs")
                out.append(Text(content) if scores is None else scored_text(content, scores))
            elif refusal and type(refusal) is str:
                self._refused = True
                out.append(Text(refusal))
            calls = delta.get("tool_calls")
            for call in calls if type(calls) is list else ():
                self._tool_call(call, out)
            if "annotations" in delta:
                self._cite(delta, out)
            raw = choice.get("finish_reason")
            if raw and type(raw) is str:
                reason = response.FINISH_FROM.get(raw, FinishReason.OTHER)
                if reason is FinishReason.STOP and self._refused and not self._answered:
                    reason = FinishReason.CONTENT_FILTER
                out.append(Finish(reason, raw))
        raw_usage = obj.get("usage")
        if raw_usage is not None:  # only the last chunk has one: no call for the others
            # a search model's citations (before the usage chunk) show its one search, as a whole answer's
            usage = response.usage_from(raw_usage, obj.get("service_tier"), 1 if self._cited else 0)
            if usage is not None:
                self._usage = usage = usage if self._usage is None else self._usage.merge(usage)
                out.append(UsageSeen(usage, obj))
        return out

    def _cite(self, delta: dict[str, Any], out: list[Delta]) -> None:
        """The delta's citations (``annotations``) not reported before."""
        cited = new_citations(citations.stream_citations(delta), self._cited)
        if cited is not None:
            out.append(cited)

    def _tool_call(self, call: object, out: list[Delta]) -> None:
        """The deltas of one streamed tool call fragment; a fragment of the wrong shape is skipped."""
        if type(call) is not dict:
            return
        index = call.get("index", 0)
        fn = call.get("function") or {}
        if type(index) is not int or type(fn) is not dict:
            return
        if index not in self._tools:
            self._tools.add(index)
            call_id = call.get("id")
            name = fn.get("name")
            call_id = call_id if type(call_id) is str and call_id else new_id("call_")
            out.append(ToolStart(index, call_id, name if type(name) is str else ""))
        arguments = fn.get("arguments")
        if arguments and type(arguments) is str:
            out.append(ToolArgs(index, arguments))
