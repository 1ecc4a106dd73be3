"""``DecodedValues``: the Redis values this sidecar has already decoded and checked, by their bytes.

A Redis hit reads the whole value (``entry.frame``: the entry's JSON and the body its hits write) and
``entry.unframe`` decodes the entry, checks it, reads the stored body as JSON and, for the caller's
dialect, by that dialect's own parser: about 100,000 CPU instructions for a 2 KB answer, the same work
again at every hit of a hot key (docs/benchmarks.md, wave 33). This remembers what that work gave for the
values it passed, keyed by the value's bytes themselves, with the dialect they were checked for: a value is
taken from here only when Redis answered those bytes, so nothing is served that Redis did not give, and a
damaged, foreign or rewritten value (other bytes) goes through ``unframe``'s checks as before; bytes checked
for another dialect are checked again (and remembered for this one). A lookup here costs the hash of the
value's bytes (SipHash, some 3 instructions a byte) and a comparison of them (``memcmp``): a 128-bit BLAKE2b
digest of them, the key until wave 51, cost some 14 a byte (docs/benchmarks.md, wave 51 ``cache52``). The
stored body is kept cut at its marks (``replay.cut_body``, as the memory store keeps its whole bodies): each
hit joins its pieces with its fresh id and time, with no scan of the body's bytes.

Kept in a ``memory.BoundedMemoryBackend`` (the memory store's bounded LRU, without deadlines): each value
counted at twice its length (the value's bytes, the key, and the entry and the cut body they decode to,
about the value's size again) plus their objects (``OBJECTS``) and the backend's per-entry overhead,
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
        found: tuple[Dialect | None, Entry, bytes | Cut | None] | None = self._kept.read(data)
        if found is None or found[0] is not dialect:
            entry, body = unframe(data, dialect)
            found = (dialect, entry, None if body is None else cut_body(body))
            self._kept.write(data, found, size=len(data) + OBJECTS)  # the backend counts the key (these bytes) too
        return found[1], found[2]

    def template(self, key: str, entry: Entry, dialect: Dialect, form: Form) -> Rendered:
        """``replay.template(entry, dialect, form)``, kept for ``entry`` as read under ``key`` (made the first
        time; made again for another entry under ``key``)."""
        kept: tuple[Entry, Dialect, dict[Form, Rendered]] | None = self._rendered.read(key)
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
