"""The response cache's Redis store replaced by reloads while requests are in flight on it: the old
store's connections are all closed, none reopened by the requests that still held it."""

from __future__ import annotations

import asyncio

from ..conftest import FakeFactory, SidecarFactory
from ..redis_server import RedisServer
from ..waiting import until
from .cache_helpers import PROMPT, ask, cache_policy


def store(url: str, prefix: str) -> str:
    return f"{{redis: {{url: '{url}', timeout_s: 1, max_connections: 2, key_prefix: {prefix}}}}}"


def sidecar_connections(redis_server: RedisServer) -> int:
    """The connections open on the Redis (this check's own left out)."""
    with redis_server.client() as client:
        return sum(1 for c in client.client_list() if c["cmd"] not in ("client", "client|list"))


async def test_requests_in_flight_on_a_replaced_redis_store_leave_no_connection_open(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Five reloads, each changing the store's key prefix while three requests wait on a slow upstream
    (their lookups done on the old store, their writes to come): every answer is right, and afterwards
    only the serving store's connections (at most its max_connections, 2) are open on Redis, where
    each reload left the old store's reopened connections behind."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=store(redis_server.url, "k0")))
    for i in range(1, 6):
        slow = [[{"role": "user", "content": f"[fault:stall=1] round {i} question {j}"}] for j in range(3)]
        asked = [asyncio.ensure_future(ask(running, messages=messages)) for messages in slow]
        # at the provider (recorded as it arrives, answered a second later): their lookups are done
        await until(lambda: running.fake_requests(url), lambda seen, i=i: len(seen) == 3 * i)
        await running.reload(cache_policy([url], store=store(redis_server.url, f"k{i}")))
        for answer, raw in await asyncio.gather(*asked):
            assert raw.status_code == 200 and answer.choices[0].message.content
    _, raw = await ask(running, messages=PROMPT)
    # the writes after the answers, and the old stores' closes: however long they take on a loaded machine
    await until(lambda: sidecar_connections(redis_server), lambda open_now: open_now <= 2)
