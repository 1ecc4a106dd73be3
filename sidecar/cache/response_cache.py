"""``ResponseCache``: the object the request path holds (one per sidecar, on the app, with a lifecycle).

    cache = ResponseCache.from_spec(store_spec, env)     # at start-up / when the store block changes
    lookup = await cache.lookup(key, route_settings, dialect) # Lookup: hit | stale (max-stale) | miss
    lookup = cache.lookup_in_memory(key, route_settings, dialect) # the same, no coroutine (cache.in_memory)
    flight = cache.flights.join(key)                       # single flight (``flight``)
    reason = await cache.store(key, entry, route_settings, dialect) # None: stored; else why not
    cache.store_in_memory(key, entry, route_settings)      # the same, no coroutine (cache.in_memory)
    data = cache.answer(key, lookup.entry, dialect, form, lookup.body) # a hit's body or whole stream
    entry, age_s = await cache.stale(key, route_settings, lookup) # the last resort (kind: cache); None: none
    await cache.warm()                                     # connect ahead of the first request
    cache.snapshot()                                       # counters and store gauges, for /metrics
    await cache.close()

Freshness is judged when reading, from the entry's age and the route's *current* ``ttl_s`` and
``stale_s``: the store keeps an entry ``ttl_s + stale_s`` seconds, and a lookup within ``ttl_s`` is a
hit, within the stale window a miss that carries the entry for the last resort (so the last resort
needs no second round trip), unless the app's ``max-stale`` takes it (``oldest_s``: stale), later a
miss. Nothing here raises on a store failure.

A Redis value is decoded and checked (``entry.unframe``) once per distinct value's bytes: the result is
remembered, bounded (``decoded.DecodedValues``), and a hot key's later hits, given the same bytes by
Redis, reuse it, the stored body already cut at its marks (``replay.cut_body``: a hit joins it with its
fresh id, no scan of its bytes).

An entry's age is told by the clock of the store that keeps it. The memory store's: the monotonic
clock its deadlines are on (``store.Kept.stored_s``), so a step of the wall clock (a VM resumed, NTP
stepping it) neither makes a fresh entry a miss nor serves one past ``ttl_s``, and no entry answers
past ``ttl_s + stale_s``. Redis's: the wall clock (``clock``, the entry's ``stored_at``), the only
time every pod sharing the entry reads alike. An age is never negative.

Importing the package loads neither aiocache nor redis: ``from_spec`` does, when a cache is built
(aiocache's own ``__init__`` imports redis whenever it is installed: about 0.1 s of start-up).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from ..dialects import Dialect
from ..resilience.breaker import BreakerConfig, CircuitBreaker
from .decoded import DecodedValues
from .entry import Entry, EntryFormatError, encode, footprint, frame, unframe, unstorable
from .flight import SingleFlight
from .padding import Cut
from .pending import Pending
from .redis_store import KeptReads, build_redis_backend, close_redis_backend, describe
from .replay import Form, body_template, fill_body, template
from .rules import Settings
from .spec import CacheStoreSpec
from .stats import CacheStats
from .store import GuardedStore, Kept, MemoryStore, Store


class Lookup(NamedTuple):
    """What a lookup found. ``state`` hit: ``entry`` answers, ``age_s`` old, and ``body`` is the whole
    body template stored with it in Redis (``entry.frame``; cut at its marks, ``replay.cut_body``, when
    read through ``DecodedValues``; None in memory, where ``MemoryStore`` keeps its own); stale: the
    same, for an entry past ``ttl_s`` the app takes (``Cache-Control: max-stale``); miss: nothing the app
    takes, and ``stale`` is an entry inside the stale window when there is one (for the last resort
    only)."""

    state: Literal["hit", "stale", "miss"]
    entry: Entry | None = None
    age_s: float = 0.0
    stale: Entry | None = None
    body: bytes | Cut | None = None
    stale_at: float = 0.0  # when ``stale`` was stored, on its store's age clock (``ResponseCache.stale``)


MISS = Lookup("miss")


class ResponseCache:
    def __init__(
        self,
        store: Store,
        *,
        max_entry_bytes: int,
        close: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = store
        self.stats = store.stats
        self.flights = SingleFlight(self.stats)
        self.max_entry_bytes = max_entry_bytes
        # the store is this process's memory: it never waits and cannot fail (an attribute, not a property: the
        # request path reads it on every lookup and miss)
        self.in_memory = isinstance(store, MemoryStore)
        self._close = close
        self._clock = clock  # the wall clock: Redis entries' ages (their ``stored_at``)
        # the clock ages are told by: the memory store's monotonic one (its ``Kept.stored_s``), else the wall's
        self._age_clock = store.backend.clock if isinstance(store, MemoryStore) else clock
        # Redis: the values already decoded and checked, by their bytes (a hot key's hits decode once)
        self._decoded = None if self.in_memory else DecodedValues()

    @classmethod
    def from_spec(cls, spec: CacheStoreSpec, env: Mapping[str, str] = os.environ) -> ResponseCache:
        """The cache the ``cache:`` block describes (``CacheConfigError`` if a secret is missing)."""
        stats = CacheStats()
        if spec.redis is None:
            from .memory import BoundedMemoryBackend  # aiocache (and with it redis): only when a cache is built

            memory = BoundedMemoryBackend(spec.memory.max_entries, spec.memory.max_bytes)
            return cls(MemoryStore(memory, stats), max_entry_bytes=spec.max_entry_bytes)
        backend = build_redis_backend(spec.redis, env)
        b = spec.breaker
        config = BreakerConfig(
            window_size=b.window_size,
            minimum_calls=min(b.minimum_calls, b.window_size),
            failure_rate_threshold=b.failure_rate,
            slow_call_duration_s=spec.redis.timeout_s,
            slow_call_rate_threshold=1.0,
            open_duration_s=b.open_s,
            open_duration_max_s=max(b.open_max_s, b.open_s),
            half_open_probes=1,
            probe_timeout_s=max(spec.redis.timeout_s * 10, 1.0),
        )
        name = describe(spec.redis)

        def retried(exc: BaseException) -> None:  # a GET sent again on a fresh connection: its failure counted
            store.failed("get", exc)

        reads = KeptReads(backend.client, spec.redis.max_connections // 2, retried)  # the rest: writes, busy times
        store = GuardedStore(
            backend,
            name=name,
            stats=stats,
            timeout_s=spec.redis.timeout_s,
            breaker=CircuitBreaker(f"cache {name}", config),
            log_interval_s=spec.log_interval_s,
            read=reads.get,
        )

        async def close() -> None:
            await store.stop()  # requests in flight on it (a reload replaced it) no longer reach Redis
            await reads.close()
            await close_redis_backend(backend)

        return cls(store, max_entry_bytes=spec.max_entry_bytes, close=close)

    async def lookup(
        self,
        key: str,
        settings: Settings,
        dialect: Dialect | None = None,
        oldest_s: float | None = None,
        ahead: Callable[[], object] | None = None,
    ) -> Lookup:
        """A fresh entry (hit), or a miss that may carry a stale entry for the last resort; ``dialect``:
        the caller's, whose answer a stored body must be (``entry.unframe``); ``oldest_s``: the oldest
        entry the app takes (``control.Control.oldest_s``; None: ``ttl_s``; past ``ttl_s``: stale);
        ``ahead``: work to do while Redis's reply is on its way (a loop callback run when the lookup first
        waits; not called when the lookup does not wait: the memory store, Redis's breaker open)."""
        storage = self.storage
        if isinstance(storage, MemoryStore):
            return self.lookup_in_memory(key, settings, dialect, oldest_s)
        self.stats.lookups += 1
        data = await storage.get(key, ahead)  # the store's own coroutine: no ``_read`` frame around it
        read = None if data is None else self._unframed(data, dialect)
        if read is None:  # (``_judged``'s miss, without its call)
            if data is not None:  # damaged (counted): removed
                await storage.delete(key)
            self.stats.misses += 1
            return MISS
        return self._judged(read[0], read[1], settings, oldest_s, read[2])

    def lookup_in_memory(
        self, key: str, settings: Settings, dialect: Dialect | None = None, oldest_s: float | None = None
    ) -> Lookup:
        """``lookup`` without a coroutine, for the memory store (``in_memory``): a hit's path awaits
        nothing."""
        storage = self.storage
        assert isinstance(storage, MemoryStore)
        self.stats.lookups += 1
        data = storage.read_kept(key)
        if isinstance(data, Kept):  # aged as of the reading its deadline was judged by (``read_s``)
            return self._judged(data.entry, None, settings, oldest_s, data.stored_s, storage.backend.read_s)
        if data is None:  # (``_judged``'s miss, without its call)
            self.stats.misses += 1
            return MISS
        try:  # bytes written through ``set``
            entry, body = unframe(data, dialect)
        except EntryFormatError:
            self.stats.damaged += 1
            storage.backend.remove(key)
            return self._judged(None, None, settings)
        return self._judged(entry, body, settings, oldest_s, self._stored(entry))

    def _judged(
        self,
        entry: Entry | None,
        body: bytes | Cut | None,
        settings: Settings,
        oldest_s: float | None = None,
        stored: float = 0.0,
        now: float | None = None,
    ) -> Lookup:
        """What a read found, stored at ``stored`` on the age clock, judged by the route's ``ttl_s`` and
        ``stale_s`` and the app's ``oldest_s`` (counted); ``now``: the age clock's reading the read made
        (None: read it here)."""
        if entry is None:
            self.stats.misses += 1
            return MISS
        age = max(0.0, (self._age_clock() if now is None else now) - stored)
        if age <= (settings.ttl_s if oldest_s is None else oldest_s):
            self._saved(entry)
            if oldest_s is not None and age > settings.ttl_s:  # the app's max-stale takes it (within stale_s)
                self.stats.stale += 1
                return Lookup("stale", entry, age, None, body)
            self.stats.hits += 1
            return Lookup("hit", entry, age, None, body)
        self.stats.misses += 1
        if age > settings.ttl_s + settings.stale_s:
            return MISS
        return Lookup("miss", stale=entry, stale_at=stored)

    def _stored(self, entry: Entry) -> float:
        """When a decoded entry was stored, on the age clock: its ``stored_at`` (wall-clock time) for Redis;
        for bytes in the memory store (aiocache's ``set``, which keeps no stamp), its wall-clock age
        carried over to the memory store's clock."""
        if not self.in_memory:
            return entry.stored_at
        return self._age_clock() - entry.age(self._clock())

    def answer(
        self,
        key: str,
        entry: Entry,
        dialect: Dialect,
        form: Form,
        body: bytes | Cut | None = None,
        marks: tuple[bytes, bytes] | None = None,
    ) -> bytes:
        """``entry`` (read under ``key``) as one hit's ``dialect`` answer in ``form`` (``replay.form_of``):
        in memory from the template kept with it (``MemoryStore.answer``); from Redis the whole body
        from ``body``, the template stored with the entry (``Lookup.body``), else rendered once for the entry
        (``DecodedValues.template``: a stream, or an older sidecar's entry stored without its body), its id and
        time ``marks`` when made ahead (``replay.fresh_marks``: while the ``GET`` was on its way)."""
        if isinstance(self.storage, MemoryStore):
            return self.storage.answer(key, entry, dialect, form)
        if form == "body" and body is not None:
            return fill_body(body, dialect, marks)
        decoded = self._decoded
        return fill_body(
            template(entry, dialect, form) if decoded is None else decoded.template(key, entry, dialect, form),
            dialect,
            marks,
        )

    async def stale(self, key: str, settings: Settings, lookup: Lookup | None = None) -> tuple[Entry, float] | None:
        """For the last resort: an entry no older than ``ttl_s + stale_s`` (a fresh one too, should one
        have been stored meanwhile), with its age now. ``lookup``'s stale entry is used when given, else
        the store is read."""
        if lookup is not None and lookup.stale is not None:
            entry: Entry | None = lookup.stale
            stored = lookup.stale_at
        else:
            entry, stored = await self._read(key)
        if entry is None:
            return None
        age = max(0.0, self._age_clock() - stored)
        if age > settings.ttl_s + settings.stale_s:
            return None
        self.stats.stale += 1
        self._saved(entry)
        return entry, age

    async def store(
        self, key: str, entry: Entry | Pending, settings: Settings, dialect: Dialect | None = None
    ) -> str | None:
        """Store a complete answer (to a ``dialect`` caller); None when stored, else why not
        (``unstorable``, ``too_large``, ``store_failed``). Redis keeps the whole body template of
        ``dialect`` (the one its key serves) with it."""
        if self.in_memory:
            return self.store_in_memory(key, entry, settings)
        if isinstance(entry, Pending):  # kept pending only in memory: its entry now
            made = entry.entry()
            if made is None:
                return self._count("unstorable")
            entry = made
        data, reason = self._encoded(entry, settings, dialect)
        if reason is None and not await self.storage.set(key, data, settings.ttl_s + settings.stale_s):
            reason = "store_failed"
        return self._count(reason)

    def store_in_memory(self, key: str, entry: Entry | Pending, settings: Settings) -> str | None:
        """``store`` without a coroutine or a task, for the memory store (``in_memory``): the entry is kept
        as an object (no encoding), counted at its ``footprint``; a ``Pending`` (found storable by
        ``pending.whole_verdict``) as it is, its entry made on its key's first read, counted at its ``size``."""
        storage = self.storage
        assert isinstance(storage, MemoryStore)
        ttl_s = settings.ttl_s + settings.stale_s
        reason = None
        if isinstance(entry, Pending):
            size = entry.size
            if size <= self.max_entry_bytes and storage.write_pending(key, entry, ttl_s, size):
                self.stats.stores += 1  # (``_count``'s, without its call: most misses' path)
                return None
            return self._count("too_large" if size > self.max_entry_bytes else "store_failed")
        reason = unstorable(entry, store_truncated=settings.store_truncated)
        if reason is None:
            size = footprint(entry)
            if size > self.max_entry_bytes:
                reason = "too_large"
            elif not storage.write_entry(key, entry, size, ttl_s):
                reason = "store_failed"
        return self._count(reason)

    def _encoded(self, entry: Entry, settings: Settings, dialect: Dialect | None) -> tuple[bytes, str | None]:
        reason = unstorable(entry, store_truncated=settings.store_truncated)
        data = b""
        if reason is None:
            data = encode(entry)
            if len(data) > self.max_entry_bytes:
                reason = "too_large"
            else:  # and the body its hits are answered with (about the answer's size again)
                data = frame(data, body_template(entry, dialect) if dialect is not None else None)
        return data, reason

    def _count(self, reason: str | None) -> str | None:
        if reason is None:
            self.stats.stores += 1
        else:
            self.stats.store_skips += 1
        return reason

    async def _read(self, key: str) -> tuple[Entry | None, float]:
        """The entry under ``key`` (the last resort's: no dialect to check its body for) and when it was stored
        on the age clock."""
        storage = self.storage
        if isinstance(storage, MemoryStore):
            data = storage.read_kept(key)
            if isinstance(data, Kept):
                return data.entry, data.stored_s  # kept as an object: nothing to decode
        else:
            data = await storage.get(key)
        if data is None:
            return None, 0.0
        read = self._unframed(data, None)
        if read is None:  # damaged (counted): removed
            await storage.delete(key)
            return None, 0.0
        return read[0], read[2]

    def _unframed(self, data: bytes, dialect: Dialect | None) -> tuple[Entry, bytes | Cut | None, float] | None:
        """The entry in a stored value, the body template stored with it (checked as ``dialect``'s answer when
        given), and when it was stored on the age clock; None when the value is damaged (counted)."""
        try:
            entry, body = unframe(data, dialect) if self._decoded is None else self._decoded.unframe(data, dialect)
        except EntryFormatError:
            self.stats.damaged += 1
            return None
        return entry, body, self._stored(entry)

    def _saved(self, entry: Entry) -> None:
        self.stats.saved_cost_usd += entry.cost_usd or 0.0
        self.stats.saved_output_tokens += entry.usage.output_tokens if entry.usage else 0

    async def warm(self) -> None:
        """Connect the store ahead of the first request (Redis: one pooled connection opened)."""
        await self.storage.warm()

    def snapshot(self) -> dict[str, float]:
        """Counters (``CacheStats``) and the store's gauges: for memory ``entries``, ``bytes``,
        ``evictions``, ``expirations``; for Redis ``breaker_state`` (0 closed, 1 half-open, 2 open)."""
        return {**self.stats.snapshot(), **self.storage.gauges()}

    async def close(self) -> None:
        if self._close is not None:
            await self._close()
