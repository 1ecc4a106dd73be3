"""The fields of an answer the common form does not carry, kept with its entry so that a hit in the
dialect that answered gives them back (issue 21: an SDK cannot tell a hit from a live answer).

Which fields they are is the dialect's (``WireDialect.answer_extras``: OpenAI's ``system_fingerprint``,
``service_tier`` and usage details; Anthropic's ``usage.cache_creation`` and ``usage.service_tier``;
Gemini's token details by modality and its candidate's ``avgLogprobs``...), named by their paths in a
whole answer (an int: a list's item); and, of a stream whose every event carries the usage so far
(``WireDialect.running_usage``: Gemini's), its first event's, under the path ``RUNNING`` (of a whole
answer, the one its live stream would carry: ``WireDialect.usage_so_far``); and whether its stream is
padded (``PADDED``: OpenAI's ``obfuscation``, which a whole OpenAI answer's stream has by default). Read from the
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
usage fields on ``message_start``'s message, Gemini's on its last fragment, and the first fragment's
usage so far on each other one. A caller of another dialect gets what the translated live answer has:
the builder's or encoder's alone.

Stored as JSON text, ``[dialect, [[path, value]...]]`` (``entry``'s ``"x"``), at most ``MAX_CHARS``
characters (a provider that sends more: the entry keeps none, and its hits go without them). Entries
stored without them (an older sidecar's) are served without them; text that is not what ``extras_of``
wrote is ignored (never a failed hit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.registry import wire
from ..sse import SSEEvent
from ..translate.stream_out import framed, json_event, wire_prefix

MAX_CHARS = 2048
"""The longest extras kept (a few hundred characters in every provider's answer seen)."""

RUNNING = "~running"
"""The parent under which the extras keep a stream's first usage so far (``WireDialect.running_usage``):
a name no answer has, so a whole body never gets it."""

PADDED = "~padded"
"""The parent under which the extras note that the answer's stream carries random padding
(``WireDialect.stream_padding``: OpenAI's ``obfuscation``), as ``[PADDED, member]: true``: a stream whose
events had it, and any whole answer of a dialect whose streams have it by default (its streamed hit is
padded as the live stream would be, unless the request turns it off; ``padding``)."""

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
    entry keeps, and the usage so far its live stream's events would carry (``WireDialect.usage_so_far``
    of its ``running_usage``: kept as ``RUNNING``); None when it has none, or more than ``MAX_CHARS``."""
    return extras_of_stream((body,), dialect, whole=True)


def extras_of_stream(objects: Sequence[dict[str, Any] | None], dialect: Dialect, *, whole: bool = False) -> str | None:
    """``extras_of`` over several objects of one answer (a stream's events, in order; None: skipped), a
    later one's value winning; and the usage so far of the first, when the dialect's stream carries it
    in each event (``running_usage``) and a later one is the last's (kept as ``RUNNING``); ``whole``: the
    one object is a whole answer, whose usage so far is derived from its usage (``extras_of``)."""
    found: dict[tuple[str | int, ...], Any] = {}
    dialect_wire = wire(dialect)
    paths = dialect_wire.answer_extras
    for body in objects:
        for path in paths if body is not None else ():
            value: Any = body
            for name in path:
                value = _step(value, name)
            if value is not None:
                found[path] = value
    running = dialect_wire.running_usage
    first = objects[0] if len(objects) > 1 and objects[-1] is not objects[0] else None
    so_far = first.get(running) if first is not None and running is not None else None
    if whole and running is not None and objects[0] is not None:
        so_far = dialect_wire.usage_so_far(objects[0].get(running))
    if isinstance(so_far, dict) and running is not None:
        found[(RUNNING, running)] = so_far
    padding = dialect_wire.stream_padding
    if padding is not None and objects[0] is not None and (whole or type(objects[0].get(padding)) is str):
        found[(PADDED, padding)] = True
    if not found:
        return None
    try:
        text = orjson.dumps([str(dialect), [[path, value] for path, value in found.items()]]).decode()
    except TypeError:  # a value orjson cannot write (an integer beyond 64 bits): none kept
        return None
    return text if len(text) <= MAX_CHARS else None


def _step(value: Any, name: str | int) -> Any:
    """``value``'s member ``name`` (an int: its item), or None when it has none."""
    if isinstance(value, dict):
        return value.get(name)
    if type(name) is int and isinstance(value, list) and 0 <= name < len(value):
        return value[name]
    return None


def _found(extras: str | None, dialect: Dialect) -> list[tuple[list[str | int], str, Any]]:
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


def _put(place: Any, parents: list[str | int], name: str, value: Any) -> None:
    for parent in parents:
        place = _step(place, parent)  # a path the builder did not make (RUNNING's): skipped
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
    Gemini's last fragment, before ``[DONE]``): the first two events are looked at for ``message_start``,
    and the last JSON event of the last two that holds their parent (``"usage":{``...) is parsed and
    written again. The top-level fields (OpenAI's fingerprint and tier, which its encoder never writes)
    go into every unnamed event, written in after its opening brace; ``top_level`` False leaves them out,
    for ``with_top_extras`` to add to the stream's bytes in one pass. The first event's usage so far
    (``RUNNING``: Gemini's) goes into each unnamed event without usage, written in before its closing brace
    (``top_level`` False: left to ``with_top_extras`` too)."""
    found = _found(extras, dialect)
    top = _top_level(found) if top_level else b""
    running = _running(found) if top_level else []
    found = [item for item in found if item[0] and item[0][0] not in (RUNNING, PADDED)]
    if not found and not top and not running:
        return events
    out = [_with_top(event, top) for event in events] if top else list(events)
    for at in range(min(2, len(out))):
        if out[at].event == "message_start":
            obj = orjson.loads(out[at].data)
            out[at] = _with_found(out[at], obj, found, obj.get("message"))
    places = tuple({_opening(path, name) for path, name, _ in found})
    for at in range(len(out) - 1, max(-1, len(out) - 3), -1):
        event = out[at]
        data = event.data
        if places and event.event is None and data[:1] == b"{" and any(place in data for place in places):
            out[at] = _with_found(event, orjson.loads(data), found)
            break
    for name, value in running:
        out = _with_running(out, name, value)
    return out


def _opening(parents: list[str | int], name: str) -> bytes:
    """How the first parent of a nested field opens in an event's compact JSON: ``"usage":{``, ``"candidates":[``."""
    inner = parents[1] if len(parents) > 1 else name
    return b'"%s":%s' % (str(parents[0]).encode(), b"[" if type(inner) is int else b"{")


def _running(found: list[tuple[list[str | int], str, Any]]) -> list[tuple[str, Any]]:
    """The usage so far among ``found`` (``RUNNING``'s) as (name, value)."""
    return [(name, value) for path, name, value in found if path[:1] == [RUNNING]]


def _with_running_bytes(stream: bytes, name: str, value: Any) -> bytes:
    """``_with_running`` over a whole stream's bytes: an event's JSON holds no line break, so ``}`` and a
    blank line end an unnamed JSON event and nothing else; each such event (``data: {``) without
    ``"name":`` gets it before its closing brace."""
    marker = orjson.dumps(name) + b":"
    member = b"," + marker + orjson.dumps(value) + b"}\n\n"
    *events, rest = stream.split(b"}\n\n")
    return b"".join([e + (member if e[:7] == b"data: {" and marker not in e else b"}\n\n") for e in events]) + rest


def _with_running(events: list[SSEEvent], name: str, value: Any) -> list[SSEEvent]:
    """``events`` with the member ``name`` (``value``) written in before the closing brace of each unnamed
    JSON event that has none (its compact JSON holds no ``"name":`` outside a string: quotes in one are
    escaped)."""
    marker = orjson.dumps(name) + b":"
    member = b"," + marker + orjson.dumps(value) + b"}"
    return [
        framed(event.data[:-1] + member, None, _DATA)
        if event.event is None and event.data[:1] == b"{" and marker not in event.data
        else event
        for event in events
    ]


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
    {`` after two line ends: never inside an event, whose JSON holds no line break); and the usage so far
    (``RUNNING``) in each unnamed event without usage (``_with_running_bytes``)."""
    found = _found(extras, dialect)
    for name, value in _running(found):
        stream = _with_running_bytes(stream, name, value)
    top = _top_level(found)
    if not top:
        return stream
    head = b"\n\ndata: {"
    stream = stream.replace(head, head + top + b",")
    return b"data: {" + top + b"," + stream[7:] if stream.startswith(b"data: {") else stream


def _top_level(found: list[tuple[list[str | int], str, Any]]) -> bytes:
    """The top-level fields among ``found`` as the JSON members they are (``"name":value,...``), or b""."""
    return orjson.dumps({name: value for path, name, value in found if not path})[1:-1]


def _with_found(
    event: SSEEvent, obj: Any, found: list[tuple[list[str | int], str, Any]], place: Any = None
) -> SSEEvent:
    """``event`` (parsed: ``obj``) written again with ``found`` put in ``place`` (None: ``obj`` itself)."""
    for path, name, value in found:
        _put(obj if place is None else place, path, name, value)
    return json_event(obj, event.event)


def padding_of(extras: str | None, dialect: Dialect) -> str | None:
    """The member a stream's events carried random padding in (``PADDED``: OpenAI's ``obfuscation``), when
    ``extras`` are ``dialect``'s and note it; None else."""
    return next((name for path, name, value in _found(extras, dialect) if path[:1] == [PADDED] and value), None)
