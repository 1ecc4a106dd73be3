"""The OpenAI Responses API stream encoder: common deltas -> a Responses caller's events, for a
Responses request a target of another dialect streams (``translate.stream_out`` describes every encoder).

Each event is ``event: <type>`` with a JSON ``data`` holding its ``type`` and ``sequence_number``
(0, 1, ... in the order sent), as OpenAI streams them::

    response.created, response.in_progress                  (with the answer's first delta)
    per output item, one after the other (an item is closed when the next one opens, or at the end):
      reasoning      response.output_item.added, response.reasoning_summary_part.added,
                     response.reasoning_summary_text.delta*, response.reasoning_summary_text.done,
                     response.reasoning_summary_part.done, response.output_item.done
      message        response.output_item.added, response.content_part.added, response.output_text.delta*,
                     response.output_text.annotation.added* (the citations, held to the end of the text),
                     response.output_text.done, response.content_part.done, response.output_item.done
      function_call  response.output_item.added, response.function_call_arguments.delta*,
                     response.function_call_arguments.done, response.output_item.done
    response.completed, or response.incomplete (a length stop, a filter: ``responses_answer``)

The last event's ``response`` holds every item and the usage, as a whole answer's (``responses_answer``),
which openai-python's ``responses.stream(...).get_final_response()`` returns. An upstream ``Failure``
ends the stream with the ``data: {"error": ...}`` event the SDK raises on (the Responses failure path:
docs/translation.md). No ``[DONE]``: the Responses API ends with its last event. A plain text delta
while a message item is open is written from bytes made once per item (``text_wire``, the relay's direct
path, and ``feed``): the bytes the general path gives (tests/translate/test_stream.py).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import Citation, FinishReason, TokenLogprob, Usage
from ...translate.deltas import (
    Cited,
    Delta,
    End,
    Failure,
    Finish,
    Reasoning,
    ScoredText,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from ...translate.parts import new_id
from ...translate.stream_out import frame, framed, wire_prefix
from . import response as chat_response
from .logprobs import choice_logprobs
from .responses_answer import (
    FINISH_INCOMPLETE,
    call_item,
    echoed_settings,
    message_item,
    reasoning_item,
    response_object,
    text_part,
)

_TEXT_DELTA = "response.output_text.delta"
_TEXT_PREFIX = wire_prefix(_TEXT_DELTA)
_TEXT_MIDDLE = b',"logprobs":[],"sequence_number":'


class _Item:
    """The output item being streamed: its kind (``reasoning``, ``message``, ``function_call``), index, id,
    and what it has said so far."""

    __slots__ = ("call_id", "ident", "index", "kind", "name", "said", "tokens")

    def __init__(self, kind: str, index: int, ident: str, call_id: str = "", name: str = "") -> None:
        self.kind, self.index, self.ident, self.call_id, self.name = kind, index, ident, call_id, name
        self.said: list[str] = []
        self.tokens: list[TokenLogprob] = []


class ResponsesEncoder:
    failure: str | None = None  # never ends a stream with an error of its own (``translate.stream``)

    __slots__ = (
        "_calls",
        "_cited",
        "_closed",
        "_created",
        "_finish",
        "_id",
        "_item",
        "_model",
        "_number",
        "_output",
        "_said",
        "_settings",
        "_started",
        "_text_head",
        "_usage",
    )

    def __init__(self, model: str, request: dict[str, Any]) -> None:
        self._model = model
        self._settings = echoed_settings(request)
        self._id = ""
        self._created = int(time.time())
        self._number = 0  # the next event's sequence_number
        self._started = self._closed = False
        self._item: _Item | None = None  # the item open
        self._calls: dict[int, _Item] = {}  # the function calls by their stream index
        self._output: list[dict[str, Any]] = []  # the items done
        self._cited: list[Citation] = []
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._text_head = b""  # a text delta's data up to its text, while a message item is open (not closed)
        self._said: list[str] = []  # the open message's texts

    def _event(self, kind: str, **fields: Any) -> SSEEvent:
        body = {"type": kind, **fields, "sequence_number": self._number}
        self._number += 1
        return frame(orjson.dumps(body), kind)

    def _response(self, done: bool) -> dict[str, Any]:
        return response_object(
            self._id, self._model, self._created, self._settings, self._output, self._finish, self._usage, done=done
        )

    def _start(self, ident: str | None) -> list[SSEEvent]:
        if self._started:
            return []
        self._started = True
        self._id = ident if ident and ident.startswith("resp_") else "resp_" + (ident or new_id(""))
        pending = self._response(False)
        return [
            self._event("response.created", response=pending),
            self._event("response.in_progress", response=pending),
        ]

    def text_wire(self, text: str) -> bytes | None:
        """A text delta's wire bytes (``feed(Text(text))``'s, rendered) while a message item is open, the
        text noted and the event numbered; None otherwise."""
        head = self._text_head
        if not head:
            return None
        self._said.append(text)
        number = self._number
        self._number = number + 1
        return b"".join((_TEXT_PREFIX, head, orjson.dumps(text), _TEXT_MIDDLE, b"%d}\n\n" % number))

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if type(delta) is Text and self._text_head:  # the usual delta, first: ``text_wire``'s bytes
            self._said.append(delta.text)
            number = self._number
            self._number = number + 1
            data = b"".join((self._text_head, orjson.dumps(delta.text), _TEXT_MIDDLE, b"%d}" % number))
            return [framed(data, _TEXT_DELTA, _TEXT_PREFIX)]
        if self._closed:
            return []
        if isinstance(delta, Start):
            return self._start(delta.id)
        if isinstance(delta, (UsageSeen, Finish, Cited)):
            self._note(delta)
            return []
        if isinstance(delta, End):
            return self.close()
        if isinstance(delta, Failure):
            self._closed = True
            self._text_head = b""
            return [chat_response.error_event(delta.status, delta.message, condition=delta.condition)]
        out = self._start(None)
        if isinstance(delta, Text):
            out += self._open("message")
            out += self._text(delta)
        elif isinstance(delta, Reasoning):
            out += self._open("reasoning")
            out += self._reasoning(delta.text)
        elif isinstance(delta, ToolStart):
            out += self._open("function_call", delta)
        elif isinstance(delta, ToolArgs):
            out += self._arguments(delta)
        return out  # a ReasoningSignature: no place for another provider's signature in the Responses API

    def _note(self, delta: UsageSeen | Finish | Cited) -> None:
        """What the last event says and no event of its own carries: the usage, the finish, citations."""
        if isinstance(delta, UsageSeen):
            self._usage = delta.usage
        elif isinstance(delta, Finish):
            self._finish = delta.reason
        else:
            self._cited += delta.citations

    def _open(self, kind: str, call: ToolStart | None = None) -> list[SSEEvent]:
        """The item of ``kind`` open (the one open closed first unless it is of that kind: a new call is
        always a new item)."""
        item = self._item
        if item is not None and item.kind == kind and call is None:
            return []
        out = self._close_item()
        index = len(self._output)
        if call is not None:
            item = _Item(kind, index, new_id("fc_"), call.id, call.name)
            self._calls[call.index] = item
            added = call_item(item.ident, call.id, call.name, "", "in_progress")
        elif kind == "message":
            item = _Item(kind, index, new_id("msg_"))
            added = message_item(item.ident, text_part("", None, None), "in_progress")
            added["content"] = []
        else:
            item = _Item(kind, index, new_id("rs_"))
            added = {**reasoning_item(item.ident, ""), "summary": []}
        self._item = item
        out.append(self._event("response.output_item.added", output_index=index, item=added))
        ref = {"item_id": item.ident, "output_index": index}
        if kind == "message":
            part = text_part("", None, None)
            out.append(self._event("response.content_part.added", **ref, content_index=0, part=part))
            self._text_head = (
                b'{"type":"response.output_text.delta","item_id":'
                + orjson.dumps(item.ident)
                + b',"output_index":'
                + str(index).encode()
                + b',"content_index":0,"delta":'
            )
            self._said = item.said
        elif kind == "reasoning":
            part = {"type": "summary_text", "text": ""}
            out.append(self._event("response.reasoning_summary_part.added", **ref, summary_index=0, part=part))
        return out

    def _text(self, delta: Text) -> list[SSEEvent]:
        item = self._item
        assert item is not None
        item.said.append(delta.text)
        scored = choice_logprobs(delta.logprobs) if type(delta) is ScoredText else None
        if scored:
            item.tokens += delta.logprobs  # type: ignore[attr-defined]
        logprobs = scored["content"] if scored else []
        ref = {"item_id": item.ident, "output_index": item.index, "content_index": 0}
        return [self._event(_TEXT_DELTA, **ref, delta=delta.text, logprobs=logprobs)]

    def _reasoning(self, text: str) -> list[SSEEvent]:
        item = self._item
        assert item is not None
        item.said.append(text)
        ref = {"item_id": item.ident, "output_index": item.index, "summary_index": 0}
        return [self._event("response.reasoning_summary_text.delta", **ref, delta=text)]

    def _arguments(self, delta: ToolArgs) -> list[SSEEvent]:
        item = self._calls.get(delta.index)
        if item is None or not delta.fragment:
            return []
        item.said.append(delta.fragment)
        ref = {"item_id": item.ident, "output_index": item.index}
        return [self._event("response.function_call_arguments.delta", **ref, delta=delta.fragment)]

    def _close_item(self) -> list[SSEEvent]:
        """The open item's closing events, and the item among the done ones."""
        item, self._item = self._item, None
        self._text_head = b""
        if item is None:
            return []
        said = "".join(item.said)
        ref = {"item_id": item.ident, "output_index": item.index}
        out: list[SSEEvent] = []
        if item.kind == "message":
            part = text_part(said, self._cited, item.tokens)
            for number, annotation in enumerate(part["annotations"]):
                out.append(
                    self._event(
                        "response.output_text.annotation.added",
                        **ref,
                        content_index=0,
                        annotation_index=number,
                        annotation=annotation,
                    )
                )
            self._cited = []
            out.append(
                self._event("response.output_text.done", **ref, content_index=0, text=said, logprobs=part["logprobs"])
            )
            out.append(self._event("response.content_part.done", **ref, content_index=0, part=part))
            status = "incomplete" if self._finish in FINISH_INCOMPLETE else "completed"
            done = message_item(item.ident, part, status)
        elif item.kind == "reasoning":
            part = {"type": "summary_text", "text": said}
            out.append(self._event("response.reasoning_summary_text.done", **ref, summary_index=0, text=said))
            out.append(self._event("response.reasoning_summary_part.done", **ref, summary_index=0, part=part))
            done = reasoning_item(item.ident, said)
        else:
            said = said or "{}"  # a call that streamed no argument text: ``{}``, as the whole answer says
            out.append(self._event("response.function_call_arguments.done", **ref, name=item.name, arguments=said))
            done = call_item(item.ident, item.call_id, item.name, said)
        self._output.append(done)
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return out

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        out = self._start(None)
        if not self._output and self._item is None:  # an answer of nothing: an empty message, as OpenAI's
            out += self._open("message")
        out += self._close_item()
        self._closed = True
        kind = "response.incomplete" if self._finish in FINISH_INCOMPLETE else "response.completed"
        out.append(self._event(kind, response=self._response(True)))
        return out
