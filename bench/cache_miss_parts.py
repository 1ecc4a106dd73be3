"""Instructions of the response cache's own part of a memory miss, by part, without the server around it.

    python bench/cache_miss_parts.py [--few 500] [--many 3000] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice per part, doing ``--few`` and then ``--many``
misses in-process, each with a request body made unique by a counter (bench/cache_path.py's cacheable
request), the work cumulative from part to part:

- ``parse``: the body's ``orjson.loads`` only, and the loop's own setup per miss (a unique body and the
  upstream's parsed answer made ahead): what the other parts' increments are counted from;
- ``key``: the app's directive and the key (``RouteCache.key``);
- ``lookup``: the lookup (a miss) and single flight's join, published empty;
- ``entry``: the upstream's 2 KB answer to the common form (``parse_chat_response`` of the parsed body,
  as the fallback loop hands it over) and the entry (``entry_from_response``, ``unstorable``), published;
- ``store``: the entry written to the memory store (``ResponseCache.store_in_memory``).

The span event and metric of ``trace.cache_result`` are not counted (the telemetry's). The difference of
the totals over the difference of the counts is one miss's cost up to that part. ``--baseline REF``: the
same with the ``sidecar`` package of git revision REF. Needs valgrind.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path

import orjson
from cache_hit_parts import directive_and_key
from cache_path import CACHED_REQUEST, answer_2k
from parts_command import measured_code, parts_arguments, valgrind_script

PARTS = ("parse", "key", "lookup", "entry", "store")


async def misses(part: str, n: int) -> None:
    from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec, entry_from_response
    from sidecar.cache.entry import unstorable
    from sidecar.cache.key import route_identity
    from sidecar.cache.plan import RouteCache
    from sidecar.dialects import Dialect
    from sidecar.translate import parse_chat_response

    settings = RouteCacheSpec(enabled=True, cacheable="always")
    plan = RouteCache(settings, route_identity("cached", [("bench-model", None)], "drop"), False)
    settings = getattr(plan, "rules", settings)  # what the stage reads: the slotted copy where there is one
    cache = ResponseCache.from_spec(CacheStoreSpec.model_validate({"memory": {"max_entries": 100_000}}))
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    raws = [
        CACHED_REQUEST.replace("in one short sentence", f"in one short sentence {i:08d}").encode() for i in range(n)
    ]
    upstream = [orjson.loads(answer_2k()) for _ in range(n)]  # parsed by the fallback loop, not by the cache
    stop = PARTS.index(part)
    for i in range(n):
        body = orjson.loads(raws[i])
        if stop < 1:
            continue
        key, _ = directive_and_key(plan, headers, body, raws[i], settings.ttl_s)
        if stop < 2:
            continue
        await cache.lookup(key, settings)
        leader = cache.flights.join(key)
        if stop < 3:
            leader.publish(None)
            continue
        answer = parse_chat_response(upstream[i], Dialect.OPENAI)
        entry = entry_from_response(answer, model="m", target="t", provider="p", stored_at=time.time(), cost_usd=1e-3)
        assert entry is not None and unstorable(entry, store_truncated=False) is None
        leader.publish(entry)
        if stop < 4:
            continue
        cache.store_in_memory(key, entry, settings)


def count(part: str, n: int, code: Path | None) -> int:
    return valgrind_script(__file__, ["--run", part, str(n)], code)


def main() -> int:
    args = parts_arguments(500, 3000, run_values=2)
    if args.run is not None:
        asyncio.run(misses(args.run[0], int(args.run[1])))
        return 0
    codes = measured_code(__file__, args)
    print("\n| code | setup and parse | " + " | ".join(PARTS[1:]) + " | a miss's own part |\n|---|" + "---|" * 6)
    for label, code in codes:
        per = [(count(p, args.many, code) - count(p, args.few, code)) / (args.many - args.few) for p in PARTS]
        cells = [f"{per[0]:,.0f}"] + [f"+{b - a:,.0f}" for a, b in itertools.pairwise(per)]
        print(f"| {label} | " + " | ".join(cells) + f" | {per[-1] - per[0]:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
