"""The sidecar's response cache across reloads: ``ResponseCaches`` (``SidecarState.caches``).

It holds the one ``cache.ResponseCache``, built from the policy's store block (``Policy.cache``) when the
app opens, and rebuilt on a reload only when that block changed (the old store is closed; entries in
memory are lost, entries in Redis are not); the cache stage (``cache_stage``) reads and writes through
it. A store that could not be built (its Redis password unavailable: a Secret key not written yet) is
tried again on each reload poll (``retry``), so writing the file alone opens the cache; meanwhile
``unavailable`` is true (the metric ``llm_sidecar_cache_unavailable``, for an alert).

A Redis store connects (a PING, bounded by ``cache.redis.timeout_s``) as soon as it is built, but for
the one built at start, which waits for ``connect``: ``serve`` calls it once the start-up's blocking
work (the heap settled: ``lifecycle.settle_heap``) is done. Started before, a PING in flight had that work's
tens to hundreds of milliseconds counted against its timeout, and a healthy Redis was logged as failing
(``cache_store_failing``, a timeout in ``llm_sidecar_cache_store_errors_total``, a failure against the
store's breaker) on most starts of a busy node (before 2026-12-05).

Kept apart from the stage so that a sidecar whose policy caches nothing does not import the cache's
request path: ``cache.response_cache`` is imported when a store is first built.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..telemetry.logging import get_logger

if TYPE_CHECKING:
    from ..cache import Entry, ResponseCache
    from ..cache.pending import Pending
    from ..cache.rules import Settings
    from ..cache.spec import CacheStoreSpec
    from ..dialects import Dialect
    from ..telemetry import Telemetry

log = get_logger("sidecar.cache")


class ResponseCaches:
    """The sidecar's response cache and the store block it was built from (see the module docstring)."""

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        self._env = env
        self.spec: CacheStoreSpec | None = None
        self.cache: ResponseCache | None = None
        self._writes: set[asyncio.Future[Any]] = set()  # writes (and a connect) in flight, after their answers
        self._unavailable: str | None = None  # why ``spec``'s store could not be built, logged once
        self._connecting = False  # a Redis store connects once built: after ``connect`` (start-up done)
        # answers not written: a reload retired their store (no route caches any more, or another store
        # serves) while they were on their way (``llm_sidecar_cache_stores_total{result="skipped"}``)
        self.unkept = 0

    @property
    def unavailable(self) -> bool:
        """The policy caches but its store could not be built (``cache_unavailable``; the gauge
        ``llm_sidecar_cache_unavailable``): the caching routes run uncached until ``retry`` opens it."""
        return self.spec is not None and self.cache is None

    def connect(self) -> None:
        """Start-up is done: connect the Redis store now, and every store built from here on at once."""
        self._connecting = True
        if self.cache is not None:
            self._warm(self.cache)

    def update(self, spec: CacheStoreSpec | None) -> ResponseCache | None:
        """Use the store ``spec`` describes (None: no route caches); returns the store replaced, to close."""
        if spec == self.spec and (spec is None or self.cache is not None):
            return None
        old = self.cache
        self.spec = spec
        self.cache = None
        self._unavailable = None
        if spec is not None:
            self._build(spec)
        return old

    def retire(self, cache: ResponseCache, closed: Callable[[Mapping[str, float]], None]) -> None:
        """Close ``cache``, which a reload replaced, in a task (kept until done, awaited at close): its
        Redis store first waits for the operations under way and refuses new ones; then ``closed`` gets
        its counts (``snapshot``: the writes that were in flight counted too)."""
        self._track(asyncio.ensure_future(self._close_retired(cache, closed)))

    @staticmethod
    async def _close_retired(cache: ResponseCache, closed: Callable[[Mapping[str, float]], None]) -> None:
        await cache.close()
        closed(cache.snapshot())

    def retry(self) -> None:
        """Build the store again when the last try could not (each reload poll): a password file written
        or fixed after the cache was built opens it. ``cache_unavailable`` is logged again only when its
        reason changes."""
        if self.spec is not None and self.cache is None:
            self._build(self.spec)

    def _build(self, spec: CacheStoreSpec) -> None:
        from ..cache.redis_store import CacheConfigError  # here: only a policy that caches loads the cache
        from ..cache.response_cache import ResponseCache

        try:
            self.cache = ResponseCache.from_spec(spec, self._env)
        except CacheConfigError as exc:  # a missing secret: the routes run uncached, the policy still serves
            if str(exc) != self._unavailable:
                self._unavailable = str(exc)
                log.error("cache_unavailable", error=str(exc))
            return
        self._unavailable = None
        log.info("cache_store_opened", store=self.cache.storage.name)
        if self._connecting:
            self._warm(self.cache)

    def _warm(self, cache: ResponseCache) -> None:
        if not cache.in_memory:  # Redis: connect now, not on the first request
            self._track(asyncio.ensure_future(cache.warm()))

    def write(
        self, cache: ResponseCache, key: str, entry: Entry | Pending, settings: Settings, dialect: Dialect
    ) -> asyncio.Future[Any] | None:
        """Store ``entry`` (an answer to a ``dialect`` caller): in memory at once; in Redis in a task (kept
        until done, awaited at close, and returned: the write still on its way), so nothing waits for the
        write. ``cache`` retired by a reload since the request looked it up: not written, counted skipped
        (``skip``)."""
        if cache is not self.cache:
            self.skip(cache)
            return None
        if cache.in_memory:  # no task: creating one costs more than the write
            cache.store_in_memory(key, entry, settings)
            return None
        task = asyncio.ensure_future(cache.store(key, entry, settings, dialect))
        self._track(task)
        return task

    def skip(self, cache: ResponseCache) -> None:
        """An answer not written to ``cache``: counted skipped on it while it serves; retired by a reload
        (whose last counts were read then), in ``unkept``, with a ``cache_write_skipped`` line."""
        if cache is self.cache:
            cache.stats.store_skips += 1
            return
        self.unkept += 1
        log.info("cache_write_skipped", reason="store_retired")

    def report(self, telemetry: Telemetry) -> None:
        """The cache's counts and gauges to the metrics (a scrape, each policy poll): the serving store's,
        whether the policy's store could not be opened, and the writes a reload left without a store."""
        if self.cache is not None:
            telemetry.cache.store(self.cache.snapshot())
        telemetry.cache.unavailable(self.unavailable)
        telemetry.cache.writes_unkept(self.unkept)

    def _track(self, task: asyncio.Future[Any]) -> None:
        """Keep ``task`` until it is done (awaited at close)."""
        if task.done():
            return
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        if self._writes:
            await asyncio.wait(self._writes, timeout=1.0)
        if self.cache is not None:
            await self.cache.close()
            self.cache = None
