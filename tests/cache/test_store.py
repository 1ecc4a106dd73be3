"""The cache never fails a request: Redis killed, paused (slow) or full gives misses within the timeout,
counted, with a breaker that stops trying and one log line per interval; it recovers when Redis does."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

import orjson
import redis.asyncio as redis_client

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece
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
        assert cache.stats.errors + cache.stats.breaker_skips == 21  # every operation failed or was skipped
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
