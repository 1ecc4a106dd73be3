"""What shadow evaluation has learnt, per route x task class x candidate, in bounded memory.

``ShadowStats.record(route, task, candidate, outcome)`` adds one shadow call's ``ShadowOutcome``;
``skipped`` counts a sampled request that found no free slot. Per key it keeps counts (compared,
agreed, not comparable, failed, skipped), the candidate's cost and the served requests' cost on the
same requests (their ratio is "at 6 % of the cost"), the agreement judge's cost apart (it is not the
candidate's), and a latency histogram (``LATENCY_BUCKETS_S``, as Prometheus publishes it) with the
fastest and slowest call, for a quantile estimate: linear within its bucket, bounded by those two (a
bucket's edges alone put the median of calls that all took 0.31 s at 0.375 s, their p95 at 0.49 s).
At most ``max_keys`` keys are kept (default 1,000), and beyond them one per route and candidate under
the task class ``OTHER_TASK``, where the request path counts the task classes that found no room (so
``/status`` keeps counting them: before 2026-12-06 those rows found no room either, and their outcomes
were only in ``dropped`` and the metrics); outcomes for other further keys are counted in ``dropped``
only. ``snapshot()`` copies the rows for ``/metrics`` and ``/status``.

``ShadowSlots`` bounds the shadow calls in flight for one route (``max_concurrent``): ``try_acquire``
never waits, so a busy shadow path skips samples instead of queueing them.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DEFAULT_MAX_KEYS = 1000
OTHER_TASK = "other"
"""The task class of outcomes whose own class found no room (``ShadowStats.admits``): always kept."""


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """One shadow call, as the request path reports it."""

    agreed: bool | None  # None: the answers could not be compared (or the call failed)
    failed: bool = False
    cost_usd: float = 0.0  # the candidate's call
    served_cost_usd: float = 0.0  # the served request (every call it paid for)
    latency_s: float = 0.0
    judge_cost_usd: float = 0.0  # the agreement judge's call: evaluation, not the candidate's price


@dataclass
class CandidateStats:
    compared: int = 0
    agreed: int = 0
    not_comparable: int = 0
    failed: int = 0
    skipped: int = 0
    cost_usd: float = 0.0
    served_cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    latency_min_s: float = math.inf
    latency_max_s: float = 0.0

    @property
    def agreement(self) -> float | None:
        """Agreed / compared, or None before the first comparison."""
        return self.agreed / self.compared if self.compared else None

    @property
    def cost_ratio(self) -> float | None:
        """The candidate's cost over the served answers' cost on the same requests."""
        return self.cost_usd / self.served_cost_usd if self.served_cost_usd > 0 else None

    @property
    def calls(self) -> int:
        return self.compared + self.not_comparable + self.failed

    def latency_quantile(self, q: float) -> float | None:
        """An estimate of the latency quantile ``q`` (linear within its bucket, whose edges are narrowed to
        the fastest and slowest call seen); None without calls."""
        total = sum(self.latency_counts)
        if total == 0:
            return None
        rank, seen = q * total, 0
        for index, count in enumerate(self.latency_counts):
            if count and seen + count >= rank:
                low = max(LATENCY_BUCKETS_S[index - 1] if index > 0 else 0.0, self.latency_min_s)
                high = min(LATENCY_BUCKETS_S[index] if index < len(LATENCY_BUCKETS_S) else math.inf, self.latency_max_s)
                return low + (high - low) * (rank - seen) / count
            seen += count
        return self.latency_max_s

    def add(self, outcome: ShadowOutcome) -> None:
        if outcome.failed:
            self.failed += 1
        elif outcome.agreed is None:
            self.not_comparable += 1
        else:
            self.compared += 1
            self.agreed += outcome.agreed
        self.cost_usd += outcome.cost_usd
        self.served_cost_usd += outcome.served_cost_usd
        self.judge_cost_usd += outcome.judge_cost_usd
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS_S, outcome.latency_s)] += 1
        self.latency_min_s = min(self.latency_min_s, outcome.latency_s)
        self.latency_max_s = max(self.latency_max_s, outcome.latency_s)


Key = tuple[str, str, str]  # route, task class, candidate


@dataclass(frozen=True, slots=True)
class ShadowRow:
    route: str
    task: str
    candidate: str
    stats: CandidateStats


class ShadowStats:
    """The aggregate for the whole sidecar (one per process, on the app)."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.dropped = 0
        self._rows: dict[Key, CandidateStats] = {}

    def record(self, route: str, task: str, candidate: str, outcome: ShadowOutcome) -> None:
        stats = self._stats((route, task, candidate))
        if stats is not None:
            stats.add(outcome)

    def skipped(self, route: str, task: str, candidate: str) -> None:
        stats = self._stats((route, task, candidate))
        if stats is not None:
            stats.skipped += 1

    def admits(self, route: str, task: str, candidate: str) -> bool:
        """Whether an outcome for this key would be kept (the key exists, there is room for it, or its task
        class is ``OTHER_TASK``)."""
        return task == OTHER_TASK or (route, task, candidate) in self._rows or len(self._rows) < self.max_keys

    def snapshot(self) -> list[ShadowRow]:
        """Copies of every row, sorted by route, task and candidate."""
        return [
            ShadowRow(*key, dataclasses.replace(stats, latency_counts=list(stats.latency_counts)))
            for key, stats in sorted(self._rows.items())
        ]

    def _stats(self, key: Key) -> CandidateStats | None:
        stats = self._rows.get(key)
        if stats is None:
            if len(self._rows) >= self.max_keys and key[1] != OTHER_TASK:
                self.dropped += 1
                return None
            stats = self._rows[key] = CandidateStats()
        return stats


class ShadowSlots:
    """At most ``limit`` shadow calls in flight for one route; acquiring never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_acquire(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        if self.in_flight <= 0:
            raise RuntimeError("ShadowSlots.release without a matching acquire")
        self.in_flight -= 1
