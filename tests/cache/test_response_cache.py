"""ResponseCache on the memory store: hits within the TTL, stale entries kept for the last resort only,
what is stored and what is not, damaged entries, and the counters the metrics read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece, encode
from sidecar.cache.memory import BoundedMemoryBackend
from sidecar.cache.response_cache import MISS
from sidecar.cache.stats import CacheStats
from sidecar.cache.store import MemoryStore
from sidecar.translate.common import FinishReason, Usage

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=60, stale_s=600)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _entry(stored_at: float, finish: FinishReason = FinishReason.STOP, text: str = "answer") -> Entry:
    return Entry((TextPiece(text),), finish, None, Usage(10, 4), "gpt-4o", "gpt", "openai", stored_at, 0.25)


def _cache(clock: Clock, max_entry_bytes: int = 1 << 20, wall: Clock | None = None) -> ResponseCache:
    """A memory cache whose store's (monotonic) clock is ``clock``; its wall clock ``wall`` (default: the
    same)."""
    store = MemoryStore(BoundedMemoryBackend(100, 1 << 20, clock=clock), CacheStats())
    return ResponseCache(store, max_entry_bytes=max_entry_bytes, clock=wall or clock)


async def test_fresh_entry_is_a_hit_with_its_age() -> None:
    """Within ttl_s a lookup is a hit carrying the entry and its age; saved cost is counted."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    assert await cache.store("k", _entry(1000.0), SETTINGS) is None
    clock.now = 1030.0
    lookup = await cache.lookup("k", SETTINGS)
    assert (lookup.state, lookup.age_s) == ("hit", 30.0)
    assert lookup.entry is not None and lookup.entry.pieces == (TextPiece("answer"),)
    snap = cache.snapshot()
    assert (snap["hits"], snap["stores"], snap["saved_cost_usd"], snap["saved_output_tokens"]) == (1, 1, 0.25, 4)


async def test_store_in_memory_stores_and_refuses_as_store_does() -> None:
    """The memory store's synchronous write: a good answer is stored and then a hit; a truncated one is
    refused for the same reason ``store`` gives, and each is counted."""
    cache = _cache(Clock(1000.0))
    assert cache.in_memory
    assert cache.store_in_memory("k", _entry(1000.0), SETTINGS) is None
    assert cache.store_in_memory("t", _entry(1000.0, FinishReason.LENGTH), SETTINGS) == "truncated"
    assert (await cache.lookup("k", SETTINGS)).state == "hit"
    assert (cache.stats.stores, cache.stats.store_skips) == (1, 1)


async def test_absent_key_is_a_miss() -> None:
    """Nothing stored: a miss without a stale entry."""
    cache = _cache(Clock(0.0))
    lookup = await cache.lookup("nothing", SETTINGS)
    assert (lookup.state, lookup.entry, lookup.stale) == ("miss", None, None)
    assert cache.stats.misses == 1


async def test_entry_past_ttl_is_a_miss_that_keeps_it_for_the_last_resort() -> None:
    """Past ttl_s but within the stale window: a miss for the request, the entry kept as stale."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    await cache.store("k", _entry(1000.0), SETTINGS)
    clock.now = 1000.0 + 61
    lookup = await cache.lookup("k", SETTINGS)
    assert (lookup.state, lookup.entry) == ("miss", None)
    assert lookup.stale is not None
    stale = await cache.stale("k", SETTINGS, lookup)
    assert stale == (lookup.stale, 61.0)
    assert cache.stats.stale == 1


async def test_stale_reads_the_store_when_no_lookup_was_made() -> None:
    """The last resort finds a stale entry by itself when the request skipped the lookup (refresh)."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    await cache.store("k", _entry(1000.0), SETTINGS)
    clock.now = 1500.0
    found = await cache.stale("k", SETTINGS)
    assert found is not None and found[0].stored_at == 1000.0 and found[1] == 500.0


