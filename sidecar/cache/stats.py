"""The cache's counters: plain integers on one object, incremented on the event loop, read by the metrics.

``CacheStats.snapshot()`` is what a metrics collector (``Registry.on_collect``) reads at scrape time;
the names are the ones docs/caching.md lists (``llm_sidecar_cache_<name>`` once exported).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class CacheStats:
    lookups: int = 0  # lookups made (bypassed requests make none)
    hits: int = 0  # fresh entries found
    misses: int = 0  # nothing usable found (errors, timeouts and an open breaker included)
    stale: int = 0  # stale entries served: by the last resort, or taken by the app's max-stale
    coalesced: int = 0  # requests answered by an identical request's upstream call (single flight)
    flight_timeouts: int = 0  # waits for an identical request's answer that ran out
    stores: int = 0  # entries written
    store_skips: int = 0  # answers not written: not storable or too large
    errors: int = 0  # store operations that failed (timeouts included)
    timeouts: int = 0  # store operations past the timeout
    breaker_skips: int = 0  # store operations not tried: the breaker was open
    damaged: int = 0  # stored bytes that did not decode (dropped, counted as misses)
    bytes_read: int = 0
    bytes_written: int = 0
    saved_cost_usd: float = 0.0  # upstream cost not spent thanks to hits, stale answers and coalescing
    saved_output_tokens: int = 0

    def snapshot(self) -> dict[str, float]:
        return asdict(self)
