"""The Anthropic stream encoder: common deltas -> an Anthropic caller's events (``translate.stream_out``
describes every encoder).

Anthropic streams one content block at a time. A tool call that starts while another's block is open is
held (its arguments gathered) and sent whole once that block must end (text, thinking, the end of the
answer): an OpenAI-compatible upstream may interleave the argument fragments of parallel calls (vLLM,
Azure), and each fragment must land inside its own block.

An Anthropic SDK parses a tool block's arguments (as partial JSON) after every ``input_json_delta`` and
raises, ending the app's stream, on any that is not the start of JSON. Another provider's model may send
arguments that are not JSON (``{not json``): each block's arguments are checked as they pass
(``_ToolInput``, with pydantic-core's partial JSON reading, as the SDKs read them). Arguments that do not
begin a JSON object are held and sent at the block's end as ``{"_raw": "<text>"}``, as an unstreamed
answer's are (``translate.parts.parse_arguments``); arguments that begin one and later break it (their
start is already the app's) end the stream with an error event, which the SDK raises as an API error;
``failure`` then says why (a translated relay records the stream as failed: ``translate.stream``).

``replayed`` shapes a whole stream known in advance (a cache hit's) as Anthropic streams it: a ``ping``
right after the first content block starts (a relay's translated stream goes without one).
``message_start``'s ``usage.output_tokens`` is 1 when content follows, as Anthropic counts the first token
there (0 when the answer has none), in a translated stream and a replay alike; its usage has no
``output_tokens_details`` (the thinking tokens, at most ``output_tokens``: ``message_delta`` counts them), and
``message_delta``'s no ``cache_creation`` when ``message_start``'s had it (Anthropic's ``MessageDeltaUsage``
has the cumulative counts, ``output_tokens_details`` and ``server_tool_use`` only).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic_core import from_json

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
_PING = json_event({"type": "ping"}, "ping")
_TEXT_TAIL = b"}}\n\n"


class _ToolInput:
    """One tool block's arguments on their way to an Anthropic app (module docstring): ``text`` so far,
    whether any of it was sent, or whether it is held to go as ``{"_raw": text}``."""

    __slots__ = ("name", "raw", "sent", "text")

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = ""
        self.sent = False
        self.raw = False


def _json_start(text: str) -> bool:
    """Whether ``text`` reads as the start of a JSON value, as an Anthropic SDK reads a partial input."""
    try:
        from_json(text, allow_partial=True)
    except ValueError:
        return False
    return True


class AnthropicEncoder:
    __slots__ = (
        "_args",
        "_block",
        "_closed",
        "_finish",
        "_held",
        "_id",
        "_kind",
        "_model",
        "_next",
        "_reasoning",
        "_split_sent",
        "_started",
        "_text_head",
        "_text_wire_head",
        "_tools",
        "_usage",
        "failure",
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
        self._args: dict[int, _ToolInput] = {}  # by block: each tool block's arguments so far
        self.failure: str | None = None  # why the encoder ended the stream with its own error event
        self._held: dict[int, tuple[str, str, list[str]]] = {}  # calls started while a tool block is open
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._split_sent = False  # message_start's usage had the writes' split (cache_creation)
        self._reasoning: list[str] = []  # thinking text held until Anthropic's signature for it arrives

    def _start(self, output_tokens: int = 1) -> list[SSEEvent]:
        """``message_start``, once: its ``usage.output_tokens`` 1 when content follows (Anthropic counts the
        first token there), 0 when the stream closes without any."""
        if self._started:
            return []
        self._started = True
        usage = response.usage_to(self._usage)
        usage["output_tokens"] = output_tokens
        # the thinking tokens: counted by message_delta (never more than the 1 output token here)
        usage.pop("output_tokens_details", None)
        self._split_sent = "cache_creation" in usage
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
            out += self._open_tool(index, call_id, name)
            if fragments:
                out += self._arguments(self._block, "".join(fragments))
                if self._closed:
                    break
        self._held.clear()
        return out

    def _open_tool(self, index: int, call_id: str, name: str) -> list[SSEEvent]:
        out = self._open("tool", {"type": "tool_use", "id": safe_id(call_id), "name": name, "input": {}})
        self._tools[index] = self._block
        self._args[self._block] = _ToolInput(name)
        return out

    def _arguments(self, block: int, fragment: str) -> list[SSEEvent]:
        """A fragment of tool block ``block``'s arguments, sent when what came so far still reads as the
        start of a JSON object (module docstring)."""
        args = self._args[block]
        args.text += fragment
        if args.raw:
            return []
        text = args.text
        if not args.sent:
            start = text.lstrip()
            if not start:
                return []  # whitespace so far: held until the first character says what it is
            if start[0] != "{" or not _json_start(text):
                args.raw = True  # not a JSON object: sent whole as ``{"_raw": ...}`` at the block's end
                return []
            args.sent = True
            return [self._delta(block, {"type": "input_json_delta", "partial_json": text})]
        if _json_start(text):
            return [self._delta(block, {"type": "input_json_delta", "partial_json": fragment})]
        self._closed = True
        self.failure = f"the upstream model's arguments for tool call '{args.name}' are not valid JSON"
        return [response.error_event(502, self.failure)]

    def _stop_block(self) -> list[SSEEvent]:
        if self._kind == "":
            return []
        out: list[SSEEvent] = []
        args = self._args.get(self._block) if self._kind == "tool" else None
        if args is not None and args.raw:
            raw = orjson.dumps({"_raw": args.text}).decode()
            out.append(self._delta(self._block, {"type": "input_json_delta", "partial_json": raw}))
        self._kind = ""
        out.append(json_event({"type": "content_block_stop", "index": self._block}, "content_block_stop"))
        return out

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
            self._usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
            return []
        if isinstance(delta, Finish):
            self._finish = delta
            return []
        if isinstance(delta, End):
            return self.close()
        if isinstance(delta, Failure):
            self._closed = True
            return [response.error_event(delta.status, delta.message, condition=delta.condition)]
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
            if self._closed:  # a held call's arguments were not JSON: the stream ended with an error
                return out
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
            out += self._open_tool(delta.index, delta.id, delta.name)
        elif isinstance(delta, ToolArgs):
            index = self._tools.get(delta.index)
            if index is not None:
                out += self._arguments(index, delta.fragment)
        return out

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._start(0)  # not started: no content came
        out += self._release()
        if self._closed:  # a held call's arguments were not JSON: the stream ended with an error
            return out
        out += self._stop_block()
        self._closed = True
        finish = self._finish
        stop = {
            "stop_reason": response.FINISH_TO[finish.reason] if finish else "end_turn",
            "stop_sequence": finish.stop_sequence if finish else None,
        }
        usage = response.usage_to(self._usage)
        if self._split_sent:  # Anthropic's message_delta has no split of the writes: message_start gave it
            usage.pop("cache_creation", None)
        out.append(json_event({"type": "message_delta", "delta": stop, "usage": usage}, "message_delta"))
        out.append(json_event({"type": "message_stop"}, "message_stop"))
        return out

    @staticmethod
    def replayed(events: list[SSEEvent]) -> list[SSEEvent]:
        """``events``, a whole answer's stream, with the ``ping`` Anthropic sends after the first
        ``content_block_start`` (``translate.stream.Replayer``)."""
        for at, event in enumerate(events):
            if event.event == "content_block_start":
                return [*events[: at + 1], _PING, *events[at + 1 :]]
        return events
