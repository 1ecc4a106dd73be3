"""The cache never fails a request: Redis killed, paused (slow) or full gives misses within the timeout,
counted, with a breaker that stops trying and one log line per interval; it recovers when Redis does.
The memory store keeps entries as objects, with a whole-body template per dialect, all counted."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable

import orjson
import pytest
import redis.asyncio as redis_client

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece, footprint
from sidecar.cache.memory import ENTRY_OVERHEAD, BoundedMemoryBackend
from sidecar.cache.pending import Pending
from sidecar.cache.stats import CacheStats
from sidecar.cache.store import KEPT_OVERHEAD, KEPT_SLACK, Kept, MemoryStore
from sidecar.dialects import Dialect
from sidecar.telemetry.logging import configure_logging
from sidecar.translate.common import FinishReason

from .conftest import RedisServer

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=600)
TIMEOUT_S = 0.5  # short, yet long enough for a connect on a busy machine


def _entry(text: str = "answer") -> Entry:
    return Entry((TextPiece(text),), FinishReason.STOP, None, None, "m", "t", "p", time.time(), None)


def _cache(server: RedisServer, **spec: object) -> ResponseCache:
    document = {
        "redis": {"url": server.url, "timeout_s": TIMEOUT_S, "connect_timeout_s": TIMEOUT_S},
        "breaker": {"window_size": 4, "minimum_calls": 4, "failure_rate": 0.5, "open_s": 0.3},
        **spec,
    }
    return ResponseCache.from_spec(CacheStoreSpec.model_validate(document))


async def _timed_lookup(cache: ResponseCache, key: str) -> tuple[str, float]:
    started = time.monotonic()
    lookup = await cache.lookup(key, SETTINGS)
    return lookup.state, time.monotonic() - started


async def test_redis_killed_mid_test_gives_misses_then_recovers(redis_server: RedisServer) -> None:
    """Killed: every lookup and store is a miss, none raises or waits past the timeout, the breaker
    stops the tries; restarted: entries are stored and found again."""
    cache = _cache(redis_server)
    try:
        assert await cache.store("k", _entry(), SETTINGS) is None
        assert (await cache.lookup("k", SETTINGS)).state == "hit"
        redis_server.kill()
        results = [await _timed_lookup(cache, "k") for _ in range(20)]
        assert {state for state, _ in results} == {"miss"}
        assert max(elapsed for _, elapsed in results) < TIMEOUT_S + 0.5
        assert await cache.store("k2", _entry(), SETTINGS) == "store_failed"
        # every operation failed or was skipped, the first lookup's GET twice: on the connection Redis's death
        # closed before the loop saw it (retried, counted), then on a connect that failed
        assert cache.stats.errors + cache.stats.breaker_skips == 22
        assert cache.stats.breaker_skips > 0  # once open, no more connection attempts
        assert cache.snapshot()["breaker_state"] == 2

        redis_server.start()
        await asyncio.sleep(0.35)  # the breaker's open period
        for _ in range(10):  # a probe closes the breaker
            if await cache.store("k3", _entry(), SETTINGS) is None:
                break
            await asyncio.sleep(0.1)
        assert (await cache.lookup("k3", SETTINGS)).state == "hit"
    finally:
        await cache.close()


async def test_slow_redis_is_a_miss_within_the_timeout(redis_server: RedisServer) -> None:
    """A Redis that does not answer (CLIENT PAUSE) costs one timeout, then the lookup is a miss."""
    cache = _cache(redis_server)
    admin = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("k", _entry(), SETTINGS)
        await admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # ends by itself
        state, elapsed = await _timed_lookup(cache, "k")
        assert state == "miss"
        assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.5
        assert cache.stats.timeouts == 1
    finally:
        await admin.aclose()
        await cache.close()


async def test_a_reply_that_came_too_late_is_never_read_as_the_next_ones(redis_server: RedisServer) -> None:
    """A lookup cut off by the store's timeout (the client has no socket timeout of its own) leaves no
    late reply on a pooled connection: the next lookup, of another key, gets its own entry."""
    cache = _cache(redis_server)
    admin = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("a", _entry("answer a"), SETTINGS)
        await cache.store("b", _entry("answer b"), SETTINGS)
        await admin.execute_command("CLIENT", "PAUSE", "800", "ALL")  # the GET of "a" is answered after it
        assert (await cache.lookup("a", SETTINGS)).state == "miss"
        await asyncio.sleep(0.5)  # the pause is over, and the reply to "a" has been sent
        lookup = await cache.lookup("b", SETTINGS)
        assert lookup.entry is not None
        assert lookup.entry.pieces == (TextPiece("answer b"),)
    finally:
        await admin.aclose()
        await cache.close()


async def test_a_lookup_whose_caller_is_cancelled_is_cancelled_not_a_miss(redis_server: RedisServer) -> None:
    """A caller cancelled while its ``GET`` waits for a paused Redis gets the cancellation, not a miss: the
    store's timeout tells its own cancellation from the caller's (no timeout, no error counted)."""
    cache = _cache(redis_server)
    admin = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("k", _entry(), SETTINGS)
        await admin.execute_command("CLIENT", "PAUSE", "800", "ALL")  # ends by itself
        lookup = asyncio.ensure_future(cache.lookup("k", SETTINGS))
        await asyncio.sleep(TIMEOUT_S / 5)
        lookup.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lookup
        assert (cache.stats.timeouts, cache.stats.errors) == (0, 0)
    finally:
        await admin.aclose()
        await cache.close()


async def test_a_lookups_ahead_work_runs_while_its_get_is_on_its_way(redis_server: RedisServer) -> None:
    """``lookup``'s ``ahead`` runs once the ``GET`` is written and before its reply is read (no byte of it
    counted yet), once, and the lookup is the hit it would have been."""
    cache = _cache(redis_server)
    read_then: list[int] = []
    try:
        await cache.store("k", _entry(), SETTINGS)
        lookup = await cache.lookup("k", SETTINGS, ahead=lambda: read_then.append(cache.stats.bytes_read))
        assert (lookup.state, read_then) == ("hit", [0])
        assert cache.stats.bytes_read > 0
    finally:
        await cache.close()


async def test_a_closed_breaker_counts_each_lookups_success(redis_server: RedisServer) -> None:
    """A closed breaker's window counts every successful store and lookup: none is lost, none counted as a
    failure."""
    cache = _cache(redis_server, breaker={"window_size": 10, "minimum_calls": 10})
    breaker = cache.storage.breaker
    assert breaker is not None
    try:
        await cache.store("k", _entry(), SETTINGS)
        for _ in range(3):
            assert (await cache.lookup("k", SETTINGS)).state == "hit"
        snapshot = breaker.snapshot()
        assert (snapshot["state"], snapshot["calls_in_window"], snapshot["failures_in_window"]) == ("closed", 4, 0)
    finally:
        await cache.close()


async def test_full_redis_refuses_the_store_without_an_error(start_redis: Callable[..., RedisServer]) -> None:
    """Redis out of memory (maxmemory, noeviction) refuses writes: not stored, counted, no exception."""
    server = start_redis("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
    cache = _cache(server)
    admin = redis_client.Redis(port=server.port)
    try:
        filler = b"x" * 100_000
        for i in range(30):
            try:
                await admin.set(f"fill{i}", filler)
            except redis_client.ResponseError:
                break  # OOM: Redis is full
        reason = await cache.store("k", _entry("a" * 50_000), SETTINGS)
        assert reason == "store_failed"
        assert cache.stats.errors == 1
        assert (await cache.lookup("k", SETTINGS)).state == "miss"
    finally:
        await admin.aclose()
        await cache.close()


async def test_one_log_line_per_interval_while_failing(redis_server: RedisServer) -> None:
    """Many failures in one interval write one log line, which counts them; the next interval, one more."""
    logs = io.BytesIO()
    configure_logging("info", stream=logs, cache=False)
    cache = _cache(redis_server, log_interval_s=60, breaker={"window_size": 100, "minimum_calls": 100})
    redis_server.kill()
    try:
        for _ in range(10):
            await cache.lookup("k", SETTINGS)
        lines = [orjson.loads(line) for line in logs.getvalue().splitlines()]
        failing = [line for line in lines if line.get("event") == "cache_store_failing"]
        assert len(failing) == 1
        assert failing[0]["failures"] == 1
        assert failing[0]["store"] == redis_server.url
        assert cache.stats.errors == 10
    finally:
        await cache.close()


async def test_memory_store_has_no_breaker_and_no_timeout() -> None:
    """The default memory store is used directly: nothing to time out, no breaker state in the snapshot."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    assert cache.storage.breaker is None
    assert "breaker_state" not in cache.snapshot()
    await cache.close()


