"""``CacheReadings``: the response cache's store as the metrics read it (``Telemetry.cache``), when metrics
are collected (a scrape, each policy poll: ``server.response_caches.ResponseCaches.report``) and when a
reload retires a store. The store keeps running totals (``cache.ResponseCache.snapshot()``); the
Prometheus counters move by what changed since the last reading, a new store's read from zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from .instruments import Instruments


class CacheReadings:
    """The cache store's last readings and the instruments they move (one per ``Telemetry``)."""

    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments
        self._seen: dict[str, float] = {}  # the cache store's counters at the last reading
        self._unkept_seen = 0  # the cache's writes left without a store, at the last reading

    def store(self, snapshot: Mapping[str, float]) -> None:
        """The response cache's store counters and gauges (``cache.ResponseCache.snapshot()``), read when
        metrics are collected: counters move by what changed since the last reading (a new store after
        a reload starts from zero)."""
        self._seen = self._counts(snapshot, self._seen)
        ins = self.instruments
        ins.cache_entries.set((), snapshot.get("entries", 0.0))
        ins.cache_bytes.set((), snapshot.get("bytes", 0.0))
        ins.cache_breaker_state.set((), snapshot.get("breaker_state", 0.0))

    def _counts(self, snapshot: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
        """The cache counters moved by what ``snapshot`` counted since ``before`` (a store's earlier reading;
        a count lower than then: a new store, read from zero); the counts read, the next ``before``."""
        ins = self.instruments
        counters = (
            (ins.cache_evictions, (), "evictions"),
            (ins.cache_stores, ("stored",), "stores"),
            (ins.cache_stores, ("skipped",), "store_skips"),
            (ins.cache_store_errors, ("timeout",), "timeouts"),
            (ins.cache_store_errors, ("breaker_open",), "breaker_skips"),
            (ins.cache_store_errors, ("damaged",), "damaged"),
            (ins.cache_coalesced, (), "coalesced"),
            (ins.cache_saved_cost, (), "saved_cost_usd"),
            (ins.cache_saved_tokens, (), "saved_output_tokens"),
            (ins.cache_store_errors, ("error",), "errors_only"),
        )
        counts = {**snapshot, "errors_only": snapshot.get("errors", 0.0) - snapshot.get("timeouts", 0.0)}
        for counter, labels, name in counters:
            value, was = counts.get(name, 0.0), before.get(name, 0.0)
            amount = value - was if value >= was else value
            if amount > 0:
                counter.inc(labels, amount)
        return counts

    def writes_unkept(self, unkept: int) -> None:
        """Answers not written because a reload retired their store while they were on their way (a count
        kept across stores, ``ResponseCaches.unkept``): ``llm_sidecar_cache_stores_total{result="skipped"}``
        moves by what it gained since the last reading."""
        moved, self._unkept_seen = unkept - self._unkept_seen, unkept
        if moved > 0:
            self.instruments.cache_stores.inc(("skipped",), moved)

    def unavailable(self, unavailable: bool) -> None:
        """Whether the policy caches but its store cannot be opened (``ResponseCaches.unavailable``), read
        when metrics are collected: the caching routes run uncached meanwhile."""
        self.instruments.cache_unavailable.set((), 1.0 if unavailable else 0.0)

    def store_retired(self, snapshot: Mapping[str, float]) -> None:
        """A reload replaced the cache store: its last counts (``snapshot``) are read, so what it counted
        since the last reading is not lost, and the next store's counters are read from zero; its entries
        and bytes are gone (a policy without a cache leaves the gauges at zero, not at the old store's)."""
        self.store(snapshot)
        self._seen = {}
        ins = self.instruments
        ins.cache_entries.set((), 0.0)
        ins.cache_bytes.set((), 0.0)

    def store_closed(self, retired: Mapping[str, float], closed: Mapping[str, float]) -> None:
        """The store a reload replaced is closed: what it counted after its last counts were read at the
        reload (``retired``; ``closed``: its counts now), its writes then in flight, moves the counters."""
        self._counts(closed, retired)
