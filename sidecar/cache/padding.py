"""A replayed stream's random padding (OpenAI's ``obfuscation``), drawn afresh for every hit.

OpenAI writes random URL-safe characters into a member of each chunk (``obfuscation``, its default; a
request's ``stream_options.include_obfuscation: false`` turns it off) so that the chunks' sizes do not
tell the tokens' lengths; the characters are noise, never read, and differ from stream to stream. A
streamed hit's template (``replay.template``) is rendered once per entry and form and written again for
every hit, so its padding is not in it but marked:

- ``padded(stream, name)``: the stream with each unnamed JSON event (``data: {``...``}`` and a blank
  line: an event's JSON holds no line break) given the member ``name``, its characters left out, as a
  ``Padded``: the stream cut where each event's characters go (``segments``), and their counts (1 to
  ``STEP``, so that each event's JSON is a multiple of ``STEP`` bytes long, the sizes evened out as the
  live stream's are) as a ``struct`` layout.
- ``Padded.fill()``: one hit's stream: every event's characters drawn at once (one draw of the process's
  PRNG, URL-safe base64, one ``struct.unpack``) and joined between the segments (one ``bytes.join``: no
  Python step per event, no scan of the stream's bytes), so no two hits write the same padding.
- ``size_of(rendered)``: the bytes a rendered template holds (the memory store counts its templates; a whole
  body's ``Cut`` too).
"""

from __future__ import annotations

import struct
import sys
from base64 import urlsafe_b64encode
from random import getrandbits

import orjson

STEP = 16
"""Each padded event's JSON is made a multiple of this many bytes long by its padding's length (1 to 16)."""


class Padded:
    """A stream whose events' padding is drawn per hit (see the module docstring)."""

    __slots__ = ("chars", "layout", "marked", "segments")

    def __init__(self, segments: tuple[bytes, ...], counts: list[int], marked: bool) -> None:
        self.segments = segments  # the stream cut where each event's padding (and marks, when marked) go
        self.layout = struct.Struct("".join(f"{n}s" for n in counts))  # each event's characters, in order
        self.chars = sum(counts)
        self.marked = marked  # cut at each event's two marks too: ``fill`` writes them

    def fill(self, first: bytes, second: bytes) -> bytes:
        """The stream with fresh random characters in every event's padding (and, when ``marked``, ``first``
        and ``second`` in place of each event's two marks): the segments and what goes between them laid
        in one list by slice assignments (C loops: no iterator, tuple or Python step per event), joined."""
        whole = -(-self.chars // 4) * 3  # base64 writes 4 characters for every 3 bytes
        noise = urlsafe_b64encode(getrandbits(8 * whole).to_bytes(whole, "big")) if whole else b""
        segments = self.segments
        parts = [first] * (2 * len(segments) - 1)  # segment, filler, segment, ...: the fillers' places odd
        parts[::2] = segments
        if self.marked:  # each event's fillers: its id (``first``, already in place), its time, its padding
            parts[5::6] = self.layout.unpack_from(noise)
            parts[3::6] = (second,) * (len(segments) // 3)
        else:
            parts[1::2] = self.layout.unpack_from(noise)
        return b"".join(parts)


Cut = tuple[bytes, ...]
"""A whole body's template cut at its marks (``replay.cut_body``): the pieces a hit joins with its id (and time)."""

Rendered = bytes | Padded | Cut
"""A template: the answer's bytes, a stream whose padding each hit draws (``Padded``), or a whole body cut at
its marks (``Cut``)."""


def padded(stream: bytes, name: str, growth: int = 0, marks: tuple[bytes, bytes] | None = None) -> Padded:
    """``stream`` with the member ``name`` marked for padding in each unnamed JSON event (see the module
    docstring), each event's JSON taken to grow by ``growth`` bytes when filled (its marks replaced by a
    hit's id and time); any other event (``data: [DONE]``, a named event) as it was. ``marks``: when each
    padded event holds each of the two once, in that order, and no other event holds either, the stream
    is cut at them too (``Padded.marked``: a hit fills them in the same join, with no scan of its bytes)."""
    marker = b"," + orjson.dumps(name) + b':"'
    *events, rest = stream.split(b"}\n\n")
    if marks is not None and not _marked_once(events, rest, marks):
        marks = None
    segments: list[bytes] = []
    counts: list[int] = []
    out = b""
    for event in events:
        if event[:7] == b"data: {":
            size = len(event) - 4 + len(marker) + growth  # the JSON's length once filled, with no padding
            counts.append(-size % STEP or STEP)
            if marks is not None:
                before, after = event.split(marks[0])
                between, after = after.split(marks[1])
                segments += (out + before, between)
                event = after
            segments.append(out + event + marker if marks is None else event + marker)
            out = b'"}\n\n'
        else:
            out += event + b"}\n\n"
    segments.append(out + rest)
    return Padded(tuple(segments), counts, marks is not None)


def _marked_once(events: list[bytes], rest: bytes, marks: tuple[bytes, bytes]) -> bool:
    """Each unnamed JSON event holds each mark once, the first before the second; no other text holds one."""
    first, second = marks
    for event in events:
        if event[:7] == b"data: {":
            at = event.find(first)
            if event.count(first) != 1 or event.count(second) != 1 or event.find(second) < at:
                return False
        elif first in event or second in event:
            return False
    return first not in rest and second not in rest


def size_of(rendered: Rendered) -> int:
    """The bytes ``rendered`` holds (a ``Padded``: its object, segments and layout)."""
    if isinstance(rendered, bytes):
        return sys.getsizeof(rendered)
    if isinstance(rendered, tuple):  # a ``Cut``: the tuple and its pieces
        return sys.getsizeof(rendered) + sum(map(sys.getsizeof, rendered))
    segments = rendered.segments
    return (
        sys.getsizeof(rendered)
        + sys.getsizeof(segments)
        + sum(map(sys.getsizeof, segments))
        + sys.getsizeof(rendered.layout)
    )