def _memory_store(max_bytes: int = 1 << 20) -> MemoryStore:
    return MemoryStore(BoundedMemoryBackend(100, max_bytes), CacheStats())


def test_memory_store_keeps_the_entry_as_the_object_written() -> None:
    """An entry written to the memory store is read back as the same object: nothing encoded or decoded,
    and it counts its footprint (plus the key and the bookkeeping) against the byte bound."""
    store = _memory_store()
    entry = _entry()
    assert store.write_entry("k", entry, footprint(entry), 60)
    assert store.read_entry("k") is entry
    assert store.backend.bytes == footprint(entry) + KEPT_OVERHEAD + KEPT_SLACK + len("k") + ENTRY_OVERHEAD


class _TickingClock:
    """A monotonic clock one second later at each reading: tells one reading from two."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.parametrize("pending", [False, True], ids=["entry", "pending"])
def test_a_kept_answer_expires_its_ttl_after_the_reading_its_age_is_told_from(pending: bool) -> None:
    """An answer kept in memory, as an entry or pending (its entry made on its first read), is stamped and
    given its deadline from one reading of the store's clock: its deadline is its stamp plus the TTL, so no
    answer outlives its ``ttl_s + stale_s`` by the time between two readings (before: a second reading for
    the deadline, later than the stamp its age is told from)."""
    clock = _TickingClock()
    store = MemoryStore(BoundedMemoryBackend(100, 1 << 20, clock=clock), CacheStats())
    if pending:
        answer = Pending(b"{}", model="m", target="t", provider="p", stored_at=time.time(), cost_usd=None)
        assert store.write_pending("k", answer, 660.0, answer.size)
        stamp = answer.kept_s
    else:
        entry = _entry()
        assert store.write_entry("k", entry, footprint(entry), 660.0)
        kept = store.backend.peek("k")
        assert isinstance(kept, Kept)
        stamp = kept.stored_s
    assert store.backend._deadlines["k"] == stamp + 660.0


def test_kept_overhead_is_what_a_kept_entry_adds_to_its_entry() -> None:
    """``KEPT_OVERHEAD`` counts the ``Kept`` object and its monotonic stamp (a float), as they are."""
    store = _memory_store()
    entry = _entry()
    store.write_entry("k", entry, footprint(entry), 60)
    kept = store.read_kept("k")
    assert isinstance(kept, Kept)
    assert sys.getsizeof(kept) + sys.getsizeof(kept.stored_s) == KEPT_OVERHEAD


def test_memory_store_keeps_a_body_template_per_dialect_counted_once() -> None:
    """A whole body rendered for a hit is kept with the entry and counted once per dialect: a second hit
    in that dialect reuses it (same bytes but the fresh id), another dialect adds its own."""
    store = _memory_store()
    entry = _entry()
    store.write_entry("k", entry, footprint(entry), 60)
    before = store.backend.bytes
    first = orjson.loads(store.answer("k", entry, Dialect.OPENAI, "body"))
    counted = store.backend.bytes
    second = orjson.loads(store.answer("k", entry, Dialect.OPENAI, "body"))
    assert before < counted == store.backend.bytes
    assert first["id"] != second["id"]
    assert {**first, "id": "", "created": 0} == {**second, "id": "", "created": 0}
    store.answer("k", entry, Dialect.ANTHROPIC, "body")
    assert store.backend.bytes > counted


def test_memory_store_keeps_a_stream_per_form_counted_once() -> None:
    """A whole stream rendered for a hit is kept and counted once: a second streamed hit writes the same
    events with a fresh id; a stream with OpenAI's usage chunk is a form of its own."""
    store = _memory_store()
    entry = _entry()
    store.write_entry("k", entry, footprint(entry), 60)
    first = store.answer("k", entry, Dialect.OPENAI, "stream")
    counted = store.backend.bytes
    second = store.answer("k", entry, Dialect.OPENAI, "stream")
    assert counted == store.backend.bytes
    assert first != second and first.count(b"data: ") == second.count(b"data: ")
    assert b'"usage":{' not in first
    assert b'"usage":{' in store.answer("k", entry, Dialect.OPENAI, "stream_usage")
    assert store.backend.bytes > counted


def test_a_new_entry_under_a_key_is_not_served_an_old_template() -> None:
    """Replacing the entry under a key drops the bodies rendered for the old one: the new text is served."""
    store = _memory_store()
    old, new = _entry("old answer"), _entry("new answer")
    store.write_entry("k", old, footprint(old), 60)
    store.answer("k", old, Dialect.OPENAI, "body")
    store.write_entry("k", new, footprint(new), 60)
    body = orjson.loads(store.answer("k", new, Dialect.OPENAI, "body"))
    assert body["choices"][0]["message"]["content"] == "new answer"


def test_a_body_template_that_does_not_fit_is_rendered_but_not_kept() -> None:
    """When the template would take the entry past the byte bound, the hit is still answered, and
    nothing more is counted."""
    entry = _entry("x" * 400)
    size = footprint(entry) + KEPT_OVERHEAD + KEPT_SLACK + len("k") + ENTRY_OVERHEAD
    store = _memory_store(max_bytes=size + 100)
    store.write_entry("k", entry, footprint(entry), 60)
    body = orjson.loads(store.answer("k", entry, Dialect.OPENAI, "body"))
    assert body["choices"][0]["message"]["content"] == "x" * 400
    assert store.backend.bytes == size
