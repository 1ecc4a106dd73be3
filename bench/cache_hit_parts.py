"""Instructions of the response cache's own part of a memory hit, without the server around it.

    python bench/cache_hit_parts.py [--few 1000] [--many 11000] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice, doing ``--few`` and then ``--many`` memory
hits of the benchmark's cacheable request in-process: the app's directive, the key
(``RouteCache.key``), the lookup (``lookup_in_memory`` where the package has it), the body
(``ResponseCache.answer``) and the ``web.Response`` holding it, exactly what the cache stage does for
a hit (the span event and metric of ``trace.cache_result`` excepted). The difference of the totals
over the difference of the counts is one hit's own cost, to set against a whole hit through the
sidecar (bench/cache_instructions.py). ``--baseline REF``: the same with the ``sidecar`` package of
git revision REF (``ResponseCache.body`` before ``answer``; before it, the body was
``orjson.dumps(replay_body(...))``). Needs valgrind.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from aiohttp import web
from cache_path import CACHED_REQUEST
from parts_command import parts_main

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec, client_directive

try:
    from sidecar.cache import client_control
except ImportError:  # a baseline before the app's max-age was read
    client_control = None  # type: ignore[assignment]
from sidecar.cache.entry import Entry, TextPiece
from sidecar.cache.key import route_identity
from sidecar.cache.plan import RouteCache
from sidecar.cache.replay import replay_body
from sidecar.dialects import Dialect, Operation
from sidecar.translate.common import FinishReason, Usage


def directive_and_key(
    plan: RouteCache, headers: dict[str, str], body: object, raw: bytes, ttl_s: float
) -> tuple[str, float | None]:
    """What the cache stage does first for a bench request: read the app's directive (and, where the
    package has them, its age bounds), compute the key."""
    oldest = None
    if client_control is not None:
        oldest = client_control(headers, allowed=True).oldest_s(ttl_s)
    else:  # a baseline before the app's max-age was read
        client_directive(headers, allowed=True)
    key = plan.key(
        dialect=Dialect.OPENAI,
        operation=Operation.CHAT,
        model="cached-model",
        body=body,
        raw=raw,
        deployment_app="default",
        app="default",
        caller_key=None,
    ).key
    assert key is not None
    return key, oldest


async def hits(n: int) -> None:
    body = orjson.loads(CACHED_REQUEST)
    raw = CACHED_REQUEST.encode()
    settings = RouteCacheSpec(enabled=True, cacheable="always")
    plan = RouteCache(settings, route_identity("cached", [("bench-model", None)], "drop"), False)
    settings = getattr(plan, "rules", settings)  # what the stage reads: the slotted copy where there is one
    cache = ResponseCache.from_spec(CacheStoreSpec())
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    text = "Hello, benchmark! Nice to meet you."
    entry = Entry(
        (TextPiece(text),),
        FinishReason.STOP,
        None,
        Usage(31, 9),
        "bench-upstream",
        "bench-model",
        "nginx",
        time.time(),
        1e-4,
    )
    for i in range(n):
        key, oldest = directive_and_key(plan, headers, body, raw, settings.ttl_s)
        if i == 0:
            cache.store_in_memory(key, entry, settings)
        if client_control is not None:  # as the stage does: the caller's dialect and the app's bound
            lookup = cache.lookup_in_memory(key, settings, Dialect.OPENAI, oldest)
        elif hasattr(cache, "lookup_in_memory"):  # as the stage does with a memory store
            lookup = cache.lookup_in_memory(key, settings)
        else:  # a baseline before it
            lookup = await cache.lookup(key, settings)
        assert lookup.entry is not None
        if hasattr(cache, "answer"):
            data = cache.answer(key, lookup.entry, Dialect.OPENAI, "body", lookup.body)
        elif hasattr(cache, "body"):  # a baseline before ResponseCache.answer
            data = cache.body(key, lookup.entry, Dialect.OPENAI)
        else:  # a baseline before the kept bodies
            data = orjson.dumps(replay_body(lookup.entry, Dialect.OPENAI, model=lookup.entry.model))
        web.Response(body=data, content_type="application/json")


def main() -> int:
    return parts_main(__file__, lambda n: asyncio.run(hits(n)), "instructions per memory hit, the cache's own part")


if __name__ == "__main__":
    sys.exit(main())
