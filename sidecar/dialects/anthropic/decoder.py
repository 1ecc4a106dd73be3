"""The Anthropic stream decoder: one upstream event -> common deltas (``translate.stream_in`` describes
every decoder).
"""

from __future__ import annotations

from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import FinishReason, Usage
from ...translate.deltas import (
    Delta,
    End,
    Finish,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from ...translate.parts import RESPONSE_TOOL, RESPONSE_TOOL_VALUE, dumps, new_id, parse_arguments
from ...translate.stream_in import failure_of, text_field
from .. import Dialect
from . import response

_SKIP = ("skip", -1)


class AnthropicDecoder:
    __slots__ = ("_blocks", "_buffer", "_text_open", "_tools", "_usage")

    def __init__(self) -> None:
        self._blocks: dict[int, tuple[str, int]] = {}  # block index -> (kind, tool ordinal)
        self._buffer: list[str] = []
        self._tools = 0
        self._usage: Usage | None = None
        self._text_open = False  # the block started last is a text block (text_of reads only its deltas)

    def feed(self, event: SSEEvent) -> list[Delta]:
        try:  # load_data's, inline: once per streamed event
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        if type(obj) is not dict:
            return []
        kind = obj.get("type") or event.event
        if kind == "content_block_delta":
            return self._delta(obj)
        if kind == "content_block_start":
            started = self._block_start(obj)
            self._text_open = self._blocks.get(obj.get("index", 0), _SKIP)[0] == "text"
            return started
        if kind == "content_block_stop":
            if self._blocks.get(obj.get("index", -1), ("",))[0] == "wrapped":
                value = parse_arguments("".join(self._buffer)).get("value")
                self._buffer.clear()
                return [Text(dumps(value))]
            return []
        if kind == "message_start":
            message = obj.get("message") or {}
            self._usage = response.usage_from(message.get("usage")) or self._usage
            out: list[Delta] = [Start(text_field(message.get("id")) or None, message)]
            if self._usage is not None:
                out.append(UsageSeen(self._usage))
            return out
        if kind == "message_delta":
            return self._message_delta(obj)
        if kind == "message_stop":
            return [End()]
        if kind == "error":
            return [failure_of(Dialect.ANTHROPIC, obj.get("error"))]
        return []

    def text_of(self, event: SSEEvent) -> str | None:
        """The text of ``event`` when it is a ``text_delta`` of a text block and nothing else (what ``feed``
        would return as one ``Text``; no ``error`` or ``usage`` in it); None for every other event, which
        ``feed`` then reads. Only a delta while a text block is open is parsed here, so no other event is
        parsed twice. Changes nothing: a text delta leaves the decoder's state as it was."""
        if not self._text_open or event.event != "content_block_delta":
            return None
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
        if (
            type(obj) is not dict
            or obj.get("type", "content_block_delta") != "content_block_delta"
            or "usage" in obj
            or "error" in obj
        ):
            return None
        delta = obj.get("delta")
        if type(delta) is not dict or delta.get("type") != "text_delta":
            return None
        text = delta.get("text", "")
        if type(text) is not str or self._blocks.get(obj.get("index", 0), _SKIP)[0] != "text":
            return None
        return text

    def _block_start(self, obj: dict[str, Any]) -> list[Delta]:
        index = obj.get("index", 0)
        block = obj.get("content_block") or {}
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = ("text", -1)
            text = text_field(block.get("text"))
            return [Text(text)] if text else []
        if kind == "thinking":
            self._blocks[index] = ("thinking", -1)
            thinking = text_field(block.get("thinking"))
            return [Reasoning(thinking)] if thinking else []
        if kind == "redacted_thinking":
            self._blocks[index] = ("skip", -1)
            data = text_field(block.get("data"))
            return [ReasoningSignature(data, "anthropic", redacted=True, standalone=True)] if data else []
        if kind != "tool_use":
            self._blocks[index] = ("skip", -1)
            return []
        name = text_field(block.get("name"))
        if name == RESPONSE_TOOL_VALUE:
            self._blocks[index] = ("wrapped", -1)
            return []
        if name == RESPONSE_TOOL:
            self._blocks[index] = ("json", -1)
            return []
        ordinal = self._tools
        self._tools += 1
        self._blocks[index] = ("tool", ordinal)
        out: list[Delta] = [ToolStart(ordinal, text_field(block.get("id")) or new_id("toolu_"), name)]
        if block.get("input"):
            out.append(ToolArgs(ordinal, dumps(block["input"])))
        return out

    def _delta(self, obj: dict[str, Any]) -> list[Delta]:
        kind, ordinal = self._blocks.get(obj.get("index", 0), ("skip", -1))
        delta = obj.get("delta") or {}
        delta_type = delta.get("type")
        if delta_type == "text_delta" and kind == "text":
            return [Text(text_field(delta.get("text")))]
        if kind == "thinking":
            if delta_type == "thinking_delta" and text_field(delta.get("thinking")):
                return [Reasoning(delta["thinking"])]
            if delta_type == "signature_delta" and text_field(delta.get("signature")):
                return [ReasoningSignature(delta["signature"], "anthropic")]
            return []
        if delta_type == "input_json_delta":
            fragment = text_field(delta.get("partial_json"))
            if kind == "tool" and fragment:
                return [ToolArgs(ordinal, fragment)]
            if kind == "json" and fragment:
                return [Text(fragment)]
            if kind == "wrapped":
                self._buffer.append(fragment)
        return []

    def _message_delta(self, obj: dict[str, Any]) -> list[Delta]:
        out: list[Delta] = []
        usage = response.usage_after(self._usage, obj.get("usage"))
        if usage is not None:
            self._usage = usage
            out.append(UsageSeen(usage, obj))
        delta = obj.get("delta") or {}
        raw = text_field(delta.get("stop_reason"))
        if raw:
            reason = response.FINISH_FROM.get(raw, FinishReason.OTHER)
            if reason is FinishReason.TOOL_CALLS and self._tools == 0:
                reason = FinishReason.STOP  # only the structured-output tool was called
            out.append(Finish(reason, raw, text_field(delta.get("stop_sequence")) or None))
        return out
