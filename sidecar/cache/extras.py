"""The fields of an answer the common form does not carry, kept with its entry so that a hit in the
dialect that answered gives them back (issue 21: an SDK cannot tell a hit from a live answer).

Which fields they are is the dialect's (``WireDialect.answer_extras``: OpenAI's ``system_fingerprint``,
``service_tier`` and usage details; Anthropic's ``usage.cache_creation`` and ``usage.service_tier``;
Gemini's token details by modality...), named by their paths in a whole answer. Read from the
upstream's own answer when the caller speaks the upstream's dialect (an entry only ever answers its
key's dialect):

- ``extras_of(body, dialect)``: from a whole body;
- ``model_of(body)``: the model the answer names (the upstream's own name, kept as the entry's model);
- ``extras_of_stream(objects, dialect)``: from a stream's events as its decoder read them (the ``wire``
  of its ``Start`` and last ``UsageSeen``: OpenAI's first and usage chunks, Anthropic's ``message_start``
  message and ``message_delta``, Gemini's first and last fragments with usage), the later one's value
  where both have a field: the same paths, so either answer's extras serve either kind of hit.

Given back by ``with_extras(body, extras, dialect)`` in a hit's body built by that dialect's builder,
and by ``with_stream_extras(events, extras, dialect)`` in a replayed stream, where the live stream has
them: OpenAI's top-level fields on every chunk and its usage details on the usage chunk, Anthropic's
usage fields on ``message_start``'s message, Gemini's on every fragment with ``usageMetadata``. A
caller of another dialect gets what the translated live answer has: the builder's or encoder's alone.

Stored as JSON text, ``[dialect, [[path, value]...]]`` (``entry``'s ``"x"``), at most ``MAX_CHARS``
characters (a provider that sends more: the entry keeps none, and its hits go without them). Entries
stored without them (an older sidecar's) are served without them; text that is not what ``extras_of``
wrote is ignored (never a failed hit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.registry import wire
from ..sse import SSEEvent
from ..translate.stream_out import framed, json_event, wire_prefix

MAX_CHARS = 2048
"""The longest extras kept (a few hundred characters in every provider's answer seen)."""

_DATA = wire_prefix()


def model_of(body: dict[str, Any] | None) -> str | None:
    """The model an answer in its provider's own dialect names (OpenAI's and Anthropic's ``model``,
    Gemini's ``modelVersion``: the upstream's dated name, ``gpt-4o-mini-2024-07-18`` for ``gpt-4o-mini``),
    from a whole body or a stream's first event (Anthropic's ``message_start`` message); None if none."""
    if body is None:
        return None
    model = body.get("model") or body.get("modelVersion")
    return model if isinstance(model, str) else None


def extras_of(body: dict[str, Any], dialect: Dialect) -> str | None:
    """``body``'s fields outside the common form (``dialect``'s ``answer_extras``) as the JSON text an
    entry keeps; None when it has none, or more than ``MAX_CHARS``."""
    return extras_of_stream((body,), dialect)


def extras_of_stream(objects: Iterable[dict[str, Any] | None], dialect: Dialect) -> str | None:
    """``extras_of`` over several objects of one answer (a stream's events, in order; None: skipped), a
    later one's value winning."""
    found: dict[tuple[str, ...], Any] = {}
    paths = wire(dialect).answer_extras
    for body in objects:
        for path in paths if body is not None else ():
            value: Any = body
            for name in path:
                value = value.get(name) if isinstance(value, dict) else None
            if value is not None:
                found[path] = value
    if not found:
        return None
    try:
        text = orjson.dumps([str(dialect), [[path, value] for path, value in found.items()]]).decode()
    except TypeError:  # a value orjson cannot write (an integer beyond 64 bits): none kept
        return None
    return text if len(text) <= MAX_CHARS else None


def _found(extras: str | None, dialect: Dialect) -> list[tuple[list[str], str, Any]]:
    """The stored ``extras`` as (parents, name, value), when they are ``dialect``'s; none else."""
    if extras is None:
        return []
    try:
        origin, found = orjson.loads(extras)
        if origin != str(dialect):
            return []
        return [(path[:-1], path[-1], value) for path, value in found if path and type(path[-1]) is str]
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        return []  # not what extras_of wrote: the builder's answer, as a hit had before extras were kept


def _put(place: Any, parents: list[str], name: str, value: Any) -> None:
    for parent in parents:
        place = place.get(parent) if isinstance(place, dict) else None  # a path the builder did not make: skipped
    if isinstance(place, dict):
        place[name] = value


def with_extras(body: dict[str, Any], extras: str | None, dialect: Dialect) -> dict[str, Any]:
    """``body`` (a ``dialect`` answer built from the common form) with the extras its live answer had, when
    they are that dialect's; each where the live answer had it, replacing what the builder wrote there."""
    for parents, name, value in _found(extras, dialect):
        _put(body, parents, name, value)
    return body


def with_stream_extras(
    events: list[SSEEvent], extras: str | None, dialect: Dialect, *, top_level: bool = True
) -> list[SSEEvent]:
    """``events`` (a ``dialect`` stream made by its encoder) with the extras its live stream had, when
    they are that dialect's: each event that carries their place gets them (module docstring); a named
    event (Anthropic's) only when it is ``message_start``, in its ``message``. The nested fields' places
    are at a replayed stream's ends (Anthropic's ``message_start`` first; OpenAI's usage chunk and
    Gemini's fragment with ``usageMetadata`` last, before ``[DONE]``): only the first and last two events
    are looked at for them, and parsed and written again when they hold the parent (``"usage"``...). The
    top-level fields (OpenAI's fingerprint and tier, which its encoder never writes) go into every unnamed
    event, written in after its opening brace; ``top_level`` False leaves them out, for
    ``with_top_extras`` to add to the stream's bytes in one pass."""
    found = _found(extras, dialect)
    top = _top_level(found) if top_level else b""
    found = [item for item in found if item[0]]
    if not found and not top:
        return events
    out = [_with_top(event, top) for event in events] if top else list(events)
    parents = tuple({b'"%s"' % str(path[0]).encode() for path, _, _ in found})
    for at in {0, 1, len(out) - 2, len(out) - 1} & set(range(len(out))):
        event = out[at]
        data = event.data
        if event.event == "message_start":
            obj = orjson.loads(data)
            out[at] = _with_found(event, obj, found, obj.get("message"))
        elif event.event is None and data[:1] == b"{" and any(parent in data for parent in parents):
            out[at] = _with_found(event, orjson.loads(data), found)
    return out


def _with_top(event: SSEEvent, top: bytes) -> SSEEvent:
    """An unnamed JSON event with the members ``top`` written in after its opening brace; others as they are."""
    data = event.data
    if event.event is not None or data[:1] != b"{":
        return event
    return framed(b"{" + top + (b"," if data[1:2] != b"}" else b"") + data[1:], None, _DATA)


def with_top_extras(stream: bytes, extras: str | None, dialect: Dialect) -> bytes:
    """A whole stream's bytes (``with_stream_extras(..., top_level=False)``'s events, each encoded) with the
    top-level extras written in after the opening brace of each unnamed event's data (OpenAI's chunks):
    one replacement over the bytes. An unnamed event starts the stream or follows a blank line (``data:
    {`` after two line ends: never inside an event, whose JSON holds no line break)."""
    top = _top_level(_found(extras, dialect))
    if not top:
        return stream
    head = b"\n\ndata: {"
    stream = stream.replace(head, head + top + b",")
    return b"data: {" + top + b"," + stream[7:] if stream.startswith(b"data: {") else stream


def _top_level(found: list[tuple[list[str], str, Any]]) -> bytes:
    """The top-level fields among ``found`` as the JSON members they are (``"name":value,...``), or b""."""
    return orjson.dumps({name: value for path, name, value in found if not path})[1:-1]


def _with_found(event: SSEEvent, obj: Any, found: list[tuple[list[str], str, Any]], place: Any = None) -> SSEEvent:
    """``event`` (parsed: ``obj``) written again with ``found`` put in ``place`` (None: ``obj`` itself)."""
    for path, name, value in found:
        _put(obj if place is None else place, path, name, value)
    return json_event(obj, event.event)
