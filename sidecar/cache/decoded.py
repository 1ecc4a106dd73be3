"""``DecodedValues``: the Redis values this sidecar has already decoded and checked, by their bytes.

A Redis hit reads the whole value (``entry.frame``: the entry's JSON and the body its hits write) and
``entry.unframe`` decodes the entry, checks it, reads the stored body as JSON and, for the caller's
dialect, by that dialect's own parser: about 100,000 CPU instructions for a 2 KB answer, the same work
again at every hit of a hot key (docs/benchmarks.md, wave 33). This remembers what that work gave for the
values it passed, keyed by a 128-bit BLAKE2b digest of the value's bytes and the dialect they were
checked for: a value is taken from here only when Redis answered those bytes, so nothing is served that
Redis did not give, and a damaged, foreign or rewritten value (other bytes) goes through ``unframe``'s
checks as before. A lookup here costs the digest of the value's bytes and a dict lookup. The stored
body is kept cut at its marks (``replay.cut_body``, as the memory store keeps its whole bodies): each hit
joins its pieces with its fresh id and time, with no scan of the body's bytes.

Kept in a ``memory.BoundedMemoryBackend`` (the memory store's bounded LRU, without deadlines): each value
counted at twice its length (the entry's text and the body it decodes to, about the value's size again)
plus the key and the backend's per-entry overhead, within ``max_bytes``, the least recently used
forgotten first; a value larger than the bound is not kept. One per ``ResponseCache`` with a Redis store
(a reload that replaces the store starts empty). Only the event loop's thread uses it.
"""

from __future__ import annotations

from hashlib import blake2b

from ..dialects import Dialect
from .entry import Entry, unframe
from .memory import BoundedMemoryBackend
from .padding import Cut
from .replay import cut_body

MAX_BYTES = 2 * 1024 * 1024
"""The values remembered, counted at twice their length and their bookkeeping: about 200 hot answers of 2 KB."""


class DecodedValues:
    __slots__ = ("_kept",)

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._kept = BoundedMemoryBackend(max_entries=max_bytes, max_bytes=max_bytes)  # bounded by bytes alone

    def unframe(self, data: bytes, dialect: Dialect | None) -> tuple[Entry, bytes | Cut | None]:
        """``entry.unframe(data, dialect)``, its body cut at its marks (``replay.cut_body``): remembered when
        these bytes passed it before for ``dialect`` (``EntryFormatError`` as ``unframe`` raises it, never
        remembered)."""
        key = f"{dialect or ''}:{blake2b(data, digest_size=16).hexdigest()}"
        found: tuple[Entry, bytes | Cut | None] | None = self._kept.read(key)
        if found is None:
            entry, body = unframe(data, dialect)
            found = (entry, None if body is None else cut_body(body))
            self._kept.write(key, found, size=2 * len(data))
        return found

    @property
    def max_bytes(self) -> int:
        return self._kept.max_bytes

    @property
    def held_bytes(self) -> int:
        """The bytes counted for the values remembered (at most ``max_bytes``)."""
        return self._kept.bytes
