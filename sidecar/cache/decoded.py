"""``DecodedValues``: the Redis values this sidecar has already decoded and checked, by their bytes.

A Redis hit reads the whole value (``entry.frame``: the entry's JSON and the body its hits write) and
``entry.unframe`` decodes the entry, checks it, reads the stored body as JSON and, for the caller's
dialect, by that dialect's own parser: about 100,000 CPU instructions for a 2 KB answer, the same work
again at every hit of a hot key (docs/benchmarks.md, wave 33). This remembers what that work gave for the
values it passed, found by a probe of their bytes (``PROBE``: the value's head and its entry's end) and
taken only when the value's bytes equal those kept, with the dialect they were checked for: a value is taken
from here only when Redis answered those bytes, so nothing is served that Redis did not give, and a damaged,
foreign or rewritten value (other bytes) goes through ``unframe``'s checks as before; bytes checked for
another dialect are checked again (and remembered for this one). A lookup here costs a ``memchr`` for the
entry's end, the hash of the probe's 96 bytes and a comparison of the value's bytes (``memcmp``): the hash of
all of them (SipHash, some 3 instructions a byte), the key until wave 55, and a 128-bit BLAKE2b digest of
them before wave 51, some 14 a byte (docs/benchmarks.md, wave 51 ``cache52``, wave 55 ``cache56``). The
stored body is kept cut at its marks (``replay.cut_body``, as the memory store keeps its whole bodies): each
hit joins its pieces with its fresh id and time, with no scan of the body's bytes.

Kept in a ``memory.BoundedMemoryBackend`` (the memory store's bounded LRU, without deadlines: read by ``recent``,
no clock): each value counted at twice its length (the value's bytes, and the entry and the cut body they decode
to, about the value's size again) plus their objects (``OBJECTS``), its probe and the backend's per-entry overhead,
within ``max_bytes``, the least recently used forgotten first; a value larger than the bound is not kept.
One per ``ResponseCache`` with a Redis store (a reload that replaces the store starts empty). Only the
event loop's thread uses it.

It also keeps the answers a hit renders from an entry (``template``: a stream, or a whole body Redis holds
none of), as the memory store keeps them next to its entries (``store.Kept``): by the store's key, for the
entry object a lookup under it gave (an entry decoded again, other bytes or a value forgotten, is another
object: rendered again), bounded apart (``RENDERED_BYTES``, each counted at ``padding.size_of``); without
them, every streamed Redis hit rendered its whole stream again (some 6,000,000 instructions for a 2 KB
answer as an OpenAI stream, docs/benchmarks.md, wave 51 ``cache52``).
"""

from __future__ import annotations

from ..dialects import Dialect
from .entry import Entry, unframe
from .memory import BoundedMemoryBackend
from .padding import Cut, Rendered, size_of
from .replay import Form, cut_body, template

MAX_BYTES = 2 * 1024 * 1024
"""The values remembered, counted at twice their length and their bookkeeping: about 200 hot answers of 2 KB."""


PROBE = 48
"""The bytes of a value's head and of its entry's end (its last fields: usage, names, when it was stored) that
key it here: a dict's hash of them, not of the whole value (SipHash, some 3 instructions a byte: about 13,500 for
a 2 KB answer's 4.5 KB value); a value is taken only when its whole bytes equal those kept (``memcmp``), and two
values of one probe (one answer's text, usage and ``stored_at`` to the microsecond) take turns."""


OBJECTS = 640
"""The bytes of a decoded value's objects beyond its length (the entry's, the cut body's; tracemalloc, 150 values
of 4,555 bytes: 9,962 held each, 9,350 counted without this)."""


RENDERED_BYTES = 4 * 1024 * 1024
"""The answers rendered from entries (``template``), counted at their size: about 60 OpenAI streams of a 2 KB answer
(69 KB each with its usage chunk; an Anthropic one 37 KB, a Gemini one 49 KB)."""


class DecodedValues:
    __slots__ = ("_kept", "_rendered")

    def __init__(self, max_bytes: int = MAX_BYTES, rendered_bytes: int = RENDERED_BYTES) -> None:
        self._kept = BoundedMemoryBackend(max_entries=max_bytes, max_bytes=max_bytes)  # bounded by bytes alone
        self._rendered = BoundedMemoryBackend(max_entries=rendered_bytes, max_bytes=rendered_bytes)

    def unframe(self, data: bytes, dialect: Dialect | None) -> tuple[Entry, bytes | Cut | None]:
        """``entry.unframe(data, dialect)``, its body cut at its marks (``replay.cut_body``): remembered when
        these bytes passed it before for ``dialect`` (``EntryFormatError`` as ``unframe`` raises it, never
        remembered)."""
        end = data.find(b"\n")  # the entry's end (its JSON never holds a raw newline): memchr, no hash of it all
        probe = data[:PROBE] + data[max(0, end - PROBE) : end] if end > 0 else data[:PROBE] + data[-PROBE:]
        found: tuple[Dialect | None, bytes, Entry, bytes | Cut | None] | None = self._kept.recent(probe)
        if found is None or found[0] is not dialect or found[1] != data:  # the whole bytes compared (memcmp)
            entry, body = unframe(data, dialect)
            found = (dialect, data, entry, None if body is None else cut_body(body))
            self._kept.write(probe, found, size=2 * len(data) + OBJECTS)  # the bytes, and what they decode to
        return found[2], found[3]

    def template(self, key: str, entry: Entry, dialect: Dialect, form: Form) -> Rendered:
        """``replay.template(entry, dialect, form)``, kept for ``entry`` as read under ``key`` (made the first
        time; made again for another entry under ``key``)."""
        kept: tuple[Entry, Dialect, dict[Form, Rendered]] | None = self._rendered.recent(key)
        if kept is not None and kept[0] is entry and kept[1] is dialect:
            rendered = kept[2].get(form)
            if rendered is not None:
                return rendered
            forms = {**kept[2]}
        else:
            forms = {}
        rendered = forms[form] = template(entry, dialect, form)
        self._rendered.write(key, (entry, dialect, forms), size=sum(map(size_of, forms.values())))
        return rendered

    @property
    def max_bytes(self) -> int:
        return self._kept.max_bytes

    @property
    def held_bytes(self) -> int:
        """The bytes counted for the values remembered (at most ``max_bytes``)."""
        return self._kept.bytes
