"""The response cache's Redis misbehaving under a running sidecar: a wrong password (then the right one
written to its file), Redis restarted mid-run, Redis full (``noeviction``). Every request is answered;
the cache is a miss while Redis cannot serve it and hits again once it can."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as redis_client
import redis.exceptions

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from ..waiting import until
from .cache_helpers import REDIS_WAITS, ask, cache_policy, metrics_text, redis_store, stored
from .cache_relay_helpers import RedisRelay

QUICK_BREAKER = "breaker: {minimum_calls: 2, open_s: 0.5, open_max_s: 1}"


async def _states(running: RunningSidecar, count: int, pause_s: float = 0.0) -> list[str]:
    """``count`` requests' x-sidecar-cache, each answered (``pause_s`` apart)."""
    states = []
    for _ in range(count):
        answer, raw = await ask(running)
        assert raw.status_code == 200 and answer.choices[0].message.content
        states.append(raw.headers["x-sidecar-cache"])
        await asyncio.sleep(pause_s)
    return states


async def test_a_wrong_password_is_a_miss_until_the_right_one_is_in_its_file(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """The password file holds a wrong password: requests are answered (misses), one log line says why
    without either password; once the right one is written, the next connections use it and hit."""
    server = start_redis("--requirepass", "right-pw")
    secret = tmp_path / "password"
    secret.write_text("wrong-pw\n")
    store = f"{{redis: {{url: '{server.url}', {REDIS_WAITS}, password: {{file: '{secret}'}}}}, {QUICK_BREAKER}}}"
    running = await sidecar(cache_policy([await fake("f0")], store=store))
    assert await _states(running, 3) == ["miss"] * 3
    secret.write_text("right-pw\n")
    # Once the breaker's open period is over a probe connects with the right password, a miss writes the
    # entry and the next request hits: however long each step takes on a loaded machine.
    await until(lambda: _states(running, 1), lambda states: states == ["hit"], timeout_s=30, every_s=0.1)
    assert await _states(running, 1) == ["hit"]
    logs = running.logs.getvalue().decode()
    assert '"AuthenticationError"' in logs and "wrong-pw" not in logs and "right-pw" not in logs


async def test_redis_restarted_mid_run_is_used_again(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Redis goes away (its entries with it) and comes back: requests are misses meanwhile, and hits
    again once the breaker has let a probe through."""
    store = f"{{redis: {{url: '{redis_server.url}', timeout_s: 0.5}}, {QUICK_BREAKER}}}"
    running = await sidecar(cache_policy([await fake("f0")], store=store))
    await ask(running)
    await stored(redis_server.url)
    assert await _states(running, 1) == ["hit"]
    redis_server.kill()
    assert await _states(running, 3) == ["miss"] * 3
    redis_server.start()
    states = await _states(running, 12, 0.25)
    assert states[0] == "miss" and states[-1] == "hit"


async def test_a_full_redis_refuses_entries_and_every_request_is_answered(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer]
) -> None:
    """Redis at ``maxmemory`` with ``noeviction`` refuses writes (OOM): each request is answered by the
    upstream (a miss), each refused write counted as a store error, one log line for them."""
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    async with redis_client.from_url(server.url) as client:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for i in range(10_000):
                await client.set(f"junk{i}", b"x" * 10_000)
    running = await sidecar(cache_policy([await fake("f0")], store=f"{{redis: {{url: '{server.url}', timeout_s: 1}}}}"))
    assert await _states(running, 3, 0.1) == ["miss"] * 3
    text = await metrics_text(running)
    assert 'llm_sidecar_cache_store_errors_total{kind="error"} 3.0' in text
    assert running.logs.getvalue().decode().count('"cache_store_failing"') == 1


async def test_a_lookup_on_a_connection_dropped_on_the_way_is_retried_and_hits(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """A middlebox between the sidecar and Redis forgets the idle connections (an idle timeout) and resets
    each when it is next used: the next request's ``GET`` fails on its dead connection, is sent again once
    on a fresh connection and hits; the failed one is counted as a store error."""
    relay = await RedisRelay.start(redis_server.port)
    try:
        running = await sidecar(cache_policy([await fake("f0")], store=redis_store(relay.url)))
        await ask(running)
        await stored(redis_server.url)
        assert await _states(running, 1) == ["hit"]
        relay.forget()
        assert await _states(running, 1) == ["hit"]
        assert 'llm_sidecar_cache_store_errors_total{kind="error"} 1.0' in await metrics_text(running)
    finally:
        await relay.close()
