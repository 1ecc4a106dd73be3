"""Stream decoders: one upstream SSE event -> common deltas (``common.Delta``), one class per dialect.

- ``OpenAIDecoder``: ``chat.completion.chunk`` payloads; the first chunk gives ``Start``,
  ``reasoning_content`` (OpenAI-compatible servers) gives ``Reasoning``, ``content`` gives ``Text``, the
  first delta of each ``tool_calls[index]`` gives ``ToolStart`` and every ``arguments`` fragment
  ``ToolArgs``; ``finish_reason`` -> ``Finish`` (a content-filter stop after a ``refusal``); a chunk
  with ``usage`` -> ``UsageSeen``; ``[DONE]`` -> ``End``; ``{"error": ...}`` -> ``Failure``. Choices
  other than index 0 are ignored.
- ``AnthropicDecoder``: ``message_start`` (id, input usage), ``content_block_start/delta/stop`` (text,
  tool_use + ``input_json_delta``, thinking + ``thinking_delta``/``signature_delta`` -> ``Reasoning`` /
  ``ReasoningSignature``, ``redacted_thinking`` -> a redacted signature), ``message_delta`` (stop
  reason, usage),
  ``message_stop`` -> ``End``, ``ping`` ignored, ``error`` -> ``Failure``. A structured-output tool
  (``RESPONSE_TOOL``) streams out as text.
- ``GeminiDecoder``: each ``GenerateContentResponse`` fragment; text parts -> ``Text``, thought parts ->
  ``Reasoning`` (+ their own ``ReasoningSignature``), a ``thoughtSignature`` on another part -> a
  standalone ``ReasoningSignature`` before it, a ``functionCall`` (always whole) -> ``ToolStart`` + one
  ``ToolArgs``; ``finishReason`` -> ``Finish``;
  ``usageMetadata`` -> ``UsageSeen``. Gemini has no end marker: the stream's end is ``finish()``.

Decoders read defensively (``.get`` everywhere); the translator skips an event a decoder cannot read.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sse import SSEEvent
from . import anthropic_response, gemini_response, openai_response
from .common import (
    RESPONSE_TOOL,
    RESPONSE_TOOL_VALUE,
    Delta,
    End,
    Failure,
    Finish,
    FinishReason,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    Usage,
    UsageSeen,
    dumps,
    new_id,
    parse_arguments,
)
from .errors import status_of


def _load(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _failure(error: Any) -> Failure:
    message = error.get("message") if isinstance(error, dict) else error
    return Failure(status_of(error), message if isinstance(message, str) and message else "upstream stream error")


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
        obj = _load(data)
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [_failure(obj["error"])]
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
                reason = openai_response.FINISH_FROM.get(raw, FinishReason.OTHER)
                if reason is FinishReason.STOP and self._refused and not self._answered:
                    reason = FinishReason.CONTENT_FILTER
                out.append(Finish(reason, raw))
        usage = openai_response.usage_from(obj.get("usage"))
        if usage is not None:
            out.append(UsageSeen(usage))
        return out


class AnthropicDecoder:
    __slots__ = ("_blocks", "_buffer", "_tools", "_usage")

    def __init__(self) -> None:
        self._blocks: dict[int, tuple[str, int]] = {}  # block index -> (kind, tool ordinal)
        self._buffer: list[str] = []
        self._tools = 0
        self._usage: Usage | None = None

    def feed(self, event: SSEEvent) -> list[Delta]:
        obj = _load(event.data)
        if not isinstance(obj, dict):
            return []
        kind = obj.get("type") or event.event
        if kind == "content_block_delta":
            return self._delta(obj)
        if kind == "content_block_start":
            return self._block_start(obj)
        if kind == "content_block_stop":
            if self._blocks.get(obj.get("index", -1), ("",))[0] == "wrapped":
                value = parse_arguments("".join(self._buffer)).get("value")
                self._buffer.clear()
                return [Text(dumps(value))]
            return []
        if kind == "message_start":
            message = obj.get("message") or {}
            self._usage = anthropic_response.usage_from(message.get("usage")) or self._usage
            out: list[Delta] = [Start(message.get("id"))]
            if self._usage is not None:
                out.append(UsageSeen(self._usage))
            return out
        if kind == "message_delta":
            return self._message_delta(obj)
        if kind == "message_stop":
            return [End()]
        if kind == "error":
            return [_failure(obj.get("error"))]
        return []

    def _block_start(self, obj: dict[str, Any]) -> list[Delta]:
        index = obj.get("index", 0)
        block = obj.get("content_block") or {}
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = ("text", -1)
            return [Text(block["text"])] if block.get("text") else []
        if kind == "thinking":
            self._blocks[index] = ("thinking", -1)
            return [Reasoning(block["thinking"])] if block.get("thinking") else []
        if kind == "redacted_thinking":
            self._blocks[index] = ("skip", -1)
            data = block.get("data") or ""
            return [ReasoningSignature(data, "anthropic", redacted=True, standalone=True)] if data else []
        if kind != "tool_use":
            self._blocks[index] = ("skip", -1)
            return []
        name = block.get("name") or ""
        if name == RESPONSE_TOOL_VALUE:
            self._blocks[index] = ("wrapped", -1)
            return []
        if name == RESPONSE_TOOL:
            self._blocks[index] = ("json", -1)
            return []
        ordinal = self._tools
        self._tools += 1
        self._blocks[index] = ("tool", ordinal)
        out: list[Delta] = [ToolStart(ordinal, block.get("id") or new_id("toolu_"), name)]
        if block.get("input"):
            out.append(ToolArgs(ordinal, dumps(block["input"])))
        return out

    def _delta(self, obj: dict[str, Any]) -> list[Delta]:
        kind, ordinal = self._blocks.get(obj.get("index", 0), ("skip", -1))
        delta = obj.get("delta") or {}
        delta_type = delta.get("type")
        if delta_type == "text_delta" and kind == "text":
            return [Text(delta.get("text", ""))]
        if kind == "thinking":
            if delta_type == "thinking_delta" and delta.get("thinking"):
                return [Reasoning(delta["thinking"])]
            if delta_type == "signature_delta" and delta.get("signature"):
                return [ReasoningSignature(delta["signature"], "anthropic")]
            return []
        if delta_type == "input_json_delta":
            fragment = delta.get("partial_json", "")
            if kind == "tool" and fragment:
                return [ToolArgs(ordinal, fragment)]
            if kind == "json" and fragment:
                return [Text(fragment)]
            if kind == "wrapped":
                self._buffer.append(fragment)
        return []

    def _message_delta(self, obj: dict[str, Any]) -> list[Delta]:
        out: list[Delta] = []
        usage = anthropic_response.usage_from(obj.get("usage"))
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merge(usage)
            out.append(UsageSeen(self._usage))
        delta = obj.get("delta") or {}
        raw = delta.get("stop_reason")
        if raw:
            reason = anthropic_response.FINISH_FROM.get(raw, FinishReason.OTHER)
            if reason is FinishReason.TOOL_CALLS and self._tools == 0:
                reason = FinishReason.STOP  # only the structured-output tool was called
            out.append(Finish(reason, raw, delta.get("stop_sequence")))
        return out


class GeminiDecoder:
    __slots__ = ("_calls", "_response_id", "_started")

    def __init__(self) -> None:
        self._started = False
        self._response_id: str | None = None
        self._calls = 0

    def feed(self, event: SSEEvent) -> list[Delta]:
        obj = _load(event.data)
        if isinstance(obj, list) and obj:
            obj = obj[0]
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            return [_failure(obj["error"])]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            self._response_id = obj.get("responseId")
            out.append(Start(self._response_id))
        usage = gemini_response.usage_from(obj.get("usageMetadata"))
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
                    ident = fc.get("id") or gemini_response.call_id(self._response_id, ordinal)
                    out.append(ToolStart(ordinal, ident, fc.get("name") or ""))
                    out.append(ToolArgs(ordinal, dumps(fc.get("args") or {})))
            raw = cand.get("finishReason")
            reason = gemini_response.finish_from(raw, self._calls > 0)
            if reason is not None:
                out.append(Finish(reason, raw))
        if not candidates:
            blocked = (obj.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                out.append(Finish(FinishReason.CONTENT_FILTER, blocked))
        return out
