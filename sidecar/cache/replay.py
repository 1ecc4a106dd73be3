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

Each replay has a fresh response id: a cached answer is a new answer to a new request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..dialects import Dialect
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


def replay_body(entry: Entry, dialect: Dialect, *, model: str) -> dict[str, Any]:
    """The answer as a whole ``dialect`` response body; ``model`` is the name reported."""
    return build_chat_response(entry.response(), dialect, model)
