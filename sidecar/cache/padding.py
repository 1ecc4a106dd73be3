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
  Events alike but for what follows their second mark (an OpenAI stream's chunks: the same start, id, object
  and time) keep what they share once (``Padded.frame``), each event's own bytes in ``segments``: a 2 KB
  answer's OpenAI stream holds 78,645 bytes so, not 136,071.
- ``Padded.fill()``: one hit's stream: every event's characters drawn at once (one draw of the process's
  PRNG, URL-safe base64, one ``struct.unpack``) and laid with the segments in one list by slice
  assignments (and the hit's id and time, joined once with what the events share between them), then one
  ``bytes.join``: no Python step, tuple or iterator per event, no scan of the stream's bytes (some 305,000
  instructions a fill of that stream, 1,117,000 by ``zip_longest`` and ``chain`` before 2026-12-07:
  docs/benchmarks.md, wave 52 ``cache53``), so no two hits write the same padding.
- ``cut_stream(stream, marks)``: a stream without padding (``include_obfuscation: false``, or an entry whose
  stream had none) cut at its marks alike, a ``Padded`` drawing no characters: its hits joined, not scanned
  by two ``bytes.replace`` (since 2026-12-07).
- ``size_of(rendered)``: the bytes a rendered template holds (the memory store counts its templates; a whole
  body's ``Cut`` too).
"""

from __future__ import annotations

import struct
import sys
from binascii import b2a_base64
from random import getrandbits

import orjson

STEP = 16
"""Each padded event's JSON is made a multiple of this many bytes long by its padding's length (1 to 16)."""


class Padded:
    """A stream whose events' padding is drawn per hit (see the module docstring)."""

    __slots__ = ("chars", "frame", "layout", "marked", "segments")

    def __init__(self, segments: tuple[bytes, ...], counts: list[int], marked: bool) -> None:
        self.layout = struct.Struct("".join(f"{n}s" for n in counts))  # each event's characters, in order
        self.chars = sum(counts)
        self.marked = marked  # cut at each event's two marks too: ``fill`` writes them
        # marked events alike but for what follows their second mark (an OpenAI stream: each chunk's id, its
        # object and its time, then its own): what they share kept once, ``segments`` each event's own
        self.frame: tuple[bytes, bytes, bytes, bytes] | None = None
        if marked and counts and _alike(segments):
            self.frame = (segments[0], segments[1], segments[3] if len(counts) > 1 else b"", segments[-1])
            segments = segments[2:-1:3]
        self.segments = segments  # the stream cut where each event's padding (and marks, when marked) go

    def fill(self, first: bytes, second: bytes) -> bytes:
        """The stream with fresh random characters in every event's padding (and, when ``marked``, ``first``
        and ``second`` in place of each event's two marks): the segments and what goes between them laid
        in one list by slice assignments (C loops: no iterator, tuple or Python step per event), joined."""
        noise = b""
        if self.chars:  # (none: a stream cut at its marks only, ``cut_stream``)
            whole = -(-self.chars // 4) * 3  # base64 writes 4 characters for every 3 bytes
            noise = b2a_base64(getrandbits(8 * whole).to_bytes(whole, "big"), newline=False).translate(_URL_SAFE)
        pads = self.layout.unpack_from(noise)
        segments = self.segments
        frame = self.frame
        if frame is not None:  # head, then per event its own, its padding and the next one's start and marks
            first_start, between, start, end = frame
            marks = first + between + second
            step = 3 if self.chars else 2
            parts = [start + marks] * (step * len(pads) + 1)
            parts[0] = first_start + marks
            parts[1::step] = segments
            if self.chars:
                parts[2::3] = pads
            parts[-1] = end
            return b"".join(parts)
        parts = [first] * (2 * len(segments) - 1)  # segment, filler, segment, ...: the fillers' places odd
        parts[::2] = segments
        if self.marked:  # each event's fillers: its id (``first``, already in place), its time, its padding
            parts[5::6] = pads
            parts[3::6] = (second,) * len(pads)
        else:
            parts[1::2] = pads
        return b"".join(parts)


def _alike(segments: tuple[bytes, ...]) -> bool:
    """A marked stream's events (cut three times each: before the first mark, between the marks, after the
    second) all hold the same bytes between their marks, and all but the first begin alike."""
    return len(set(segments[1::3])) == 1 and len(set(segments[3:-1:3])) <= 1


_URL_SAFE = bytes.maketrans(b"+/", b"-_")  # base64's two characters that are not URL-safe, as ``urlsafe_b64encode``


Cut = tuple[bytes, ...]
"""A whole body's template cut at its marks (``replay.cut_body``): the pieces a hit joins with its id (and time)."""

Rendered = bytes | Padded | Cut
"""A template: the answer's bytes, a stream whose padding each hit draws (``Padded``), or a whole body cut at
its marks (``Cut``)."""


def padded(stream: bytes, name: str | None, growth: int = 0, marks: tuple[bytes, bytes] | None = None) -> Padded:
    """``stream`` with the member ``name`` marked for padding in each unnamed JSON event (see the module
    docstring), each event's JSON taken to grow by ``growth`` bytes when filled (its marks replaced by a
    hit's id and time); any other event (``data: [DONE]``, a named event) as it was. ``marks``: when each
    padded event holds each of the two once, in that order, and no other event holds either, the stream
    is cut at them too (``Padded.marked``: a hit fills them in the same join, with no scan of its bytes).
    ``name`` None: no padding (``cut_stream``)."""
    marker = b"" if name is None else b"," + orjson.dumps(name) + b':"'
    close = b"}\n\n" if name is None else b'"}\n\n'
    *events, rest = stream.split(b"}\n\n")
    if marks is not None and not _marked_once(events, rest, marks):
        marks = None
    segments: list[bytes] = []
    counts: list[int] = []
    out = b""
    for event in events:
        if event[:7] == b"data: {":
            size = len(event) - 4 + len(marker) + growth  # the JSON's length once filled, with no padding
            counts.append(0 if name is None else -size % STEP or STEP)
            if marks is not None:
                before, after = event.split(marks[0])
                between, after = after.split(marks[1])
                segments += (out + before, between)
                event = after
            segments.append(out + event + marker if marks is None else event + marker)
            out = close
        else:
            out += event + b"}\n\n"
    segments.append(out + rest)
    return Padded(tuple(segments), counts, marks is not None)


def cut_stream(stream: bytes, marks: tuple[bytes, bytes]) -> Padded | bytes:
    """``stream`` (no padding: OpenAI's ``include_obfuscation: false``, or an entry whose stream had none) cut
    at its ``marks`` as a ``Padded`` that draws no characters, so a hit writes its id and time in one join (its
    events' shared bytes kept once) and no scan of its bytes; the bytes as they are when the marks are not once
    in each event (then ``fill_body`` replaces them)."""
    cut = padded(stream, None, 0, marks)
    return cut if cut.marked else stream


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
    frame = rendered.frame
    return (
        sys.getsizeof(rendered)
        + sys.getsizeof(segments)
        + sum(map(sys.getsizeof, segments))
        + sys.getsizeof(rendered.layout)
        + (0 if frame is None else sys.getsizeof(frame) + sum(map(sys.getsizeof, frame)))
    )
