"""Serving an ``Entry`` to a caller of any dialect: as a whole response, or as a stream chunked like a live one.

- ``replay_deltas(entry)``: the common deltas of the answer: ``Start``, ``UsageSeen`` (up front, so an
  Anthropic ``message_start`` carries the input tokens, as a live Anthropic or Gemini stream does),
  then each piece's fragments, ``Finish`` and ``End``. A piece from a stream is cut where the original
  fragments were; a piece from a whole answer at word boundaries, each word with the spaces before it
  (about a token), words longer than ``LONG_WORD`` cut every ``LONG_WORD`` characters (URLs, code,
  compact JSON).
- ``replay_stream(entry, dialect, ...)``: those deltas encoded by the dialect's own stream encoder
  (``translate.new_stream_encoder``): the events an SDK reads from a live stream.
- ``replay_body(entry, dialect, ...)``: the whole response by the dialect's builder.
- ``body_template(entry, dialect)`` / ``fill_body(template, dialect)``: that whole response encoded
  once, with marks where the response id (and OpenAI's ``created``) go, and filled per hit by two byte
  replacements: the memory store keeps a template per caller dialect next to the entry, so a repeated
  non-streamed hit neither builds nor encodes the body again (``store.Kept``).

Each replay has a fresh response id (and ``created`` time): a cached answer is a new answer to a new
request.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.registry import wire
from ..sse import SSEEvent
from ..translate import build_chat_response, new_stream_encoder
from ..translate.common import (
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
    new_id,
)
from .entry import Entry, ReasoningPiece, TextPiece, ToolPiece

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


def replay_stream(entry: Entry, dialect: Dialect, *, model: str, include_usage: bool) -> list[SSEEvent]:
    """The answer as the stream events a ``dialect`` caller gets live (``include_usage``: OpenAI's
    ``stream_options.include_usage``). ``model`` is the name reported."""
    encoder = new_stream_encoder(dialect, model, include_usage)
    out: list[SSEEvent] = []
    for delta in replay_deltas(entry):
        out += encoder.feed(delta)
    out += encoder.close()
    return out


def replay_body(entry: Entry, dialect: Dialect, *, model: str, response_id: str | None = None) -> dict[str, Any]:
    """The answer as a whole ``dialect`` response body; ``model`` is the name reported; ``response_id``:
    the id it carries (None: a fresh one)."""
    response = entry.response()
    response["id"] = response_id
    return build_chat_response(response, dialect, model)


def id_prefix(dialect: Dialect) -> str:
    """What a fresh response id starts with in ``dialect`` (its ``WireDialect.response_id_prefix``)."""
    return wire(dialect).response_id_prefix


# The marks a template holds where each hit's own values go: random per process, so no answer can hold
# them; ``created`` is only ever an integer after ``"created":`` (inside JSON strings quotes are escaped).
_ID_MARK = "cached" + secrets.token_hex(16)
_CREATED_MARK = secrets.randbelow(9 * 10**15) + 10**15
_ID_MARK_BYTES = _ID_MARK.encode()
_CREATED_MARK_BYTES = b'"created":%d' % _CREATED_MARK


def body_template(entry: Entry, dialect: Dialect) -> bytes:
    """``replay_body``'s response encoded once, the entry's model reported, marks for ``fill_body``."""
    body = replay_body(entry, dialect, model=entry.model, response_id=_ID_MARK)
    if "created" in body:  # OpenAI: when the completion was made
        body["created"] = _CREATED_MARK
    return orjson.dumps(body)


def fill_body(template: bytes, dialect: Dialect) -> bytes:
    """The template with a fresh response id (and the current ``created``): one hit's body."""
    body = template.replace(_ID_MARK_BYTES, new_id(id_prefix(dialect)).encode())
    return body.replace(_CREATED_MARK_BYTES, b'"created":%d' % int(time.time()))
