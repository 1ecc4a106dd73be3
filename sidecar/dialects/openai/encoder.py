"""The OpenAI stream encoder: common deltas -> an OpenAI caller's events (``translate.stream_out``
describes every encoder).

The role chunk waits for the answer's first part, as OpenAI streams it: ``"content": ""`` before text
(or reasoning, or nothing), ``"content": null`` beside the first tool call of an answer that opens with
one, so that an app accumulating the chunks gets ``content`` None for a tool-only answer, as unstreamed.
A ``ScoredText``'s tokens go in the ``logprobs`` of the chunk carrying its text. Citations (``Cited``)
are held and sent together in one chunk of their own (``delta.annotations``) before the finish chunk,
as OpenAI's search models send them: openai-python's stream helper cannot join two lists of them.
Every chunk carries what OpenAI's do: ``"logprobs": null`` where it has none, the role chunk's
``"refusal": null``, and, when the request asked for usage (``stream_options.include_usage``),
``"usage": null`` on each chunk before the usage chunk.
"""

from __future__ import annotations

import time
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
from ...translate.parts import new_id
from ...translate.stream_out import framed, json_event, wire_prefix
from . import citations, response
from .logprobs import choice_logprobs

_NO_FINISH = b',"finish_reason":null,"logprobs":null}]}'
_NO_FINISH_NO_USAGE_YET = b',"finish_reason":null,"logprobs":null}],"usage":null}'  # with include_usage
_CONTENT = b'{"content":'
_DATA = wire_prefix()


class OpenAIEncoder:
    failure: str | None = None  # never ends a stream with an error of its own (``translate.stream``)

    __slots__ = (
        "_bare_tools",
        "_cited",
        "_closed",
        "_content_end",
        "_created",
        "_finished",
        "_head",
        "_id",
        "_include_usage",
        "_model",
        "_no_finish",
        "_opened",
        "_started",
        "_text_head",
        "_text_tail",
        "_usage",
    )

    def __init__(self, model: str, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = ""
        self._created = int(time.time())
        self._started = False
        self._opened = False  # the role chunk is sent
        self._finished = False
        self._closed = False
        self._usage: Usage | None = None
        self._bare_tools: list[int] = []  # tool calls started whose arguments have not come yet
        self._cited: list[Citation] = []  # citations held for the annotations chunk
        self._head = b""  # every chunk's JSON up to its delta, once the id is known
        self._text_head = b""  # a text chunk's wire bytes up to the text, once started
        self._no_finish = _NO_FINISH_NO_USAGE_YET if include_usage else _NO_FINISH  # a chunk's end, after its delta
        self._content_end = b"}" + self._no_finish  # a text chunk's data after the text
        self._text_tail = self._content_end + b"\n\n"  # a text chunk's wire bytes after the text

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> SSEEvent:
        if finish is None and logprobs is None and self._head:  # the fixed part made once per stream
            return framed(self._head + orjson.dumps(delta) + self._no_finish, None, _DATA)
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
        }
        if self._include_usage:
            chunk["usage"] = None
        return json_event(chunk)

    def _start(self, ident: str | None) -> None:
        if self._started:
            return
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
        self._text_head = _DATA + self._head + _CONTENT

    def _open(self) -> list[SSEEvent]:
        """The role chunk, before the answer's first part (``content: ""``: text, reasoning or nothing)."""
        if self._opened:
            return []
        self._start(None)
        self._opened = True
        return [self._chunk({"role": "assistant", "content": "", "refusal": None})]

    def text_wire(self, text: str) -> bytes | None:
        """A text chunk's wire bytes (``feed(Text(text))``'s, rendered), None before the role chunk or
        after the close."""
        if self._opened and not self._closed:
            return self._text_head + orjson.dumps(text) + self._text_tail
        return None

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if type(delta) is Text and self._opened and not self._closed:  # the usual delta, first
            return [framed(self._head + _CONTENT + orjson.dumps(delta.text) + self._content_end, None, _DATA)]
        if self._closed:
            return []
        if isinstance(delta, Start):
            self._start(delta.id)
            return []
        if isinstance(delta, UsageSeen):
            self._usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
            return []
        if isinstance(delta, End):
            return self.close()
        if isinstance(delta, Failure):
            self._closed = True
            return [response.error_event(delta.status, delta.message, condition=delta.condition)]
        if isinstance(delta, ReasoningSignature):
            return []  # no place for a signature in the OpenAI dialect
        if isinstance(delta, Cited):
            self._cited += delta.citations
            return []
        if isinstance(delta, ToolStart) and not self._opened:  # a tool call opens the answer
            self._start(None)
            self._opened = True
            return [self._tool_start(delta, {"role": "assistant", "content": None, "refusal": None})]
        out = self._open()
        if isinstance(delta, Text):
            out.append(self._chunk({"content": delta.text}, None, _logprobs_of(delta)))
        elif isinstance(delta, Reasoning):
            out.append(self._chunk({"reasoning_content": delta.text}))
        elif isinstance(delta, ToolStart):
            out += self._empty_arguments()
            out.append(self._tool_start(delta, {}))
        elif isinstance(delta, ToolArgs):
            if delta.fragment and delta.index in self._bare_tools:
                self._bare_tools.remove(delta.index)
            out.append(self._chunk({"tool_calls": [{"index": delta.index, "function": {"arguments": delta.fragment}}]}))
        elif isinstance(delta, Finish) and not self._finished:
            out += self._empty_arguments() + self._annotations()
            self._finished = True
            out.append(self._chunk({}, response.FINISH_TO[delta.reason]))
        return out

    def _tool_start(self, delta: ToolStart, head: dict[str, Any]) -> SSEEvent:
        """The chunk announcing a tool call (``head``: the role chunk's fields when the call opens the
        answer)."""
        call = {
            "index": delta.index,
            "id": delta.id,
            "type": "function",
            "function": {"name": delta.name, "arguments": ""},
        }
        self._bare_tools.append(delta.index)
        return self._chunk({**head, "tool_calls": [call]})

    def _empty_arguments(self) -> list[SSEEvent]:
        """``{}`` for each tool call that streamed no argument text (Anthropic sends ``input: {}`` and an
        empty ``input_json_delta`` for a call without arguments): an app parses the arguments it
        accumulated as JSON, and ``""`` is not JSON. The whole answer says ``"{}"`` too."""
        bare, self._bare_tools = self._bare_tools, []
        return [self._chunk({"tool_calls": [{"index": i, "function": {"arguments": "{}"}}]}) for i in bare]

    def _annotations(self) -> list[SSEEvent]:
        """The chunk of every citation held (none without): ``{"annotations": [url_citation...]}``."""
        if not self._cited:
            return []
        cited, self._cited = self._cited, []
        return [self._chunk({"annotations": citations.annotations_of(cited)})]

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._open() + self._empty_arguments() + self._annotations() if self._started else []
        self._closed = True
        if self._include_usage and self._started:
            body = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": response.usage_to(self._usage),
            }
            out.append(json_event(body))
        out.append(SSEEvent(b"[DONE]"))
        return out


def _logprobs_of(delta: Text) -> dict[str, Any] | None:
    """A text chunk's ``logprobs``: its tokens' when the delta is a ``ScoredText``, else null."""
    return choice_logprobs(delta.logprobs) if type(delta) is ScoredText else None
