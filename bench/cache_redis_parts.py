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
  OpenAI dialect's parser (``entry.unframe``);
- ``hit, whole body``: that lookup and the hit's answer, ``ResponseCache.answer`` of the stored body with
  a fresh id and time (``replay.fill_body``): what a Redis hit's whole OpenAI answer costs in the cache;
- ``hit, stream``: that lookup and the answer as an OpenAI stream with its usage chunk (rendered from the
  entry at each hit: Redis keeps only the whole body's template).

``--layers "A;B"``: only those layers (their names as above). Results: docs/benchmarks.md, wave 33 ``redis33``,
wave 44 ``cache45``, wave 51 ``cache52``.

``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind and
redis-server. Each operation is bounded at 5 s (under valgrind on a loaded machine, 1 s was once exceeded:
a miss, and the run stopped).
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
from sidecar.cache.replay import Form
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=3600)
try:  # what the cache stage reads: the slotted copy, where the package has one
    from sidecar.cache.rules import CacheRules

    SETTINGS = CacheRules.of(SETTINGS)  # type: ignore[assignment]
except ImportError:  # a baseline before it
    pass
LAYERS = ("redis-py", "store", "lookup, no dialect", "lookup", "hit, whole body", "hit, stream")


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
        "hit, whole body": lambda: answered(cache, "body"),
        "hit, stream": lambda: answered(cache, "stream_usage"),
    }
    call = calls[layer]
    for _ in range(n):
        assert await call() is not None
    assert cache.stats.damaged == 0
    await cache.close()


async def answered(cache: ResponseCache, form: Form) -> bytes:
    """A Redis hit as the cache stage serves it: the lookup, then its answer in ``form``."""
    lookup = await cache.lookup("k", SETTINGS, Dialect.OPENAI)
    assert lookup.entry is not None
    return cache.answer("k", lookup.entry, Dialect.OPENAI, form, lookup.body)


def table(args: argparse.Namespace, port: int, layers: tuple[str, ...]) -> None:
    """Each package's row: one operation's instructions at each layer."""
    codes = measured_code(__file__, args)
    print(f"\n| code | {' | '.join(layers)} |\n|---|{'---|' * len(layers)}")
    for label, code in codes:
        per = []
        for layer in layers:
            totals = [
                valgrind_script(__file__, ["--run", str(n), layer, str(port)], code) for n in (args.few, args.many)
            ]
            per.append((totals[1] - totals[0]) / (args.many - args.few))
        print(f"| {label} | {' | '.join(f'{value:,.0f}' for value in per)} |", flush=True)


def _layers() -> tuple[str, ...]:
    """``--layers "A;B"`` taken off the command line (the shared parser does not know it); all by default."""
    if "--layers" not in sys.argv:
        return LAYERS
    at = sys.argv.index("--layers")
    chosen = tuple(sys.argv[at + 1].split(";"))
    del sys.argv[at : at + 2]
    if unknown := set(chosen) - set(LAYERS):
        raise SystemExit(f"unknown layers: {sorted(unknown)}; known: {', '.join(LAYERS)}")
    return chosen


def main() -> int:
    layers = _layers()
    args = parts_arguments(300, 2300, run_values=3)
    if args.run is not None:
        count, layer, port = args.run
        uvloop.run(operations(int(count), layer, int(port)))
        return 0
    server, port = start_redis(Path(tempfile.mkdtemp(prefix="cache-redis-parts-")))
    try:
        table(args, port, layers)
        return 0
    finally:  # the server stopped by its process, as the other benches do
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
