"""The response cache in a real ``redis-server``: shared by sidecars that name it, a password from the
environment, and Redis going away mid-test never failing a request (misses, counted)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as redis_client

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from .cache_helpers import ask, cache_policy, metrics_text, redis_store, stored, upstream_calls


async def test_an_answer_stored_in_redis_serves_another_sidecar(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Two sidecars naming the same Redis share entries: the second one's first request is a hit."""
    url = await fake("f0")
    policy = cache_policy([url], store=redis_store(redis_server.url))
    first, second = await sidecar(policy), await sidecar(policy)
    _, raw = await ask(first)
    assert raw.headers["x-sidecar-cache"] == "miss"
    await stored(redis_server.url)
    _, raw = await ask(second)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert await upstream_calls(first, url) == 1


async def test_each_redis_hit_has_its_own_id_and_the_time_it_was_asked(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """A whole answer served from Redis (its id and ``created`` made while the ``GET`` was on its way) has an id
    of its own at every hit, of the form the upstream's has, and the time it was asked, not the stored one's."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    stored_answer, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss"
    await stored(redis_server.url)
    before = int(time.time())
    hits = [await ask(running) for _ in range(3)]
    assert [raw.headers["x-sidecar-cache"] for _, raw in hits] == ["hit"] * 3
    ids = {answer.id for answer, _ in hits}
    assert len(ids) == 3 and stored_answer.id not in ids
    assert all(answer.id.startswith("chatcmpl-") and len(answer.id) == 33 for answer, _ in hits)
    assert all(before <= answer.created <= time.time() for answer, _ in hits)


async def test_a_redis_password_comes_from_the_environment(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer]
) -> None:
    """A Redis with requirepass is used with the password from password.env: entries are stored and hit."""
    server = start_redis("--requirepass", "s3cret-pw")
    url = await fake("f0")
    store = redis_store(server.url, ", password: {env: CACHE_REDIS_PASSWORD}")
    running = await sidecar(cache_policy([url], store=store), env={"CACHE_REDIS_PASSWORD": "s3cret-pw"})
    await ask(running)
    await stored(server.url, password="s3cret-pw")
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert "s3cret-pw" not in running.logs.getvalue().decode()


async def test_requests_keep_succeeding_when_redis_dies(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Redis killed mid-test: every request still succeeds from the upstream, as a miss; the store's
    errors are counted in /metrics, and the breaker stops further tries."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    await ask(running)
    redis_server.kill()
    for i in range(6):
        answer, raw = await ask(running, messages=[{"role": "user", "content": f"question {i}"}])
        assert raw.headers["x-sidecar-cache"] == "miss"
        assert answer.choices[0].message.content
    text = await metrics_text(running)
    errors = sum(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("llm_sidecar_cache_store_errors_total{")
        and ('kind="error"' in line or 'kind="timeout"' in line)
    )
    skipped = next(line for line in text.splitlines() if 'kind="breaker_open"' in line)
    assert errors >= 2 and float(skipped.split()[1]) >= 1
    assert "llm_sidecar_cache_breaker_state 2.0" in text
    assert await upstream_calls(running, url) == 7


async def test_a_sidecar_connects_to_redis_when_its_cache_opens(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """The Redis store is connected before the first request (its first lookup is one round trip, not a
    connect too): Redis lists the sidecar's connection while no request has been made."""
    url = await fake("f0")
    await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    async with redis_client.from_url(redis_server.url) as client:
        for _ in range(100):
            clients = await client.client_list()
            if len(clients) > 1:  # this test's own connection, and the sidecar's
                break
            await asyncio.sleep(0.05)
    assert len(clients) == 2


async def test_an_app_name_with_a_slash_cannot_read_another_deployments_entries(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Deployment ``shop/payments`` (its app ``x``) and deployment ``shop`` sending ``x-sidecar-app:
    payments/x`` share a Redis: the second must not read the first's entry (the scope is not a string
    both can spell)."""
    url = await fake("f0")
    policy = cache_policy([url], store=redis_store(redis_server.url))
    victim = await sidecar(policy, app_name="shop/payments")
    attacker = await sidecar(policy, app_name="shop")
    _, raw = await ask(victim, headers={"x-sidecar-app": "x"})
    assert raw.headers["x-sidecar-cache"] == "miss"
    await stored(redis_server.url)
    _, raw = await ask(attacker, headers={"x-sidecar-app": "payments/x"})
    assert raw.headers["x-sidecar-cache"] == "miss"
    assert await upstream_calls(victim, url) == 2


async def test_a_password_file_missing_at_start_opens_the_cache_once_it_is_written(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """The cache's password file is not there when the cache is built (a Secret key added later): the
    routes run uncached, and once the kubelet writes the file (the policy untouched) the next reload poll
    opens the store: answers are cached, with one cache_unavailable line and no password in the logs."""
    server = start_redis("--requirepass", "s3cret-pw")
    url = await fake("f0")
    secret = tmp_path / "secrets" / "password"
    store = redis_store(server.url, f", password: {{file: '{secret}'}}")
    running = await sidecar(cache_policy([url], store=store))
    _, raw = await ask(running)
    assert "x-sidecar-cache" not in raw.headers and running.state.caches.cache is None  # uncached
    secret.parent.mkdir()
    secret.write_text("s3cret-pw\n")
    for _ in range(100):
        if running.state.caches.cache is not None:
            break
        await asyncio.sleep(0.05)
    await ask(running)
    await stored(server.url, password="s3cret-pw")
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit"
    logs = running.logs.getvalue().decode()
    assert logs.count('"cache_unavailable"') == 1 and "s3cret-pw" not in logs


async def test_a_cache_password_that_cannot_be_read_shows_in_a_metric_until_it_can(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """The cache's password file is missing: /metrics says so (``llm_sidecar_cache_unavailable 1``, an
    alert's input: the log line alone was the only sign), and once the file is written and the store
    opens, it says 0 again."""
    server = start_redis("--requirepass", "s3cret-pw")
    url = await fake("f0")
    secret = tmp_path / "password"
    running = await sidecar(cache_policy([url], store=redis_store(server.url, f", password: {{file: '{secret}'}}")))
    await ask(running)
    assert "llm_sidecar_cache_unavailable 1.0" in await metrics_text(running)
    secret.write_text("s3cret-pw\n")
    for _ in range(100):
        if running.state.caches.cache is not None:
            break
        await asyncio.sleep(0.05)
    assert "llm_sidecar_cache_unavailable 0.0" in await metrics_text(running)


async def test_a_request_asked_again_while_its_answer_is_written_to_redis_is_a_hit(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """A request asked again as soon as its first answer came, while that answer's write to Redis is still
    on its way (Redis holds writes: ``CLIENT PAUSE ... WRITE``; reads go on), is served the first answer
    (a hit, single flight), not sent upstream a second time; the entry lands once Redis takes writes."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    (first, first_raw), (second, second_raw) = await _asked_while_writes_wait(running, redis_server, {})
    assert [first_raw.headers["x-sidecar-cache"], second_raw.headers["x-sidecar-cache"]] == ["miss", "hit"]
    assert second.choices[0].message.content == first.choices[0].message.content
    assert await upstream_calls(running, url) == 1
    await stored(redis_server.url)


async def test_a_refresh_asked_while_the_answer_is_written_to_redis_calls_the_upstream(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """The app refreshes (``x-sidecar-cache: refresh``: it wants a new answer, say to the one it just got)
    as soon as the first answer came, while that answer's write to Redis is on its way (``CLIENT PAUSE ...
    WRITE``): the refresh goes upstream (a miss), not served the answer it asked to replace as a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    (_, first), (_, refreshed) = await _asked_while_writes_wait(running, redis_server, {"x-sidecar-cache": "refresh"})
    assert [first.headers["x-sidecar-cache"], refreshed.headers["x-sidecar-cache"]] == ["miss", "miss"]
    assert await upstream_calls(running, url) == 2


async def _asked_while_writes_wait(
    running: RunningSidecar, redis_server: RedisServer, headers: dict[str, str]
) -> list[tuple[Any, Any]]:
    """Two requests, the second (with ``headers``) as soon as the first answered, while Redis holds writes
    (``CLIENT PAUSE ... WRITE``; reads go on): each ``ask``'s answer and response."""
    async with redis_client.from_url(redis_server.url) as client:
        await client.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
        try:
            return [await ask(running), await ask(running, headers=headers)]
        finally:
            await client.execute_command("CLIENT", "UNPAUSE")
