"""A reload that turns off every caching route while a miss is in flight (docs/caching.md, "Reloads"):
the miss's answer reaches its app, and its write, which has no store left, is counted in
``llm_sidecar_cache_stores_total{result="skipped"}`` with a ``cache_write_skipped`` line giving the
reason (before wave 28 it was counted on the retired store after its last counts were read: neither
``stored`` nor ``skipped`` moved). A write already on its way to a real redis-server when the reload
retires the store is counted ``stored`` once it lands (before wave 29 it was lost from the metrics)."""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from ..upstream.raw import ServerConn, UpstreamFactory, response
from ..waiting import until
from .cache_helpers import ask, cache_policy, redis_store

ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "up0",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "held"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
)


async def writes(running: RunningSidecar) -> dict[str, float]:
    """``llm_sidecar_cache_stores_total`` by ``result``."""
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as answer:
        text = await answer.text()
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "llm_sidecar_cache_stores_total"
    }


async def test_a_miss_whose_caching_route_a_reload_turned_off_counts_its_write_skipped(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The upstream holds its answer until the reload (the route without ``cache``: no store at all) is
    served; then the answer reaches the app, and ``skipped`` moves by one, ``stored`` not at all."""
    release = asyncio.Event()

    async def held(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await release.wait()
            await conn.send(response(ANSWER, headers="content-type: application/json\r\n"))

    upstream = await raw_upstream(held)
    running = await sidecar(cache_policy([upstream.base]))
    asked = asyncio.ensure_future(ask(running))
    await until(lambda: asyncio.sleep(0, len(upstream.requests)), lambda seen: seen == 1)
    await running.reload(cache_policy([upstream.base]).replace(", cache: {enabled: true}", ""))
    assert running.state.caches.cache is None
    release.set()
    answer, raw = await asked
    assert answer.choices[0].message.content == "held" and raw.headers["x-sidecar-cache"] == "miss"
    counted = await until(lambda: writes(running), lambda counted: counted.get("skipped", 0) >= 1)
    assert counted.get("skipped") == 1 and counted.get("stored", 0) == 0
    [line] = [line for line in running.log_lines() if line.get("event") == "cache_write_skipped"]
    assert line["reason"] == "store_retired"


async def test_a_redis_write_in_flight_when_a_reload_retires_its_store_is_counted_stored(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """The redis-server is paused (SIGSTOP) while a miss's call is upstream (its lookup done): its answer
    reaches the app and its write waits on Redis; a reload turns the cache off (the store retired, its
    last counts read); Redis resumes, the write lands, and ``stored`` moves by one, ``skipped`` not at all."""
    upstream = await fake("up", latency_ms=500)
    policy = cache_policy([upstream], store=redis_store(redis_server.url))
    running = await sidecar(policy)
    assert redis_server.process is not None
    asked = asyncio.ensure_future(ask(running))
    await until(lambda: running.fake_requests(upstream), lambda seen: len(seen) == 1)
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        _, raw = await asked
        assert raw.headers["x-sidecar-cache"] == "miss"
        await running.reload(policy.replace(", cache: {enabled: true}", "").split("cache: {redis")[0])
        assert running.state.caches.cache is None
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    counted = await until(lambda: writes(running), lambda counted: counted.get("stored", 0) >= 1)
    assert counted.get("stored") == 1 and counted.get("skipped", 0) == 0
