"""Where a Redis hit's time goes in the sidecar's process: one GET through redis-py, bare and as the store
makes it, measured in one process against a ``redis-server`` this script starts on a free port.

    python bench/cache_redis_get.py [--rounds 5] [--ops 2000]

Each case runs ``--ops`` sequential operations on uvloop, ``--rounds`` times; printed: the fastest
round's CPU time of this process per operation (``time.process_time``, so Redis's own work and the
wait for it are not counted) and its wall time (which is: the round trip to a third process).
The value is a 2 KB answer's stored entry, framed with its whole body (about 4.5 KB, as the sidecar
writes it). Cases:

- redis-py ``GET`` with a ``socket_timeout`` (main at 1394fb3 configured one: every command's send
  runs in ``asyncio.wait_for``, a task) and without one (the store's timeout bounds it), on a pooled
  connection taken and given back per command (main at d2ad146) or on one kept by the client
  (``single_connection_client``: the store's lookups since branch cache45, ``redis_store.KeptReads``);
- the store's ``get`` (``GuardedStore``: breaker, ``asyncio.timeout``, counters) with the client as
  main configured it and as it is now;
- ``ResponseCache.lookup`` (the store's ``get`` plus the entry's decode and freshness): a hit's whole
  cost in the cache before its body is written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as redis
import uvloop
from cache_path import start_redis

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=3600)


async def rounds(name: str, call: Callable[[], Awaitable[object]], count: int, ops: int) -> None:
    best_cpu = best_wall = float("inf")
    for _ in range(count):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(ops):
            await call()
        best_cpu = min(best_cpu, (time.process_time() - cpu) / ops * 1e6)
        best_wall = min(best_wall, (time.perf_counter() - wall) / ops * 1e6)
    print(f"| {name} | {best_cpu:.1f} | {best_wall:.1f} |", flush=True)


async def run(port: int, count: int, ops: int) -> None:
    text = ("The sidecar answers repeated requests from its cache without calling a provider. " * 30)[:2000]
    entry = Entry((TextPiece(text),), FinishReason.STOP, None, Usage(31, 400), "m", "t", "p", time.time(), 0.001)
    spec = CacheStoreSpec.model_validate({"redis": {"url": f"redis://127.0.0.1:{port}/0", "timeout_s": 1}})
    print("| case | CPU per operation (us) | wall per operation (us) |\n|---|---|---|")
    bare = (
        ("socket_timeout 1 s (main at 1394fb3)", 1.0, False),
        ("no socket_timeout, pooled (main at d2ad146)", None, False),
        ("no socket_timeout, a kept connection (the store's reads since cache45)", None, True),
    )
    for label, socket_timeout, kept in bare:
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=socket_timeout,
            socket_keepalive=True,
            single_connection_client=kept,
        )
        await client.set("bare", b"x" * 4500)
        await rounds(f"redis-py GET, {label}", lambda c=client: c.get("bare"), count, ops)  # type: ignore[misc]
        await client.aclose()
    for label, socket_timeout in (("as main configured it", 1.0), ("as configured now", None)):
        cache = ResponseCache.from_spec(spec)
        backend = cache.storage.backend  # type: ignore[attr-defined]
        backend.client.connection_pool.connection_kwargs["socket_timeout"] = socket_timeout
        await cache.store("k", entry, SETTINGS, Dialect.OPENAI)
        await rounds(f"the store's get, client {label}", lambda c=cache: c.storage.get("k"), count, ops)
        await rounds(f"ResponseCache.lookup, client {label}", lambda c=cache: c.lookup("k", SETTINGS), count, ops)
        await cache.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cache-redis-get-"))
    server, port = start_redis(workdir)
    try:
        uvloop.run(run(port, args.rounds, args.ops))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
