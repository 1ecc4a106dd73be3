import asyncio, sys, time, cProfile, pstats
import cache_keep_parts as k
from sidecar.cache import CacheStoreSpec, RouteCacheSpec
async def main(answer):
    import orjson
    from types import SimpleNamespace
    from aiohttp import web
    from sidecar.dialects import Dialect
    from sidecar.server import cache_stage
    from sidecar.server.response_caches import ResponseCaches
    d, body = k._bodies()[answer]
    dialect = Dialect(d)
    settings = RouteCacheSpec(enabled=True, cacheable="always")
    caches = ResponseCaches({}); caches.update(CacheStoreSpec.model_validate({"memory": {"max_entries": 100_000, "max_bytes": 1 << 30}}))
    store = caches.cache; raw = orjson.dumps(body)
    target = SimpleNamespace(name="t", upstream_model="u", provider=SimpleNamespace(name="p"), price=None)
    facts = SimpleNamespace(dialect=dialect, stream=False)
    work = []
    for i in range(300):
        response = web.Response(body=raw, content_type="application/json")
        ex = SimpleNamespace(answered_by=target, degraded=None, stream_error=None, usage=None, facts=facts, upstream_answer=(response, dialect, orjson.loads(raw)))
        cache_stage._keep(ex, response, None, caches, store, f"k{i}", settings, None)
        work.append(f"k{i}")
    print(store.stats); pr = cProfile.Profile(); pr.enable()
    for key in work:
        await store.lookup(key, settings)
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(18)
asyncio.run(main(sys.argv[1]))
