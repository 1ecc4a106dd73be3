"""The response cache (issue 21): exact-match answers in memory or Redis, replayed in any dialect.

The request path's part is ``sidecar/server/cache_stage.py`` (docs/caching.md, "Integration"): this
package is the whole cache behind the seams that stage and the last resort call.

Map of the package::

    spec            policy blocks: CacheStoreSpec (top-level ``cache:``), RouteCacheSpec (per route)
    key             the key: route identity + dialect + model + caller scope + canonical body (BLAKE2b);
                    which requests are cacheable
    plan            RouteCache, compiled per route at policy load: key(...) -> KeyDecision
    rules           CacheRules: a route's RouteCacheSpec in slots, held by its RouteCache (what requests read)
    entry           Entry (pieces, finish, usage, model, stored_at, cost, citations), its byte encoding,
                    unstorable()
    storable        unstorable_by: which answers may be stored (their finish, whether they answer)
    extras          an answer's fields outside the common form (whole or streamed), given back to its dialect's hits
    pending         Pending: a miss's whole answer to its dialect kept as its bytes (whole_verdict: storable?),
                    made into its Entry when its key is first read (memory store); entry_of: a whole
                    answer's entry, made at once or on that first read
    assemble        StreamAssembler: common stream deltas -> Entry, only for a clean end
    replay          Entry -> deltas -> a dialect's stream events, or a dialect's whole body
    padding         a replayed OpenAI stream's obfuscation padding, marked in its template, drawn per hit
    decoded         DecodedValues: Redis values already decoded and checked, by their bytes, and the answers
                    rendered from their entries (bounded, LRU)
    memory          BoundedMemoryBackend: aiocache's memory backend with entry/byte bounds and LRU
    redis_store     aiocache's RedisCache from RedisStoreSpec (URL, password from env/file, TLS, timeouts)
    store           MemoryStore (the bounded backend, direct; entries kept as objects with a whole-body
                    template per caller dialect, aged by the monotonic clock) and GuardedStore (Redis:
                    timeout, breaker, counters, a throttled log; entries aged by the wall clock)
    flight          SingleFlight: identical concurrent requests share one upstream call
    response_cache  ResponseCache: lookup / stale / store / flights / snapshot / close
    control         the app's directives (Cache-Control, x-sidecar-cache)
    stats           CacheStats: the counters the metrics read

A request's way through it (the cache stage, before the fallback loop)::

    plan.key(...) --no key--> the request goes on uncached (x-sidecar-cache: bypass)
        | key
    client_control: BYPASS -> on uncached | REFRESH -> skip the lookup | USE (max-age/min-fresh/max-stale: oldest_s):
    cache.lookup(key, oldest_s) --hit--> cache.body / replay_stream (x-sidecar-cache: hit, Age: answer_headers)
        | stale (past ttl_s, the app's max-stale takes it) --> the same (x-sidecar-cache: stale, Age)
        | miss (maybe with a stale entry kept for the last resort)
    cache.flights.join(key) --Follower--> wait(single_flight_wait_s) --entry--> replay (hit)
        | (a refresh: join(key, made=False): no Follower of an answer made and held for its write)
        | Leader                                                     --None--> own upstream call
        |                                                            --abandoned--> join again
    fallback loop; the answer's deltas -> StreamAssembler (or the upstream's parsed body -> entry_from_response;
    a whole answer to its dialect, memory store, no follower: whole_verdict -> Pending, its entry made on a read)
    clean end -> cache.store(key, entry) and leader.publish(entry); caller gone -> leader.abandon();
    else leader.publish(None)
    every target failed and last_resort kind: cache -> cache.stale(key, lookup) -> replay (stale, Age)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .assemble import StreamAssembler
    from .control import Control, Directive, client_control, client_directive
    from .entry import Entry, entry_from_response, unstorable
    from .flight import Follower, Leader, SingleFlight
    from .plan import KeyDecision, RouteCache, compile_route_cache
    from .redis_store import CacheConfigError
    from .replay import replay_body, replay_deltas, replay_stream
    from .response_cache import Lookup, ResponseCache
    from .spec import CacheStoreSpec, RouteCacheSpec
    from .stats import CacheStats

__all__ = [
    "CacheConfigError",
    "CacheStats",
    "CacheStoreSpec",
    "Control",
    "Directive",
    "Entry",
    "Follower",
    "KeyDecision",
    "Leader",
    "Lookup",
    "ResponseCache",
    "RouteCache",
    "RouteCacheSpec",
    "SingleFlight",
    "StreamAssembler",
    "client_control",
    "client_directive",
    "compile_route_cache",
    "entry_from_response",
    "replay_body",
    "replay_deltas",
    "replay_stream",
    "unstorable",
]

# Each name is imported from its module on first use (``sidecar.lazy``): importing ``spec`` for the
# policy's root model does not load the request path of a feature the policy does not use.
__getattr__ = lazy_exports(
    __name__,
    {
        "CacheConfigError": "redis_store",
        "CacheStats": "stats",
        "CacheStoreSpec": "spec",
        "Control": "control",
        "Directive": "control",
        "Entry": "entry",
        "Follower": "flight",
        "KeyDecision": "plan",
        "Leader": "flight",
        "Lookup": "response_cache",
        "ResponseCache": "response_cache",
        "RouteCache": "plan",
        "RouteCacheSpec": "spec",
        "SingleFlight": "flight",
        "StreamAssembler": "assemble",
        "client_control": "control",
        "client_directive": "control",
        "compile_route_cache": "plan",
        "entry_from_response": "entry",
        "replay_body": "replay",
        "replay_deltas": "replay",
        "replay_stream": "replay",
        "unstorable": "entry",
    },
)