async def test_entry_past_the_stale_window_is_gone_for_everyone() -> None:
    """Past ttl_s + stale_s neither the request nor the last resort gets it."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    await cache.store("k", _entry(1000.0), SETTINGS)
    clock.now = 1000.0 + 60 + 600 + 1
    lookup = await cache.lookup("k", SETTINGS)
    assert (lookup.state, lookup.stale) == ("miss", None)
    assert await cache.stale("k", SETTINGS) is None


class Readings:
    """A clock giving ``readings`` in turn, then the last one again."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_a_memory_hits_age_is_told_from_the_reading_its_deadline_was_judged_by() -> None:
    """A memory lookup reads the store's clock once: an entry found alive half a second before its ttl_s
    ends is a hit aged as of that reading, whatever the clock says later (before: a second, later reading
    told its age, and an entry the store had just found alive was a miss)."""
    clock = Readings(1000.0, 1059.5, 1061.0)  # the store, the lookup, and any later reading
    store = MemoryStore(BoundedMemoryBackend(100, 1 << 20, clock=clock), CacheStats())
    cache = ResponseCache(store, max_entry_bytes=1 << 20)
    assert cache.store_in_memory("k", _entry(1000.0), SETTINGS) is None
    lookup = cache.lookup_in_memory("k", SETTINGS)
    assert (lookup.state, lookup.age_s) == ("hit", 59.5)


