"""A Redis budget store retired by a reload (``close``) while requests are in flight on it: their
settlements still count, and no connection they open is left behind."""

from __future__ import annotations

import time

from sidecar.budgets.redis_store import RedisStore
from sidecar.budgets.spec import StoreSpec
from sidecar.budgets.store import CounterRef

from .conftest import RedisServer
from .redis_ledgers import GENEROUS


def connections(redis_server: RedisServer) -> int:
    """The connections open on the Redis (this check's own left out)."""
    with redis_server.client() as client:
        return sum(1 for c in client.client_list() if c["cmd"] not in ("client", "client|list"))


async def test_a_settlement_after_the_close_counts_and_leaves_no_connection_open(
    redis_url: str, redis_server: RedisServer
) -> None:
    """A request reserved on the store, the store closed (a reload changed ``budgets.store``), then the
    request settles: its actual use is counted, and the connection the settlement opened is closed
    after it (each such reload left one open for good)."""
    before = connections(redis_server)
    counter = CounterRef("test:{budgets}:c:a", int(time.time()) + 600, 1000)
    store = RedisStore(StoreSpec(url=redis_url, key_prefix="test", **GENEROUS))
    now = time.time()
    await store.reserve("r1", [counter], [5], now, now + 60)
    await store.close()
    await store.settle("r1", [counter], [5], [3], now + 60)
    assert connections(redis_server) == before
    reader = RedisStore(StoreSpec(url=redis_url, key_prefix="test", **GENEROUS))
    assert await reader.read([counter], time.time()) == (3,)
    await reader.close()
