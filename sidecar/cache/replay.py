"""Serving an ``Entry`` to a caller of any dialect: as a whole response, or as a stream chunked like a live one.

- ``replay_deltas(entry)``: the common deltas of the answer: ``Start``, ``UsageSeen`` (up front, so an
  Anthropic ``message_start`` carries the input tokens, as a live Anthropic or Gemini stream does), then
  each piece's fragments, the citations (``Cited``, after the text, where a live stream reports them:
  the encoders place them in their dialect's chunk), ``Finish`` and ``End``. A piece from a stream is
  cut where the original fragments were; a piece from a whole answer at word boundaries, each word with
  the spaces before it (about a token), words longer than ``LONG_WORD`` cut every ``LONG_WORD``
  characters (URLs, code, compact JSON).
- ``replay_stream(entry, dialect, ...)``: those deltas encoded by the dialect's own stream encoder
  (``translate.new_stream_encoder``), shaped by its ``replayed`` where it has one (an Anthropic
  ``ping`` after the first block starts, its ``message_start`` counting the first output token; a
  Gemini finish on the last text fragment), with the fields of the live answer the common form does not
  carry when it is the dialect that answered (``extras.with_stream_extras``): the events an SDK reads
  from the dialect's provider, in the same order.
- ``replay_body(entry, dialect, ...)``: the whole response by the dialect's builder, with the fields of
  the live answer the common form does not carry when it is the dialect that answered (``extras``).
- ``template(entry, dialect, form)`` / ``fill_body(template, dialect)``: the whole response
  (``form`` "body", ``body_template``) or the whole stream ("stream", "stream_usage": with OpenAI's
  usage chunk; each also "_unpadded": without the random padding, OpenAI's ``obfuscation``, that an
  OpenAI answer's stream has, ``padding.padded``) encoded once, with marks where the response id (and
  OpenAI's ``created``, and the padding's characters) go, filled per hit: a whole body's template is cut at
  its marks (``Cut``: one join of its pieces with the id and the time, no scan of its bytes), a padded stream
  one join of its segments with the id, the time and fresh characters (``padding.Padded.fill``, so no two
  hits share their padding), an OpenAI stream without padding one join too (``padding.cut_stream``), a
  stream naming its id once (Anthropic's) cut at it as a whole body is, any other (Gemini's, whose every
  fragment names it) by two byte replacements: the memory store keeps the templates
  of its hits next to the entry (``store.Kept``) and Redis keeps the whole body's with the entry
  (``entry.frame``; cut at its marks once per pod, ``decoded.DecodedValues``), so a repeated hit neither
  builds nor encodes its answer again.

Each replay has a fresh response id (and ``created`` time): a cached answer is a new answer to a new
request.
"""

from __future__ import annotations

import re
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator
from random import getrandbits
from typing import Any, Literal

import orjson