def test_a_memory_entry_read_at_its_deadline_is_gone() -> None:
    """An entry read at the very reading its ``ttl_s + stale_s`` ends (its deadline) is expired: a miss
    with no stale entry, removed and counted as expired (docs/caching.md: no entry answers past ttl_s +
    stale_s)."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    assert cache.store_in_memory("k", _entry(1000.0), SETTINGS) is None
    clock.now = 1000.0 + 60 + 600
    assert cache.lookup_in_memory("k", SETTINGS) == MISS
    assert cache.snapshot()["expirations"] == 1 and cache.snapshot()["entries"] == 0


async def test_freshness_follows_the_route_current_ttl() -> None:
    """A shorter TTL in a reloaded policy makes an old entry stale at once (judged when reading)."""
    clock = Clock(1000.0)
    cache = _cache(clock)
    await cache.store("k", _entry(1000.0), SETTINGS)
    clock.now = 1030.0
    shorter = SETTINGS.model_copy(update={"ttl_s": 10.0})
    assert (await cache.lookup("k", shorter)).state == "miss"
    assert (await cache.lookup("k", SETTINGS)).state == "hit"


async def test_a_memory_entrys_age_follows_the_monotonic_clock_whatever_the_wall_clock_does() -> None:
    """The wall clock steps two hours forward, then a day back (a VM resumed, NTP stepping it) while the
    store's monotonic clock moves 30 s: the entry is a hit 30 s old both times (before, told by the wall
    clock: a miss 2 hours old, then a hit 0 s old)."""
    mono, wall = Clock(1000.0), Clock(50_000.0)
    cache = _cache(mono, wall=wall)
    assert cache.store_in_memory("k", _entry(wall.now), SETTINGS) is None
    mono.now += 30
    for step in (7200.0, -86_400.0):
        wall.now += step
        lookup = cache.lookup_in_memory("k", SETTINGS)
        assert (lookup.state, lookup.age_s) == ("hit", 30.0)
        assert (await cache.lookup("k", SETTINGS)).age_s == 30.0


async def test_a_memory_entry_past_its_ttl_is_no_hit_when_the_wall_clock_steps_back() -> None:
    """61 s after it was stored (ttl_s 60) with the wall clock stepped an hour back, the entry is a miss
    kept for the last resort, served 61 s old; past ttl_s + stale_s it is gone for both (before, told by
    the wall clock: a hit 0 s old, served past its TTL)."""
    mono, wall = Clock(1000.0), Clock(50_000.0)
    cache = _cache(mono, wall=wall)
    cache.store_in_memory("k", _entry(wall.now), SETTINGS)
    mono.now += 61
    wall.now -= 3600
    lookup = cache.lookup_in_memory("k", SETTINGS)
    assert (lookup.state, lookup.stale is not None) == ("miss", True)
    assert await cache.stale("k", SETTINGS, lookup) == (lookup.stale, 61.0)
    mono.now += 600
    assert cache.lookup_in_memory("k", SETTINGS) == MISS
    assert await cache.stale("k", SETTINGS) is None


async def test_truncated_answers_are_stored_only_when_allowed() -> None:
    """A length-cut answer is refused unless store_truncated; refusals never."""
    cache = _cache(Clock(0.0))
    assert await cache.store("a", _entry(0.0, FinishReason.LENGTH), SETTINGS) == "truncated"
    allowed = SETTINGS.model_copy(update={"store_truncated": True})
    assert await cache.store("a", _entry(0.0, FinishReason.LENGTH), allowed) is None
    assert await cache.store("b", _entry(0.0, FinishReason.CONTENT_FILTER), allowed) == "refused"
    assert (cache.stats.stores, cache.stats.store_skips) == (1, 2)


async def test_answers_over_max_entry_bytes_are_not_stored() -> None:
    """An encoded answer larger than max_entry_bytes is skipped, and the lookup stays a miss."""
    cache = _cache(Clock(0.0), max_entry_bytes=200)
    assert await cache.store("k", _entry(0.0, text="x" * 500), SETTINGS) == "too_large"
    assert (await cache.lookup("k", SETTINGS)).state == "miss"


async def test_damaged_entry_is_a_miss_and_is_dropped() -> None:
    """Bytes that do not decode are counted, deleted, and answered as a miss (never an error)."""
    cache = _cache(Clock(0.0))
    await cache.storage.set("k", encode(_entry(0.0))[:-3], 60)
    assert (await cache.lookup("k", SETTINGS)).state == "miss"
    assert cache.stats.damaged == 1
    assert await cache.storage.get("k") is None


@pytest.mark.parametrize("age_s", [30.0, 61.0, 60 + 600 + 1.0], ids=["fresh", "stale", "gone"])
async def test_lookup_in_memory_finds_what_lookup_finds(age_s: float) -> None:
    """The memory store's lookup without a coroutine judges an entry as ``lookup`` does (hit and age,
    a miss carrying the stale entry, a miss without it) and counts the same."""
    results: list[tuple[object, ...]] = []
    for sync in (False, True):
        clock = Clock(1000.0)
        cache = _cache(clock)
        cache.store_in_memory("k", _entry(1000.0), SETTINGS)
        clock.now = 1000.0 + age_s
        lookup = cache.lookup_in_memory("k", SETTINGS) if sync else await cache.lookup("k", SETTINGS)
        results.append((lookup.state, lookup.age_s, lookup.entry is not None, lookup.stale is not None))
        results.append(tuple(cache.snapshot()[name] for name in ("lookups", "hits", "misses", "saved_cost_usd")))
    assert results[:2] == results[2:]


def test_lookup_in_memory_reads_entries_written_as_bytes() -> None:
    """An entry written to the memory store as encoded bytes (``set``) is decoded and found."""
    cache = _cache(Clock(0.0))
    assert isinstance(cache.storage, MemoryStore)
    assert cache.storage.write("k", encode(_entry(0.0)), 60)
    lookup = cache.lookup_in_memory("k", SETTINGS)
    assert lookup.state == "hit" and lookup.entry is not None and lookup.entry.pieces == (TextPiece("answer"),)


def test_lookup_in_memory_drops_a_damaged_entry_as_a_miss() -> None:
    """Bytes that do not decode are counted, removed and a miss for the lookup without a coroutine too."""
    cache = _cache(Clock(0.0))
    assert isinstance(cache.storage, MemoryStore)
    assert cache.storage.write("k", encode(_entry(0.0))[:-3], 60)
    assert cache.lookup_in_memory("k", SETTINGS).state == "miss"
    assert cache.stats.damaged == 1
    assert cache.storage.backend.read("k") is None


async def test_snapshot_has_the_memory_gauges() -> None:
    """The snapshot carries entries, bytes, evictions and expirations of the memory store."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    await cache.store("k", _entry(0.0), SETTINGS.model_copy(update={"ttl_s": 1e9}))
    snap = cache.snapshot()
    assert snap["entries"] == 1
    assert snap["bytes"] > 0
    assert (snap["evictions"], snap["expirations"], snap["errors"]) == (0, 0, 0)
    await cache.close()


async def test_store_keeps_entries_for_ttl_plus_stale_window() -> None:
    """The store's own expiry is ttl_s + stale_s, so the last resort can still find the entry."""
    backend = BoundedMemoryBackend(10, 1 << 20, clock=Clock(0.0))
    cache = ResponseCache(MemoryStore(backend, CacheStats()), max_entry_bytes=1 << 20)
    await cache.store("k", _entry(0.0), SETTINGS)
    assert backend._deadlines["k"] == 660.0


def test_importing_the_cache_loads_neither_aiocache_nor_redis() -> None:
    """A sidecar without a cache pays nothing at start-up: aiocache (and redis, which it imports) load only
    when a cache is built."""
    code = (
        "import sys, sidecar.cache as c\n"
        "before = ('aiocache' in sys.modules, 'redis' in sys.modules)\n"
        "c.ResponseCache.from_spec(c.CacheStoreSpec())\n"
        "print(before, 'aiocache' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(False, False) True"
