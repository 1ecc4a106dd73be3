"""``DecodedValues``: the Redis values this sidecar has already decoded and checked, by their bytes.

A Redis hit reads the whole value (``entry.frame``: the entry's JSON and the body its hits write) and
``entry.unframe`` decodes the entry, checks it, reads the stored body as JSON and, for the caller's
dialect, by that dialect's own parser: about 100,000 CPU instructions for a 2 KB answer, the same work
again at every hit of a hot key (docs/benchmarks.md, wave 33). This remembers what that work gave for the
values it passed, keyed by the value's bytes themselves (and the dialect they were checked for): a value
is taken from here only when Redis answered exactly those bytes, so nothing is served that Redis did not
give, and a damaged, foreign or rewritten value (other bytes) goes through ``unframe``'s checks as before.
A lookup here costs a hash of the value's bytes and, when found, one comparison of them.

Bounded by ``max_bytes``, counted as twice each value's length (the value and what it decodes to: the
entry's text and the body, about the value's size again), the least recently used forgotten first; a value
larger than the bound is not kept. One per ``ResponseCache`` with a Redis store (a reload that replaces the
store starts empty). Only the event loop's thread uses it.
"""

from __future__ import annotations

from ..dialects import Dialect
from .entry import Entry, unframe

MAX_BYTES = 2 * 1024 * 1024
"""The values remembered, counted at twice their length: about 200 hot answers of 2 KB."""


class DecodedValues:
    __slots__ = ("_by_value", "_bytes", "max_bytes")

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._by_value: dict[tuple[bytes, Dialect | None], tuple[Entry, bytes | None]] = {}
        self._bytes = 0

    def unframe(self, data: bytes, dialect: Dialect | None) -> tuple[Entry, bytes | None]:
        """``entry.unframe(data, dialect)``: remembered when these bytes passed it before for ``dialect``
        (``EntryFormatError`` as ``unframe`` raises it, never remembered)."""
        which = (data, dialect)
        found = self._by_value.pop(which, None)
        if found is None:
            found = unframe(data, dialect)
            size = 2 * len(data)
            if size > self.max_bytes:
                return found
            self._bytes += size
            while self._bytes > self.max_bytes:  # the least recently used first (the dict's oldest)
                oldest = next(iter(self._by_value))
                del self._by_value[oldest]
                self._bytes -= 2 * len(oldest[0])
        self._by_value[which] = found  # now the most recently used
        return found

    @property
    def held_bytes(self) -> int:
        """The bytes counted for the values remembered (at most ``max_bytes``)."""
        return self._bytes
