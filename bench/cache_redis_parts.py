"""Instructions of a Redis hit's lookup in the sidecar's process, layer by layer, without the server around it.

    python bench/cache_redis_parts.py [--few 300] [--many 2300] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice per layer, doing ``--few`` and then ``--many``
sequential operations in process on uvloop against a ``redis-server`` this script starts on a free port
(its own work is not counted), the value a 2 KB answer's entry framed with its whole OpenAI body (about
4.5 KB, as the sidecar writes it). The difference of the totals over the difference of the counts is one
operation's instructions. Layers, each containing the one before:

- ``redis-py``: ``GET`` on the store's Redis client, as ``redis_store`` configures it (no
  ``socket_timeout``): redis-py's command path, its pool, its parser and asyncio's streams;
- ``store``: ``GuardedStore.get`` (aiocache's key, the breaker's permit and result, ``asyncio.timeout``,
  the counters);
- ``lookup, no dialect``: ``ResponseCache.lookup`` without the caller's dialect (the entry decoded and
  checked, the stored body read as a JSON object, freshness);
- ``lookup``: ``ResponseCache.lookup`` as the cache stage calls it, the stored body also read by the
  OpenAI dialect's parser (``entry.unframe``).

``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind and
redis-server. Each operation is bounded at 5 s (under valgrind on a loaded machine, 1 s was once exceeded:
a miss, and the run stopped). Results: docs/benchmarks.md, wave 33 ``redis33``, wave 44 ``cache45``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from listening import start_redis
from parts_command import measured_code, parts_arguments, valgrind_script

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=3600)
try:  # what the cache stage reads: the slotted copy, where the package has one
    from sidecar.cache.rules import CacheRules

    SETTINGS = CacheRules.of(SETTINGS)  # type: ignore[assignment]
except ImportError:  # a baseline before it
    pass
LAYERS = ("redis-py", "store", "lookup, no dialect", "lookup")


async def operations(n: int, layer: str, port: int) -> None:
    text = ("The sidecar answers repeated requests from its cache without calling a provider. " * 30)[:2000]
    entry = Entry((TextPiece(text),), FinishReason.STOP, None, Usage(31, 400), "m", "t", "p", time.time(), 0.001)
    spec = CacheStoreSpec.model_validate({"redis": {"url": f"redis://127.0.0.1:{port}/0", "timeout_s": 5}})
    cache = ResponseCache.from_spec(spec)
    await cache.warm()
    assert await cache.store("k", entry, SETTINGS, Dialect.OPENAI) is None
    storage = cache.storage
    client = storage.backend.client  # type: ignore[attr-defined]
    name = storage.backend.build_key("k")  # type: ignore[attr-defined]
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "redis-py": lambda: client.get(name),
        "store": lambda: storage.get("k"),
        "lookup, no dialect": lambda: cache.lookup("k", SETTINGS),
        "lookup": lambda: cache.lookup("k", SETTINGS, Dialect.OPENAI),
    }
    call = calls[layer]
    for _ in range(n):
        assert await call() is not None
    assert cache.stats.damaged == 0
    await cache.close()


def table(args: argparse.Namespace, port: int) -> None:
    """Each package's row: one operation's instructions at each layer."""
    codes = measured_code(__file__, args)
    print(f"\n| code | {' | '.join(LAYERS)} |\n|---|{'---|' * len(LAYERS)}")
    for label, code in codes:
        per = []
        for layer in LAYERS:
            totals = [
                valgrind_script(__file__, ["--run", str(n), layer, str(port)], code) for n in (args.few, args.many)
            ]
            per.append((totals[1] - totals[0]) / (args.many - args.few))
        print(f"| {label} | {' | '.join(f'{value:,.0f}' for value in per)} |", flush=True)


def main() -> int:
    args = parts_arguments(300, 2300, run_values=3)
    if args.run is not None:
        count, layer, port = args.run
        uvloop.run(operations(int(count), layer, int(port)))
        return 0
    server, port = start_redis(Path(tempfile.mkdtemp(prefix="cache-redis-parts-")))
    try:
        table(args, port)
        return 0
    finally:  # the server stopped by its process, as the other benches do
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
