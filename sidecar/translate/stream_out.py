"""Stream encoders: common deltas -> the caller's SSE events, one class per dialect.

Every encoder has ``feed(delta) -> events`` and ``close() -> events`` (idempotent; called on the
upstream's end marker and again by ``finish()``), and turns a ``Failure`` into the dialect's error event,
after which it emits nothing more.

- ``OpenAIEncoder``: a first chunk with ``role: assistant``, one chunk per text, reasoning
  (``reasoning_content``, as OpenAI-compatible servers send it) or tool-call fragment
  (``tool_calls[index]`` with id, type and name on the first fragment; a call that streamed no argument
  text gets ``"{}"`` before the next call or the finish, as the whole answer says), a chunk carrying
  ``finish_reason``; on close, a usage chunk with empty ``choices`` when the caller asked for
  ``include_usage``, then ``data: [DONE]``.
- ``AnthropicEncoder``: ``message_start`` (sent with the first content, so it carries the input usage
  when the upstream reported it early), ``content_block_start``/``content_block_delta``
  (``text_delta``, ``input_json_delta``, ``thinking_delta`` + ``signature_delta``)/``content_block_stop``
  per block, ``redacted_thinking`` whole; on close ``message_delta`` (stop reason and cumulative usage)
  and ``message_stop``. Thinking is sent only with Anthropic's own signature (held until it comes):
  Anthropic refuses a thinking block sent back without one, so other providers' reasoning is left out.
- ``GeminiEncoder``: one fragment per text delta, one per reasoning delta (``thought: true``, held until
  the next delta so that its own signature rides on it); a standalone signature goes on the next part;
  function calls are collected whole (Gemini never streams arguments) and sent with ``finishReason`` and
  ``usageMetadata`` in the last fragment. Signatures from other providers are left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import orjson

from ..sse import SSEEvent
from . import anthropic_response, gemini_response, openai_response
from .common import (
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
    Usage,
    UsageSeen,
    new_id,
    parse_arguments,
    safe_id,
)


def _event(body: dict[str, Any], name: str | None = None) -> SSEEvent:
    return _frame(orjson.dumps(body), name)


def _frame(data: bytes, name: str | None = None) -> SSEEvent:
    """An event of ``data`` (``raw`` empty: ``SSEEvent.encode`` renders it)."""
    return _new_event(SSEEvent, (data, name, b""))


# An SSEEvent from its three fields, without the generated __new__'s argument handling (one per event).
_new_event = cast(Callable[[type[SSEEvent], tuple[bytes, str | None, bytes]], SSEEvent], tuple.__new__)
_NO_FINISH = b',"finish_reason":null,"logprobs":null}]}'
_BLOCK_DELTA = b'{"type":"content_block_delta","index":'


class OpenAIEncoder:
    __slots__ = (
        "_bare_tools",
        "_closed",
        "_created",
        "_finished",
        "_head",
        "_id",
        "_include_usage",
        "_model",
        "_started",
        "_usage",
    )

    def __init__(self, model: str, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = ""
        self._created = int(time.time())
        self._started = False
        self._finished = False
        self._closed = False
        self._usage: Usage | None = None
        self._bare_tools: list[int] = []  # tool calls started whose arguments have not come yet
        self._head = b""  # every chunk's JSON up to its delta, once the id is known

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        if finish is None and self._head:  # the usual chunk: the fixed part made once per stream
            return _frame(self._head + orjson.dumps(delta) + _NO_FINISH)
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _event(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [choice],
            }
        )

    def _start(self, ident: str | None) -> list[SSEEvent]:
        if self._started:
            return []
        self._started = True
        self._id = ident or new_id("chatcmpl-")
        self._head = (
            b'{"id":'
            + orjson.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
            + b',"choices":[{"index":0,"delta":'
        )
        return [self._chunk({"role": "assistant", "content": ""})]

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if type(delta) is Text and self._started and not self._closed:  # the usual delta, first
            return [self._chunk({"content": delta.text})]
        if self._closed:
            return []
        if isinstance(delta, Start):
            return self._start(delta.id)
        if isinstance(delta, UsageSeen):
            self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
            return []
        if isinstance(delta, End):
            return self.close()
        if isinstance(delta, Failure):
            self._closed = True
            return [openai_response.error_event(delta.status, delta.message)]
        if isinstance(delta, ReasoningSignature):
            return []  # no place for a signature in the OpenAI dialect
        out = self._start(None)
        if isinstance(delta, Text):
            out.append(self._chunk({"content": delta.text}))
        elif isinstance(delta, Reasoning):
            out.append(self._chunk({"reasoning_content": delta.text}))
        elif isinstance(delta, ToolStart):
            out += self._empty_arguments()
            call = {
                "index": delta.index,
                "id": delta.id,
                "type": "function",
                "function": {"name": delta.name, "arguments": ""},
            }
            out.append(self._chunk({"tool_calls": [call]}))
            self._bare_tools.append(delta.index)
        elif isinstance(delta, ToolArgs):
            if delta.fragment and delta.index in self._bare_tools:
                self._bare_tools.remove(delta.index)
            out.append(self._chunk({"tool_calls": [{"index": delta.index, "function": {"arguments": delta.fragment}}]}))
        elif isinstance(delta, Finish) and not self._finished:
            out += self._empty_arguments()
            self._finished = True
            out.append(self._chunk({}, openai_response.FINISH_TO[delta.reason]))
        return out

    def _empty_arguments(self) -> list[SSEEvent]:
        """``{}`` for each tool call that streamed no argument text (Anthropic sends ``input: {}`` and an
        empty ``input_json_delta`` for a call without arguments): an app parses the arguments it
        accumulated as JSON, and ``""`` is not JSON. The whole answer says ``"{}"`` too."""
        bare, self._bare_tools = self._bare_tools, []
        return [self._chunk({"tool_calls": [{"index": i, "function": {"arguments": "{}"}}]}) for i in bare]

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._empty_arguments()
        self._closed = True
        if self._include_usage and self._started:
            body = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": openai_response.usage_to(self._usage),
            }
            out.append(_event(body))
        out.append(SSEEvent(b"[DONE]"))
        return out


class AnthropicEncoder:
    __slots__ = (
        "_block",
        "_closed",
        "_finish",
        "_id",
        "_kind",
        "_model",
        "_next",
        "_reasoning",
        "_started",
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
        self._next = 0
        self._tools: dict[int, int] = {}
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._reasoning: list[str] = []  # thinking text held until Anthropic's signature for it arrives

    def _start(self) -> list[SSEEvent]:
        if self._started:
            return []
        self._started = True
        usage = anthropic_response.usage_to(self._usage)
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
        return [_event({"type": "message_start", "message": message}, "message_start")]

    def _open(self, kind: str, block: dict[str, Any]) -> list[SSEEvent]:
        out = self._stop_block()
        self._block = self._next
        self._next += 1
        self._kind = kind
        out.append(
            _event(
                {"type": "content_block_start", "index": self._block, "content_block": block},
                "content_block_start",
            )
        )
        return out

    def _stop_block(self) -> list[SSEEvent]:
        if self._kind == "":
            return []
        self._kind = ""
        return [_event({"type": "content_block_stop", "index": self._block}, "content_block_stop")]

    def _delta(self, index: int, delta: dict[str, Any]) -> SSEEvent:
        data = _BLOCK_DELTA + str(index).encode() + b',"delta":' + orjson.dumps(delta) + b"}"
        return _frame(data, "content_block_delta")

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if type(delta) is Text and self._kind == "text" and not self._reasoning and not self._closed:  # usual
            return [self._delta(self._block, {"type": "text_delta", "text": delta.text})]
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
            return [anthropic_response.error_event(delta.status, delta.message)]
        if isinstance(delta, Reasoning):
            self._reasoning.append(delta.text)
            return []
        if isinstance(delta, ReasoningSignature) and delta.origin != "anthropic":
            self._reasoning.clear()  # unsigned thinking sent back to Anthropic is refused: not sent at all
            return []
        out = self._start()
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
        out += self._stop_block()
        self._closed = True
        finish = self._finish
        stop = {
            "stop_reason": anthropic_response.FINISH_TO[finish.reason] if finish else "end_turn",
            "stop_sequence": finish.stop_sequence if finish else None,
        }
        out.append(
            _event(
                {"type": "message_delta", "delta": stop, "usage": anthropic_response.usage_to(self._usage)},
                "message_delta",
            )
        )
        out.append(_event({"type": "message_stop"}, "message_stop"))
        return out


class GeminiEncoder:
    __slots__ = ("_calls", "_closed", "_finish", "_held", "_id", "_model", "_signature", "_usage")

    def __init__(self, model: str) -> None:
        self._model = model
        self._id: str | None = None
        self._closed = False
        self._calls: dict[int, tuple[str, str, list[str], str | None]] = {}
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._held: dict[str, Any] | None = None  # the last thought part, waiting for its own signature
        self._signature: str | None = None  # a standalone signature, for the next part

    def _fragment(self, parts: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> SSEEvent:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}} if parts else {}
        candidate["index"] = 0
        body: dict[str, Any] = {"candidates": [{**candidate, **(extra or {})}]}
        if self._usage is not None and extra is not None:
            body["usageMetadata"] = gemini_response.usage_to(self._usage)
        body["modelVersion"] = self._model
        body["responseId"] = self._id or ""
        return _event(body)

    def _part(self, part: dict[str, Any]) -> dict[str, Any]:
        if self._signature is not None:
            part["thoughtSignature"] = self._signature
            self._signature = None
        return part

    def _flush(self) -> list[SSEEvent]:
        held, self._held = self._held, None
        return [self._fragment([held])] if held is not None else []

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
            if not delta.standalone and self._held is not None and "thoughtSignature" not in self._held:
                self._held["thoughtSignature"] = delta.signature
                return self._flush()
            out = self._flush()
            self._signature = delta.signature
            return out
        if isinstance(delta, Start):
            self._id = delta.id or new_id("")
        elif isinstance(delta, Text):
            return [*self._flush(), self._fragment([self._part({"text": delta.text})])]
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
        elif isinstance(delta, UsageSeen):
            self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
        elif isinstance(delta, End):
            return self.close()
        elif isinstance(delta, Failure):
            self._closed = True
            return [*self._flush(), gemini_response.error_event(delta.status, delta.message)]
        return []

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._flush()
        self._closed = True
        parts: list[dict[str, Any]] = []
        for ident, name, fragments, signature in self._calls.values():
            part: dict[str, Any] = {
                "functionCall": {"id": ident, "name": name, "args": parse_arguments("".join(fragments))}
            }
            if signature is not None:
                part["thoughtSignature"] = signature
            parts.append(part)
        if self._signature is not None:
            parts.append(self._part({"text": ""}))
        reason = gemini_response.FINISH_TO[self._finish.reason] if self._finish else "STOP"
        out.append(self._fragment(parts, {"finishReason": reason}))
        return out
