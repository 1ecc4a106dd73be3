"""The in-process store: aiocache's memory backend, bounded and least-recently-used first.

aiocache's ``SimpleMemoryBackend`` is a plain dict with one ``loop.call_later`` timer per key and no
bound. ``BoundedMemoryBackend`` keeps its API (``get``/``set``/``delete``/``exists``/``clear`` through
aiocache's ``BaseCache``) and changes what is underneath; ``read``/``write`` are the synchronous cores
that the sidecar's ``MemoryStore`` calls without aiocache's per-call wrappers (an environment lookup,
four clock reads, a debug log call and three coroutine frames: 2.7 us a read against 0.26 us for the
dict work itself, docs/benchmarks.md):

- the dict is an ``OrderedDict`` in least-recently-used order: a read moves the key to the end, and a
  write past either bound (``max_entries``, ``max_bytes``) evicts from the front until both hold;
- expiry is lazy, a deadline per key checked on read (no timer per entry: 10,000 entries are 10,000
  fewer handles on the event loop's heap); expired entries also leave first under pressure; deadlines
  are on ``clock`` (``time.monotonic``: a step of the wall clock moves none of them), a key found read
  against one reading of it (``read_s``, which the memory store's lookup ages the entry by);
- values are ``bytes`` through aiocache's API, or any object given with its size to ``write`` (the
  sidecar keeps entries as objects: ``entry.footprint``); each counts its size (``len(value)`` for
  bytes) ``+ len(key) + ENTRY_OVERHEAD``, the bookkeeping Python spends per entry (the dict slots, the
  LRU link, the deadline, object headers), so the byte bound tracks the memory the cache really holds
  (docs/benchmarks.md measures it);
- counters for the metrics: ``entries``, ``bytes``, ``evictions`` (removed to make room) and
  ``expirations`` (removed because past their deadline).

One event loop, no threads: every operation runs to completion without an await in between.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiocache.backends.memory import SimpleMemoryBackend
from aiocache.serializers import NullSerializer

Key = str | bytes
"""A key: the store's ``str``; ``bytes`` for ``decoded.DecodedValues`` (a value's own bytes, synchronous core only)."""

ENTRY_OVERHEAD = 240
"""Bytes of bookkeeping per entry beyond the value's and the key's lengths (measured: bench/cache_bench.py)."""


class BoundedMemoryBackend(SimpleMemoryBackend):  # type: ignore[misc]  # aiocache ships no type hints
    """aiocache's memory backend with an entry bound, a byte bound and LRU eviction."""

    def __init__(self, max_entries: int, max_bytes: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        # NullSerializer(encoding=None): values are stored and returned as the bytes given.
        super().__init__(serializer=NullSerializer(encoding=None), timeout=None)
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock  # the monotonic clock of every deadline (and of a kept entry's age: ``store``)
        self._cache: OrderedDict[Key, Any] = OrderedDict()
        self._sizes: dict[Key, int] = {}  # what each entry counts against max_bytes
        self._deadlines: dict[Key, float] = {}
        self.read_s = 0.0  # the clock's reading by which the last ``read`` that found its key judged it
        self.bytes = 0
        self.evictions = 0
        self.expirations = 0

    @property
    def entries(self) -> int:
        return len(self._cache)

    @staticmethod
    def cost(key: str, value: bytes) -> int:
        """What one entry counts against ``max_bytes``."""
        return len(value) + len(key) + ENTRY_OVERHEAD

    def _remove(self, key: Key) -> None:
        if self._cache.pop(key, None) is not None:
            self.bytes -= self._sizes.pop(key)
        self._deadlines.pop(key, None)

    def read(self, key: Key) -> Any:
        """The live value under ``key`` (now the most recently used), or None: the synchronous core of
        ``get``, which ``MemoryStore`` calls directly (aiocache's per-call wrappers cost more than this), and of
        ``exists`` and ``expire``: an expired key is removed here (counted in ``expirations``). A key found
        is judged by one reading of ``clock``, kept as ``read_s``: a lookup tells the value's age from it, so
        an entry alive at its deadline's check is aged as of that instant (one reading, not two)."""
        cache = self._cache
        value = cache.get(key)
        if value is None:
            return None
        deadline = self._deadlines.get(key)
        self.read_s = now = self.clock()  # (kept: the caller tells the value's age from the same reading)
        if deadline is not None and deadline <= now:
            self._remove(key)
            self.expirations += 1
            return None
        cache.move_to_end(key)
        return value

    def write(
        self, key: Key, value: Any, ttl: float | None = None, size: int | None = None, *, now: float | None = None
    ) -> bool:
        """Store ``value``, evicting from the least recently used end until both bounds hold; False when
        the value alone is larger than ``max_bytes``. ``size``: what an object (not bytes) holds; ``now``: the
        ``clock``'s reading the caller stamped the value with (its deadline is ``now + ttl``: one reading for
        the value's age and its expiry), else the clock is read. The synchronous core of ``set``."""
        if size is None:
            if not isinstance(value, bytes):
                raise TypeError("BoundedMemoryBackend stores bytes, or objects with their size")
            size = len(value)
        cost = size + len(key) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return False  # larger than the whole cache: never stored
        if key in self._sizes:  # written again (a refresh, or a miss that raced an entry): the old one goes
            self._remove(key)
        cache = self._cache
        cache[key] = value
        self._sizes[key] = cost
        self.bytes += cost
        if ttl:
            self._deadlines[key] = (self.clock() if now is None else now) + ttl
        while len(cache) > self.max_entries or self.bytes > self.max_bytes:
            self._remove(next(iter(cache)))
            self.evictions += 1
        return True

    def recent(self, key: Key) -> Any:
        """The value under ``key`` (now the most recently used), or None: ``read`` without its expiry check and
        clock reading, for a backend whose values are written without ``ttl`` and never expire
        (``decoded.DecodedValues``: on a Redis hit's path after its reply)."""
        cache = self._cache
        value = cache.get(key)
        if value is not None:
            cache.move_to_end(key)
        return value

    def peek(self, key: Key) -> Any:
        """The value under ``key`` as it is, or None: no expiry check, no change of order."""
        return self._cache.get(key)

    def grow(self, key: Key, n: int) -> bool:
        """Count ``n`` more bytes for ``key`` (something added to its value), evicting from the least
        recently used end until both bounds hold; False (nothing counted) when ``key`` is absent or would
        alone exceed ``max_bytes``. ``key`` should be the most recently used (just read)."""
        cost = self._sizes.get(key)
        if cost is None or cost + n > self.max_bytes:
            return False
        self._sizes[key] = cost + n
        self.bytes += n
        cache = self._cache
        while self.bytes > self.max_bytes:
            oldest = next(iter(cache))
            if oldest == key:  # cannot happen when key was just read (it is last): never evict it
                break
            self._remove(oldest)
            self.evictions += 1
        return True

    def swap(self, key: Key, value: Any, n: int) -> None:
        """Put ``value`` in the place of ``key``'s (its deadline and order kept), counted ``n`` bytes more
        (``grow``'s eviction when that is over the bound; ``n`` may be negative). ``key`` must be present."""
        self._cache[key] = value
        if not self.grow(key, n):  # alone over the whole bound: not kept
            self.remove(key)

    async def _get(self, key: str, encoding: str | None = None, _conn: Any = None) -> Any:
        return self.read(key)

    async def _gets(self, key: str, encoding: str | None = None, _conn: Any = None) -> Any:
        return self.read(key)

    async def _multi_get(self, keys: list[str], encoding: str | None = None, _conn: Any = None) -> list[bytes | None]:
        return [self.read(key) for key in keys]

    async def _set(
        self, key: str, value: bytes, ttl: float | None = None, _cas_token: Any = None, _conn: Any = None
    ) -> bool:
        if _cas_token is not None and _cas_token != self._cache.get(key):
            return False
        return self.write(key, value, ttl)

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return self.read(key) is not None  # (a key found is now the most recently used, as a read makes it)

    async def _expire(self, key: str, ttl: float | None, _conn: Any = None) -> bool:
        if self.read(key) is None:
            return False
        if ttl:
            self._deadlines[key] = self.clock() + ttl
        else:
            self._deadlines.pop(key, None)
        return True

    def remove(self, key: Key) -> bool:
        """Drop ``key``; True when it was there."""
        present = key in self._cache
        self._remove(key)
        return present

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return int(self.remove(key))

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        if namespace:
            for key in [k for k in self._cache if isinstance(k, str) and k.startswith(namespace)]:
                self._remove(key)
        else:
            self._cache.clear()
            self._sizes.clear()
            self._deadlines.clear()
            self.bytes = 0
        return True

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        raise TypeError("BoundedMemoryBackend holds encoded entries, not counters")

    async def _redlock_release(self, key: str, value: Any) -> int:
        if self._cache.get(key) == value:
            return await self._delete(key)
        return 0