from ..dialects import Dialect
from ..dialects.registry import DIALECTS, wire
from ..sse import SSEEvent
from ..translate import build_chat_response, new_stream_encoder
from ..translate.deltas import (
    Cited,
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
from ..translate.stream import Replayer
from .entry import Entry, ReasoningPiece, TextPiece, ToolPiece
from .extras import padding_of, with_extras, with_stream_extras, with_top_extras
from .padding import Cut, Rendered, cut_stream, padded

LONG_WORD = 12
"""A run of non-space characters longer than this is cut into pieces of this length."""

_WORDS = re.compile(rf"\s*\S{{1,{LONG_WORD}}}|\s+")


def word_pieces(text: str) -> list[str]:
    """``text`` cut at word boundaries (each word keeps the spaces before it); joins back to ``text``."""
    return _WORDS.findall(text)


def _fragments(text: str, cuts: tuple[int, ...] | None) -> Iterator[str]:
    if cuts is None:
        yield from word_pieces(text)
        return
    start = 0
    for n in cuts:
        yield text[start : start + n]
        start += n


def replay_deltas(entry: Entry) -> list[Delta]:
    """The answer as the common deltas a live stream of it would give."""
    out: list[Delta] = [Start(None)]
    if entry.usage is not None:
        out.append(UsageSeen(entry.usage))
    tools = 0
    for piece in entry.pieces:
        if isinstance(piece, TextPiece):
            out.extend(Text(f) for f in _fragments(piece.text, piece.cuts))
        elif isinstance(piece, ToolPiece):
            out.append(ToolStart(tools, piece.id, piece.name))
            if piece.arguments:
                out.extend(ToolArgs(tools, f) for f in _fragments(piece.arguments, piece.cuts))
            else:  # a call without arguments (Anthropic may stream none): an empty object, as OpenAI sends
                out.append(ToolArgs(tools, "{}"))
            tools += 1
        else:
            out.extend(_reasoning(piece))
    if entry.citations:
        out.append(Cited(entry.citations))
    if entry.finish_reason is not None:
        out.append(Finish(entry.finish_reason, entry.finish_reason.value, entry.stop_sequence))
    out.append(End())
    return out


def _reasoning(piece: ReasoningPiece) -> list[Delta]:
    out: list[Delta] = [Reasoning(f) for f in _fragments(piece.text, piece.cuts)]
    if piece.signature is not None:
        standalone = piece.redacted or not piece.text
        out.append(ReasoningSignature(piece.signature, piece.origin, piece.redacted, standalone))
    return out


def replay_stream(
    entry: Entry,
    dialect: Dialect,
    *,
    model: str,
    include_usage: bool,
    response_id: str | None = None,
    top_level: bool = True,
) -> list[SSEEvent]:
    """The answer as the stream events a ``dialect`` caller gets live (``include_usage``: OpenAI's
    ``stream_options.include_usage``). ``model`` is the name reported; ``response_id``: the id the
    events carry (None: a fresh one); ``top_level`` False: without the top-level extras
    (``extras.with_top_extras`` adds them to the encoded stream, in one pass)."""
    encoder = new_stream_encoder(dialect, model, include_usage)
    deltas = replay_deltas(entry)
    if response_id is not None:
        deltas[0] = Start(response_id)
    out: list[SSEEvent] = []
    for delta in deltas:
        out += encoder.feed(delta)
    out += encoder.close()
    replayed: Replayer | None = getattr(encoder, "replayed", None)  # the provider's own event shape
    return with_stream_extras(out if replayed is None else replayed(out), entry.extras, dialect, top_level=top_level)


def replay_body(entry: Entry, dialect: Dialect, *, model: str, response_id: str | None = None) -> dict[str, Any]:
    """The answer as a whole ``dialect`` response body; ``model`` is the name reported; ``response_id``:
    the id it carries (None: a fresh one)."""
    response = entry.response()
    response["id"] = response_id
    body = build_chat_response(response, dialect, model)
    if dialect is Dialect.OPENAI:
        _arguments_as_written(body, entry)
    return with_extras(body, entry.extras, dialect)


def _arguments_as_written(body: dict[str, Any], entry: Entry) -> None:
    """An OpenAI body's tool calls with the arguments text the entry keeps (as the model wrote it: its
    spacing, escapes and numbers; the builder writes the parsed object again, compact), in order."""
    written = [p.arguments for p in entry.pieces if isinstance(p, ToolPiece)]
    for call, text in zip(body["choices"][0]["message"].get("tool_calls") or (), written, strict=False):
        if text:
            call["function"]["arguments"] = text


def id_prefix(dialect: Dialect) -> str:
    """What a fresh response id starts with in ``dialect`` (its ``WireDialect.response_id_prefix``)."""
    return wire(dialect).response_id_prefix


def _hex_id(prefix: bytes) -> Callable[[], bytes]:
    return lambda: prefix + getrandbits(96).to_bytes(12, "big").hex().encode()  # 24 hex digits


def _base64_id() -> bytes:
    return urlsafe_b64encode(getrandbits(128).to_bytes(16, "big"))[:22]  # the "==" padding left out


_FRESH_IDS: dict[Dialect, Callable[[], bytes]] = {
    dialect: _base64_id if wire(dialect).response_id_base64 else _hex_id(id_prefix(dialect).encode())
    for dialect in DIALECTS
}

# The marks a template holds where each hit's own values go. Fixed, so that a template stored in Redis by
# one sidecar is filled by another; replaced only where they stand as a JSON value (after ``:"`` and
# before ``"``, or after ``"created":``), which text inside a JSON string cannot imitate (its quotes are
# escaped), so no answer's content is touched.
_ID_MARK = "sidecar-cached-answer-7f3c9a41e2d8b605"
_CREATED_MARK = 4_242_424_242_424_242
_ID_MARK_BYTES = b':"%s"' % _ID_MARK.encode()
_CREATED_MARK_BYTES = b'"created":%d' % _CREATED_MARK

_CREATED = re.compile(rb'"created":\d+')  # an OpenAI chunk's time (never inside a string: quotes are escaped)

Form = Literal["body", "stream", "stream_usage", "stream_unpadded", "stream_usage_unpadded"]
"""What a template renders: the whole response, or the whole stream without or with OpenAI's usage chunk,
with the random padding its live stream's events had (OpenAI's ``obfuscation``), or without
(``_unpadded``: the request turned it off)."""


def form_of(stream: bool, include_usage: bool, padded: bool = True) -> Form:
    """The template a request is answered from (``include_usage``: see ``replay_stream``; ``padded``
    False: OpenAI's ``stream_options.include_obfuscation: false``)."""
    if not stream:
        return "body"
    if padded:
        return "stream_usage" if include_usage else "stream"
    return "stream_usage_unpadded" if include_usage else "stream_unpadded"


def template(entry: Entry, dialect: Dialect, form: Form) -> Rendered:
    """``entry`` rendered once as ``form`` for a ``dialect`` caller, the entry's model reported, with the
    marks ``fill_body`` replaces (a whole body, or a stream naming its id once: cut at them, ``cut_body``; an
    OpenAI stream: a ``padding.Padded``, whose characters each hit draws, or none: ``padding.cut_stream``)."""
    if form == "body":
        return cut_body(body_template(entry, dialect))
    include_usage = form.startswith("stream_usage")
    events = replay_stream(
        entry, dialect, model=entry.model, include_usage=include_usage, response_id=_ID_MARK, top_level=False
    )
    stream = with_top_extras(b"".join(event.encode() for event in events), entry.extras, dialect)
    if dialect is not Dialect.OPENAI:  # only OpenAI's chunks carry a time: no scan of the others' bytes
        return cut_body(stream)  # an Anthropic stream names its id once (``message_start``): one join a hit
    stream = _CREATED.sub(_CREATED_MARK_BYTES, stream)
    padding = padding_of(entry.extras, dialect) if not form.endswith("_unpadded") else None
    marks = (_ID_MARK_BYTES, _CREATED_MARK_BYTES)
    return cut_stream(stream, marks) if padding is None else padded(stream, padding, _filled_growth(dialect), marks)


def _filled_growth(dialect: Dialect) -> int:
    """How many bytes an OpenAI chunk's JSON grows by when ``fill_body`` replaces its marks (its one id and
    one ``created``): a padded chunk is a multiple of the padding's step once filled, as OpenAI's."""
    fresh_id = len(_FRESH_IDS[dialect]()) - len(_ID_MARK)
    return fresh_id + len(str(int(time.time()))) - len(str(_CREATED_MARK))


def body_template(entry: Entry, dialect: Dialect) -> bytes:
    """``replay_body``'s response encoded once, the entry's model reported, marks for ``fill_body``."""
    body = replay_body(entry, dialect, model=entry.model, response_id=_ID_MARK)
    if "created" in body:  # OpenAI: when the completion was made
        body["created"] = _CREATED_MARK
    return orjson.dumps(body)


def cut_body(body: bytes) -> bytes | Cut:
    """A whole body's template (``body_template``) cut at its marks, as a ``Cut``: the pieces before and after
    its id, or, with OpenAI's ``created`` after the id, the three around both; the bytes as they are when the
    marks are not so (each once, in that order: then ``fill_body`` replaces them)."""
    before, mark, after = body.partition(_ID_MARK_BYTES)
    if not mark or _ID_MARK_BYTES in after or _CREATED_MARK_BYTES in before:
        return body
    between, created, rest = after.partition(_CREATED_MARK_BYTES)
    if not created:
        return (before, after)
    if _CREATED_MARK_BYTES in rest:
        return body
    return (before, between, rest)


def fill_body(template: Rendered, dialect: Dialect, marks: tuple[bytes, bytes] | None = None) -> bytes:
    """A template (whole body or stream) with a fresh response id (and the current ``created``, and a
    padded stream's characters drawn afresh: ``padding.Padded.fill``): one hit's answer. The id is the
    shape the provider's own has (the dialect's prefix and 24 hex digits, as ``translate.parts.new_id``
    makes; Gemini: 22 URL-safe base64 characters), drawn from the process's PRNG: an id, not a secret, so
    no ``getrandom`` system call per hit. ``marks``: the hit's id and time made before (``fresh_marks``)."""
    if marks is None:
        fresh = b':"' + _FRESH_IDS[dialect]() + b'"'
        created = b""  # read when the template has a mark for it
    else:
        fresh, created = marks
    if isinstance(template, tuple):  # a whole body cut at its marks (``cut_body``): one join, no scan of its bytes
        if len(template) == 2:
            return fresh.join(template)
        before, between, rest = template
        return b"".join((before, fresh, between, created or b'"created":' + str(int(time.time())).encode(), rest))
    created = created or b'"created":' + str(int(time.time())).encode()
    if not isinstance(template, bytes):
        if template.marked:  # cut at the marks too: filled in the same join
            return template.fill(fresh, created)
        template = template.fill(fresh, created)
    return template.replace(_ID_MARK_BYTES, fresh).replace(_CREATED_MARK_BYTES, created)


def fresh_marks(dialect: Dialect) -> tuple[bytes, bytes]:
    """One hit's own values for a template's marks, made ahead of its template (``fill_body``'s ``marks``): a
    fresh response id of ``dialect`` as the JSON value it replaces, and the ``"created"`` member of now."""
    return b':"' + _FRESH_IDS[dialect]() + b'"', b'"created":' + str(int(time.time())).encode()
