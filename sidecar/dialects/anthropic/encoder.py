"""The Anthropic stream encoder: common deltas -> an Anthropic caller's events (``translate.stream_out``
describes every encoder).

Anthropic streams one content block at a time. A tool call that starts while another's block is open is
held (its arguments gathered) and sent whole once that block must end (text, thinking, the end of the
answer): an OpenAI-compatible upstream may interleave the argument fragments of parallel calls (vLLM,
Azure), and each fragment must land inside its own block.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import Usage
from ...translate.deltas import (
    Cited,
    Delta,
    End,
    Failure,
    Finish,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from ...translate.parts import new_id, safe_id
from ...translate.stream_out import framed, json_event, wire_prefix
from . import response

_BLOCK_DELTA = b'{"type":"content_block_delta","index":'
_DELTA_PREFIX = wire_prefix("content_block_delta")
_TEXT_TAIL = b"}}\n\n"


class AnthropicEncoder:
    __slots__ = (
        "_block",
        "_closed",
        "_finish",
        "_held",
        "_id",
        "_kind",
        "_model",
        "_next",
        "_reasoning",
        "_started",
        "_text_head",
        "_text_wire_head",
        "_tools",
        "_usage",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._id: str | None = None
        self._started = False
        self._closed = False
        self._block = -1
        self._kind = ""
        self._text_head = b""
        self._text_wire_head = b""  # _text_head with the event's name and ``data: `` before it
        self._next = 0
        self._tools: dict[int, int] = {}
        self._held: dict[int, tuple[str, str, list[str]]] = {}  # calls started while a tool block is open
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._reasoning: list[str] = []  # thinking text held until Anthropic's signature for it arrives

    def _start(self) -> list[SSEEvent]:
        if self._started:
            return []
        self._started = True
        usage = response.usage_to(self._usage)
        usage["output_tokens"] = 0
        message: dict[str, Any] = {
            "id": self._id or new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [json_event({"type": "message_start", "message": message}, "message_start")]

    def _open(self, kind: str, block: dict[str, Any]) -> list[SSEEvent]:
        out = self._stop_block()
        self._block = self._next
        self._next += 1
        self._kind = kind
        if kind == "text":  # the fixed part of this block's text deltas
            self._text_head = _BLOCK_DELTA + str(self._block).encode() + b',"delta":{"type":"text_delta","text":'
            self._text_wire_head = _DELTA_PREFIX + self._text_head
        out.append(
            json_event(
                {"type": "content_block_start", "index": self._block, "content_block": block},
                "content_block_start",
            )
        )
        return out

    def _release(self) -> list[SSEEvent]:
        """The held tool calls, one whole block each, in the order they started (the last left open)."""
        out: list[SSEEvent] = []
        for index, (call_id, name, fragments) in self._held.items():
            out += self._open("tool", {"type": "tool_use", "id": safe_id(call_id), "name": name, "input": {}})
            self._tools[index] = self._block
            if fragments:
                out.append(self._delta(self._block, {"type": "input_json_delta", "partial_json": "".join(fragments)}))
        self._held.clear()
        return out

    def _stop_block(self) -> list[SSEEvent]:
        if self._kind == "":
            return []
        self._kind = ""
        return [json_event({"type": "content_block_stop", "index": self._block}, "content_block_stop")]

    def _delta(self, index: int, delta: dict[str, Any]) -> SSEEvent:
        data = _BLOCK_DELTA + str(index).encode() + b',"delta":' + orjson.dumps(delta) + b"}"
        return framed(data, "content_block_delta", _DELTA_PREFIX)

    def text_wire(self, text: str) -> bytes | None:
        """A text delta's wire bytes (``feed(Text(text))``'s, rendered) while a text block is open and no
        reasoning is held; None otherwise."""
        if self._kind == "text" and not self._reasoning and not self._closed:
            return self._text_wire_head + orjson.dumps(text) + _TEXT_TAIL
        return None

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if type(delta) is Text and self._kind == "text" and not self._reasoning and not self._closed:  # usual
            data = self._text_head + orjson.dumps(delta.text) + b"}}"
            return [framed(data, "content_block_delta", _DELTA_PREFIX)]
        if self._closed:
            return []
        if isinstance(delta, Start):
            self._id = delta.id
            return []
        if isinstance(delta, UsageSeen):
            self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
            return []
        if isinstance(delta, Finish):
            self._finish = delta
            return []
        if isinstance(delta, End):
            return self.close()
        if isinstance(delta, Failure):
            self._closed = True
            return [response.error_event(delta.status, delta.message)]
        if isinstance(delta, Reasoning):
            self._reasoning.append(delta.text)
            return []
        if isinstance(delta, Cited):
            return []  # no citation of another provider's form is sent to Anthropic apps (docs/translation.md)
        if isinstance(delta, ReasoningSignature) and delta.origin != "anthropic":
            self._reasoning.clear()  # unsigned thinking sent back to Anthropic is refused: not sent at all
            return []
        out = self._start()
        if isinstance(delta, ToolArgs) and delta.index in self._held:
            self._held[delta.index][2].append(delta.fragment)
            return out
        if isinstance(delta, ToolStart) and self._kind == "tool":
            self._held[delta.index] = (delta.id, delta.name, [])
            return out
        if self._held and isinstance(delta, ReasoningSignature | Text):
            out += self._release()
        if isinstance(delta, ReasoningSignature):
            if delta.redacted:
                out += self._open("redacted", {"type": "redacted_thinking", "data": delta.signature})
            else:
                out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out.extend(self._delta(self._block, {"type": "thinking_delta", "thinking": t}) for t in self._reasoning)
                out.append(self._delta(self._block, {"type": "signature_delta", "signature": delta.signature}))
                out += self._stop_block()  # a signature ends its thinking block
            self._reasoning.clear()
            return out
        self._reasoning.clear()  # reasoning no Anthropic signature followed: another provider's
        if isinstance(delta, Text):
            if self._kind != "text":
                out += self._open("text", {"type": "text", "text": ""})
            out.append(self._delta(self._block, {"type": "text_delta", "text": delta.text}))
        elif isinstance(delta, ToolStart):
            out += self._open("tool", {"type": "tool_use", "id": safe_id(delta.id), "name": delta.name, "input": {}})
            self._tools[delta.index] = self._block
        elif isinstance(delta, ToolArgs):
            index = self._tools.get(delta.index)
            if index is not None:
                out.append(self._delta(index, {"type": "input_json_delta", "partial_json": delta.fragment}))
        return out

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._start()
        out += self._release()
        out += self._stop_block()
        self._closed = True
        finish = self._finish
        stop = {
            "stop_reason": response.FINISH_TO[finish.reason] if finish else "end_turn",
            "stop_sequence": finish.stop_sequence if finish else None,
        }
        out.append(
            json_event(
                {"type": "message_delta", "delta": stop, "usage": response.usage_to(self._usage)},
                "message_delta",
            )
        )
        out.append(json_event({"type": "message_stop"}, "message_stop"))
        return out
