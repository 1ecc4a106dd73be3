"""The Redis store's connections when calls fail: a call cut off by ``timeout_ms`` or cancelled closes its
socket (redis-py drops a connection whose command was cut short), and a call that leaves the wait for a
free connection passes its wake-up on (``WakingPool``), whose reading of redis-py's private condition is
checked when the store is built."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from sidecar.budgets.redis_store import RedisStore, WakingPool, freed_condition
from sidecar.budgets.spec import StoreSpec
from sidecar.budgets.store import NO_CAP, CounterRef, StoreError

from ..waiting import until
from .conftest import RedisServer


def sockets_to(port: int) -> int:
    """The sockets this process holds to 127.0.0.1:``port``, in any TCP state (Linux's /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            held += os.readlink(f"/proc/self/fd/{fd}") in inodes
    return held


async def test_calls_cut_off_or_cancelled_leave_no_socket_open(redis_factory: Callable[..., RedisServer]) -> None:
    """Redis answering nothing (``CLIENT PAUSE``): of twelve calls on a pool of four, those cancelled (their
    apps gone: some sent, some waiting for a connection) and those cut off by ``timeout_ms`` close the
    connections they used: the process holds no socket to Redis once they have failed, before the store
    is closed, and the garbage collector finds no connection left open (a ``ResourceWarning``)."""
    server = redis_factory()
    shared = RedisStore(StoreSpec(url=server.url, timeout_ms=300, connect_timeout_ms=5000, max_connections=4))
    counter = CounterRef("test:{budgets}:c:a", int(time.time()) + 600, NO_CAP)

    async def reserve(res_id: str) -> None:
        now = time.time()
        await shared.reserve(res_id, [counter], [1], now, now + 60)

    async def warmed() -> bool:
        """Connected, the script loaded: a loaded machine may take longer than 300 ms for that."""
        with contextlib.suppress(StoreError):
            await reserve("r0")
            return True
        return False

    try:
        await until(warmed, timeout_s=30)
        assert sockets_to(server.port) == 1  # the pool's idle connection
        with server.client() as client:
            client.execute_command("CLIENT", "PAUSE", 60_000, "ALL")  # past the test: the server is killed
        calls = [asyncio.create_task(reserve(f"r{i}")) for i in range(1, 13)]
        await asyncio.sleep(0)  # one loop turn: each call sent, connecting, or queued for a connection
        for call in calls[::2]:
            call.cancel()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert [type(outcome) for outcome in outcomes] == [asyncio.CancelledError, StoreError] * 6
        await until(lambda: sockets_to(server.port), lambda held: held == 0)
    finally:
        await shared.close()
    gc.collect()


async def test_a_waiter_cancelled_as_it_was_woken_leaves_the_free_connection_to_the_next(redis_url: str) -> None:
    """Two calls wait for the pool's one connection; its release wakes the first, which is cancelled before
    it runs (its call's timeout, its app gone): the second gets the connection at once. With redis-py's own
    ``BlockingConnectionPool`` on Python < 3.13 the wake-up is lost with the cancelled waiter (CPython
    gh-112202) and the second sleeps beside the free connection until the pool's timeout ("No connection
    available": a store error; 124 of them in one loaded run of test_redis_store.py's two-pods test)."""
    pool = WakingPool.from_url(redis_url, max_connections=1, timeout=10)
    try:
        held = await pool.get_connection()
        woken, following = asyncio.create_task(pool.get_connection()), asyncio.create_task(pool.get_connection())
        await asyncio.sleep(0)  # one loop turn: each task runs to its wait for a connection (no I/O before it)
        await pool.release(held)  # wakes ``woken``, which has not run yet when
        woken.cancel()
        await pool.release(await following)
        assert (await asyncio.gather(woken, return_exceptions=True))[0].__class__ is asyncio.CancelledError
    finally:
        await pool.aclose()


async def test_a_redis_py_pool_without_the_wake_up_condition_is_refused_when_the_store_is_built() -> None:
    """``WakingPool`` passes a wake-up on through redis-py's private ``asyncio.Condition``; a pool without
    one (redis-py's non-blocking pool stands for a release that renamed it) is a ``RuntimeError`` naming
    it and the redis-py version, when the store is built, not an ``AttributeError`` at the first
    cancelled waiter."""
    pool = aioredis.ConnectionPool()
    with pytest.raises(RuntimeError, match=rf"redis-py {redis.__version__}: ConnectionPool has no asyncio.Condition"):
        freed_condition(pool)
    await pool.aclose()
