"""The response cache on the request path: a pipeline stage after routing, and the store it uses.

``response_caches.ResponseCaches`` holds the sidecar's one ``cache.ResponseCache`` (this stage writes
through it); this module, and with it the cache's request path, is imported only for a policy that
caches (``app``).

``cache_stage(caches, deployment_app)`` is the stage. On a route without a cache plan it is one
attribute test. On a caching route::

    the app's directive (client_control): bypass -> on uncached (x-sidecar-cache: bypass)
    (max-age=N / min-fresh=N: an entry older than the app takes is a miss, ``Control.oldest_s``;
     max-stale[=N]: one past ttl_s it takes, within stale_s, is served stale)
    the key (RouteCache.key): none -> on uncached (bypass, with the reason on the span)
    lookup (unless refresh): fresh -> the entry replayed in the caller's dialect (hit, Age);
        past ttl_s, taken by the app's max-stale -> replayed the same (stale, Age; not degraded)
    single flight: a follower waits for the leader's entry -> replayed (hit); none -> its own call
        (a refresh never follows an answer already made and held for its write to Redis: its own call)
    miss: the chain, the answer watched (a StreamTap for a stream, the body for a whole answer),
          a good answer stored in the common form and handed to the followers (a whole answer to its
          own dialect for the memory store, no follower: kept as its bytes, made an entry on its first read)
    every target failed and last_resort kind: cache -> ``exchange.stale_answer`` (stale, Age)

A hit makes no upstream call: its usage and cost are the cache's *saved* counters, never the spent
ones; the answer names the model that made it (``x-sidecar-model``) and reports zero attempts.
Nothing here fails a request: a store problem is a miss (``cache.store.GuardedStore``). Building the
entry and writing it run after the answer is on its way (a loop callback; for Redis then a task),
off its latency.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..cache import Directive, Entry, ResponseCache, client_control
from ..cache.control import USE
from ..cache.entry import unstorable
from ..cache.flight import Follower, Leader
from ..cache.padding import Cut
from ..cache.pending import FULL, Pending, entry_of, whole_verdict
from ..cache.plan import target_of
from ..cache.replay import form_of, fresh_marks
from ..cache.response_cache import MISS, Lookup
from ..cost import cost_usd
from ..credentials import app_key
from ..dialects import Dialect
from ..routing.plans import request_chain
from ..telemetry.logging import get_logger
from ..translate import TranslationError
from .replay import asks_padding, asks_usage
from .store_tap import StoreTap
from .stream_answer import send_stream

if TYPE_CHECKING:
    from ..cache.rules import CacheRules
    from .exchange import Exchange
    from .pipeline import Handler, Stage
    from .response_caches import ResponseCaches

log = get_logger("sidecar.cache")
OPENAI = Dialect.OPENAI
# Enum members read as module globals: a read through the class is not specialized by Python 3.11 (about 975
# instructions against 70: docs/benchmarks.md, wave 47 ``plain48``); a miss read four through ``Directive``, a hit two
_BYPASS, _USE, _REFRESH = Directive.BYPASS, Directive.USE, Directive.REFRESH


def cache_stage(caches: ResponseCaches, deployment_app: str) -> Stage:
    """The cache stage (see the module docstring); ``deployment_app`` is the sidecar's ``SIDECAR_APP``."""

    async def cache(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        route = exchange.route
        assert route is not None
        plan = route.settings.cache
        store = caches.cache
        if plan is None or store is None:
            return await call_next(exchange)
        # A caching route: a hit is answered here, with no further coroutine (a memory store's lookup and
        # a whole answer are plain calls); anything else goes on in ``_missed``.
        facts = exchange.facts
        settings = plan.rules
        control = client_control(facts.headers, allowed=settings.client_control)
        directive = control.directive
        if directive is _BYPASS:
            return await _uncached(exchange, call_next, "client_bypass")
        caller_key = app_key(facts.headers, exchange.request.query) if plan.passthrough else None
        decision = plan.key(
            dialect=facts.dialect,
            operation=facts.operation,
            model=facts.model,
            body=facts.body,
            raw=exchange.raw,
            deployment_app=deployment_app,
            app=facts.app,
            caller_key=caller_key,
            headers=facts.headers,
            chain=request_chain(route, facts) if plan.chosen_chain else (),
        )
        key = decision.key
        if key is None:
            return await _uncached(exchange, call_next, decision.reason or "uncacheable")
        lookup = MISS
        if directive is _USE:
            dialect = facts.dialect
            oldest = None if control is USE else control.oldest_s(settings.ttl_s, settings.stale_s)  # USE: no bound
            ahead = None
            if store.in_memory:
                lookup = store.lookup_in_memory(key, settings, dialect, oldest)
            else:  # Redis: a whole answer's response made while the GET is on its way, not after its reply
                ahead = None if facts.stream else _Ahead(dialect)
                lookup = await store.lookup(key, settings, dialect, oldest, ahead)
            entry = lookup.entry
            if entry is not None:  # a hit, or stale: the app's max-stale took an entry past ttl_s
                if not facts.stream:  # a whole answer: nothing to await
                    if ahead is None or ahead.response is None:
                        return _whole(exchange, entry, lookup.state, lookup.age_s, store, key, lookup.body)
                    return _filled(ahead, exchange, entry, lookup, store, key)
                return await _serve(exchange, entry, lookup.state, lookup.age_s, store, key, lookup.body)
        return await _missed(exchange, call_next, caches, store, key, settings, directive, lookup)

    return cache


async def _missed(
    exchange: Exchange,
    call_next: Handler,
    caches: ResponseCaches,
    store: ResponseCache,
    key: str,
    settings: CacheRules,
    directive: Directive,
    lookup: Lookup,
) -> web.StreamResponse:
    """No fresh entry (or the app asked for a new answer): single flight, then the chain's answer. A refresh
    follows a call under way, never an answer already made and still on its way to Redis (the one the app
    asked not to be given, often right after it got it): then it makes its own call."""
    flight = store.flights.join(key, made=directive is not _REFRESH) if settings.single_flight_wait_s > 0 else None
    if isinstance(flight, Follower):  # (a leader, most misses, reads no clock for a wait it does not make)
        waited_by = time.monotonic() + settings.single_flight_wait_s
        while isinstance(flight, Follower):
            entry = await flight.wait(waited_by - time.monotonic())
            if entry is not None:
                return await _serve(exchange, entry, "hit", 0.0, store, key)
            # the leader's caller left: join again (the first to wake leads); else the leader had nothing
            # to share, or the wait ran out: this request makes its own call
            flight = store.flights.join(key) if flight.abandoned else None
    exchange.cache = "miss"
    exchange.trace.cache_result(result="refresh" if directive is _REFRESH else "miss")
    exchange.stale_answer = partial(_stale, store, key, settings, lookup)  # called with the exchange: no cycle
    return await _call_and_store(exchange, call_next, caches, store, key, settings, flight)


async def _uncached(exchange: Exchange, call_next: Handler, reason: str) -> web.StreamResponse:
    exchange.cache = "bypass"
    exchange.trace.cache_result(result="bypass", reason=reason)
    return await call_next(exchange)


async def _call_and_store(
    exchange: Exchange,
    call_next: Handler,
    caches: ResponseCaches,
    store: ResponseCache,
    key: str,
    settings: CacheRules,
    leader: Leader | None,
) -> web.StreamResponse:
    """The chain's answer to the caller; once it is on its way, a good one is stored and handed to the
    followers (``_keep``, run by the loop after this request's step: off the answer's latency). An answer
    of another route than the one keyed (a budget's downgrade list: ``server.budget``) is neither: the key
    names the route's chain, and its requests outside the limit must not get the cheaper model's answer."""
    tap: StoreTap | None = None
    if exchange.facts.stream:
        tap = StoreTap(exchange.facts.dialect, store.max_entry_bytes)
        exchange.taps = (*exchange.taps, tap)
    keyed = exchange.route
    try:
        response = await call_next(exchange)
    except asyncio.CancelledError:
        if leader is not None:
            leader.abandon()  # the caller left: one of the followers leads a new call
        raise
    except BaseException:
        if leader is not None:
            leader.publish(None)  # the followers go their own way
        raise
    if exchange.route is not keyed:  # downgraded by a budget: not the keyed chain's answer
        if leader is not None:
            leader.publish(None)
        return response
    asyncio.get_running_loop().call_soon(_keep, exchange, response, tap, caches, store, key, settings, leader)
    return response


def _keep(
    exchange: Exchange,
    response: web.StreamResponse,
    tap: StoreTap | None,
    caches: ResponseCaches,
    store: ResponseCache,
    key: str,
    settings: CacheRules,
    leader: Leader | None,
) -> None:
    """The answer's entry, if it may be stored: written, and to the followers at once (and to the requests
    for its key that come while its write to Redis is on its way: ``Leader.publish``'s ``held_until``)."""
    entry = write = None
    try:  # kept pending (its entry made on its first hit: ``cache.pending``) in memory, when no follower waits
        lazy = store.in_memory and (leader is None or not leader.followed)
        made = _answer_entry(exchange, response, tap, store.max_entry_bytes, settings.store_truncated, lazy)
        if isinstance(made, Pending):
            caches.write(store, key, made, settings, exchange.facts.dialect)
        elif isinstance(made, str) or (made and unstorable(made, store_truncated=settings.store_truncated)):
            caches.skip(store)
        else:
            entry = made
        if entry is not None:
            write = caches.write(store, key, entry, settings, exchange.facts.dialect)
    finally:
        if leader is not None:
            leader.publish(entry, held_until=write)


def _answer_entry(
    exchange: Exchange,
    response: web.StreamResponse,
    tap: StoreTap | None,
    max_bytes: int,
    store_truncated: bool,
    lazy: bool,
) -> Entry | Pending | str | None:
    """The caller's answer as an entry, when it is a model's good answer (never an error, the last
    resort's, or a stream that did not end cleanly); ``lazy``: a whole answer to its own dialect as a
    ``Pending``, or why it must not be stored (``pending.whole_verdict``)."""
    target = exchange.answered_by
    if target is None or exchange.degraded is not None or exchange.stream_error is not None:
        return None
    if response.status != 200:
        return None
    billed = exchange.billed  # the bill the answer's head said priced this answer's call already (``served_cost``)
    usage = exchange.usage
    if billed is not None and billed.status == 200 and billed.usage is usage:
        cost = billed.served_cost
    else:
        cost = cost_usd(target.price, usage)
    if tap is not None:
        return tap.entry(target, cost)
    raw = response.body if isinstance(response, web.Response) else None  # (aiohttp's property: read once)
    if not isinstance(raw, bytes) or len(raw) > max_bytes * 2:  # over the store's limit anyway when made an entry
        return None
    try:
        body, wire, same = _delivered(exchange, response, raw)
        verdict = whole_verdict(body, wire, store_truncated=store_truncated) if lazy and same else FULL
        if verdict is None:
            return Pending(
                raw,
                model=target.upstream_model,
                target=target.name,
                provider=target.provider.name,
                stored_at=time.time(),
                cost_usd=cost,
                dialect=wire,
            )
        if verdict != FULL:
            return verdict
        return entry_of(
            body,
            wire,
            raw,
            exchange.facts.dialect,
            model=target.upstream_model,
            target=target.name,
            provider=target.provider.name,
            stored_at=time.time(),
            cost_usd=cost,
        )
    except (ValueError, TranslationError):  # orjson.JSONDecodeError is a ValueError
        return None


def _delivered(exchange: Exchange, response: web.StreamResponse, raw: bytes) -> tuple[dict[str, Any], Dialect, bool]:
    """The answer's body parsed, its dialect, and whether that is the upstream's own (the caller speaks it):
    the fallback loop's answer as it parsed it once (``Exchange.upstream_answer``); one made elsewhere (an
    ensemble's choice), the caller's body (``raw``)."""
    caller = exchange.facts.dialect
    delivered = exchange.upstream_answer
    if delivered is None or delivered[0] is not response:
        return orjson.loads(raw), caller, True
    return delivered[2], delivered[1], delivered[1] is caller


async def _serve(
    exchange: Exchange,
    entry: Entry,
    state: str,
    age_s: float,
    store: ResponseCache,
    key: str,
    body: bytes | Cut | None = None,
) -> web.StreamResponse:
    """``entry`` (found under ``key``; ``body``: the template stored with it in Redis) as the caller's
    answer, in its dialect, streamed when it asked for a stream: the store's rendered bytes
    (``ResponseCache.answer``), written as they are."""
    facts = exchange.facts
    if not facts.stream:
        return _whole(exchange, entry, state, age_s, store, key, body)
    _served_from_cache(exchange, entry, state, age_s)
    openai = facts.dialect is OPENAI
    form = form_of(True, not openai or asks_usage(facts.body), not openai or asks_padding(facts.body))
    return await send_stream(exchange, store.answer(key, entry, facts.dialect, form))


def _whole(
    exchange: Exchange, entry: Entry, state: str, age_s: float, store: ResponseCache, key: str, body: bytes | Cut | None
) -> web.Response:
    """``_serve`` for a caller that asked for a whole answer: no coroutine."""
    _served_from_cache(exchange, entry, state, age_s)
    return web.Response(body=store.answer(key, entry, exchange.facts.dialect, "body", body), content_type=_JSON)


def _filled(
    ahead: _Ahead, exchange: Exchange, entry: Entry, lookup: Lookup, store: ResponseCache, key: str
) -> web.Response:
    """``_whole`` of a Redis hit whose response, id and time were made while its ``GET`` was on its way (``_Ahead``)."""
    made = ahead.response
    assert made is not None
    _served_from_cache(exchange, entry, lookup.state, lookup.age_s)
    made.body = store.answer(key, entry, exchange.facts.dialect, "body", lookup.body, ahead.marks)
    return made


def _served_from_cache(exchange: Exchange, entry: Entry, state: str, age_s: float) -> None:
    """Record on the exchange (headers, access line) and the trace that ``entry`` answers (``state``)."""
    route = exchange.route
    assert route is not None
    exchange.cache = state
    exchange.cache_age_s = age_s
    exchange.answered_by = target_of(route.chain, entry)
    exchange.trace.cache_result(result=state)


_JSON = "application/json"


async def _stale(
    store: ResponseCache, key: str, settings: CacheRules, lookup: Lookup, exchange: Exchange
) -> web.StreamResponse | None:
    """The last resort ``kind: cache``: the entry within ``ttl_s + stale_s``, served marked stale."""
    found = await store.stale(key, settings, lookup)
    if found is None:
        return None
    exchange.degraded = "cache"
    return await _serve(exchange, found[0], "stale", found[1], store, key)


class _Ahead:
    """A Redis lookup's ``ahead`` (``ResponseCache.lookup``): a whole answer's response (no body yet) and the hit's
    fresh id and time for its body (``replay.fresh_marks``), made while the ``GET`` is on its way, not after its
    reply (docs/benchmarks.md, wave 55 ``cache56``, wave 56 ``cache57``); a miss drops them."""

    __slots__ = ("dialect", "marks", "response")

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.response: web.Response | None = None
        self.marks: tuple[bytes, bytes] | None = None

    def __call__(self) -> None:
        self.response = web.Response(content_type=_JSON)
        self.marks = fresh_marks(self.dialect)
