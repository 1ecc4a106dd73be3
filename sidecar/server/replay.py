"""A whole answer, held as a response body of the caller's dialect (or in the common form), sent as
that dialect's stream.

An ensemble decides on whole answers (its members are asked without streaming); a streaming caller then
gets the chosen one as a stream (``stream_replay``: its bytes, and the deltas they spell for the stages'
taps): the body is read into the common form (``translate.parse_chat_response``), spelled out as the
deltas a live stream of it would give (text cut at word boundaries, as the cache replays answers:
``cache.replay.word_pieces``) and encoded by the dialect's own stream encoder (``encoded_stream``;
``response_stream_bytes`` from the common form, which the static last resort uses directly).
Reasoning parts are not replayed. ``asks_usage``: whether an OpenAI caller asked for the usage chunk;
``asks_padding``: whether it left its stream's random padding on (a cache hit's: ``cache.replay.form_of``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..cache.replay import word_pieces
from ..dialects import Dialect
from ..translate import new_stream_encoder, parse_chat_response
from ..translate.common import ChatResponse
from ..translate.deltas import Cited, Delta, End, Finish, Start, Text, ToolArgs, ToolStart, UsageSeen


def response_deltas(response: ChatResponse) -> list[Delta]:
    """The first choice of ``response`` as stream deltas: start, usage, text and tool calls, citations,
    finish, end."""
    out: list[Delta] = [Start(response["id"])]
    if response["usage"] is not None:
        out.append(UsageSeen(response["usage"]))
    if response["choices"]:
        choice = response["choices"][0]
        tools = 0
        for part in choice["parts"]:
            if part["type"] == "text":
                out.extend(Text(piece) for piece in word_pieces(part["text"]))
            elif part["type"] == "tool_call":
                out.append(ToolStart(tools, part["id"], part["name"]))
                out.append(ToolArgs(tools, orjson.dumps(part["arguments"]).decode()))
                tools += 1
        if choice.get("citations"):
            out.append(Cited(tuple(choice["citations"])))
        reason = choice["finish_reason"]
        if reason is not None:
            out.append(Finish(reason, reason.value, choice["stop_sequence"]))
    out.append(End())
    return out


def asks_usage(body: Mapping[str, object]) -> bool:
    """Whether a streaming OpenAI request asked for the usage chunk (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def asks_padding(body: Mapping[str, object]) -> bool:
    """Whether a streaming OpenAI request leaves its events' random padding on (OpenAI's default: only
    ``stream_options.include_obfuscation: false`` turns it off)."""
    options = body.get("stream_options")
    return not isinstance(options, dict) or options.get("include_obfuscation") is not False


def stream_replay(
    body: dict[str, Any], dialect: Dialect, *, model: str, include_usage: bool
) -> tuple[bytes, list[Delta]]:
    """A ``dialect`` chat response body as the events of that dialect's stream, and the deltas they spell
    (``TranslationError`` when the body is not a chat answer)."""
    deltas = response_deltas(parse_chat_response(body, dialect))
    return encoded_stream(deltas, dialect, model=model, include_usage=include_usage), deltas


def response_stream_bytes(response: ChatResponse, dialect: Dialect, *, model: str, include_usage: bool) -> bytes:
    """A common-form answer as the events of a ``dialect`` caller's stream (``include_usage``: see
    ``asks_usage``; a ``None`` id gets a fresh one of the dialect's shape)."""
    return encoded_stream(response_deltas(response), dialect, model=model, include_usage=include_usage)


def encoded_stream(deltas: list[Delta], dialect: Dialect, *, model: str, include_usage: bool) -> bytes:
    """``deltas`` encoded by the ``dialect`` caller's stream encoder, closed."""
    encoder = new_stream_encoder(dialect, model, include_usage)
    events = []
    for delta in deltas:
        events += encoder.feed(delta)
    events += encoder.close()
    return b"".join(event.encode() for event in events)
