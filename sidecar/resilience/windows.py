"""Sliding windows of counters, O(1) per record, shared by the breaker and the retry budget.

- ``CountWindow(size)``: the last ``size`` calls, as a ring buffer of per-call flags (failure, slow)
  with running totals; the oldest call drops out when a new one arrives.
- ``BucketedCounters(span_s, buckets, counters, clock)``: ``counters`` running sums over the last
  ``span_s`` seconds, kept in ``buckets`` equal time buckets in a ring. Time moves the ring forward
  lazily on each access: a bucket that falls out of the window is subtracted from the totals and
  cleared, so the cost is amortised O(1) per elapsed bucket, and one O(buckets) reset after an idle
  period longer than the window. The window covers between ``span_s - width`` and ``span_s`` seconds,
  ``width = span_s / buckets``.
- ``TimeWindow(size_s, clock)``: the breaker's call window over the last ``size_s`` seconds, in
  one-second buckets (``BucketedCounters`` with counters calls, failures, slow).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol


class CallWindow(Protocol):
    def record(self, failure: bool, slow: bool) -> tuple[int, int, int]: ...
    def totals(self) -> tuple[int, int, int]: ...
    def reset(self) -> None: ...


class CountWindow:
    """Outcomes of the last ``size`` calls: bit 0 = failure, bit 1 = slow.

    The ring is a list of small ints and ``record`` tests its flags and counts by branches: a ``bytearray``'s
    subscripts, ``%`` and arithmetic on bools are sites Python 3.11 leaves generic (docs/benchmarks.md,
    "Wave 54 `plain55`")."""

    __slots__ = ("_calls", "_failures", "_pos", "_ring", "_slow")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"count window size must be >= 1, got {size}")
        self._ring = [0] * size
        self.reset()

    def reset(self) -> None:
        self._ring[:] = [0] * len(self._ring)
        self._pos = self._calls = self._failures = self._slow = 0

    def record(self, failure: bool, slow: bool) -> tuple[int, int, int]:
        """Count one call's outcome; returns ``totals()`` after it (the breaker's check reads them at once)."""
        ring, pos = self._ring, self._pos
        size = len(ring)
        if self._calls == size:
            old = ring[pos]
            if old == 1 or old == 3:
                self._failures -= 1
            if old >= 2:
                self._slow -= 1
        else:
            self._calls += 1
        flags = 0
        if failure:
            flags = 1
            self._failures += 1
        if slow:
            flags += 2
            self._slow += 1
        ring[pos] = flags
        pos += 1
        self._pos = 0 if pos == size else pos
        return self._calls, self._failures, self._slow

    def totals(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window."""
        return self._calls, self._failures, self._slow


class BucketedCounters:
    """``counters`` sums over a sliding time window made of ``buckets`` time buckets."""

    __slots__ = ("_buckets", "_clock", "_head", "_totals", "_width")

    def __init__(self, span_s: float, buckets: int, counters: int, clock: Callable[[], float]) -> None:
        if not (span_s > 0 and math.isfinite(span_s)) or buckets < 1 or counters < 1:
            raise ValueError(f"invalid window: span_s={span_s}, buckets={buckets}, counters={counters}")
        self._width = span_s / buckets
        self._clock = clock
        self._buckets = [[0] * counters for _ in range(buckets)]
        self._totals = [0] * counters
        self._head: int | None = None  # absolute index of the newest bucket

    def reset(self) -> None:
        for bucket in self._buckets:
            bucket[:] = [0] * len(bucket)
        self._totals = [0] * len(self._totals)
        self._head = None

    def _advance(self) -> list[int]:
        """Move the ring to the current time; return the current bucket."""
        n = len(self._buckets)
        now_index = math.floor(self._clock() / self._width)
        head = self._head
        if head is None or now_index - head >= n:
            if head is not None:
                self.reset()
            head = now_index
        elif now_index > head:
            for index in range(head + 1, now_index + 1):
                bucket = self._buckets[index % n]
                for i, value in enumerate(bucket):
                    self._totals[i] -= value
                    bucket[i] = 0
            head = now_index
        # A clock that went backwards keeps writing into the newest bucket.
        self._head = head
        return self._buckets[head % n]

    def add(self, counter: int, amount: int = 1) -> None:
        self._advance()[counter] += amount
        self._totals[counter] += amount

    def totals(self) -> tuple[int, ...]:
        self._advance()
        return tuple(self._totals)


class TimeWindow:
    """Outcomes of the calls in the last ``size_s`` seconds, in one-second buckets."""

    __slots__ = ("_counters",)

    def __init__(self, size_s: int, clock: Callable[[], float]) -> None:
        if size_s < 1:
            raise ValueError(f"time window size must be >= 1 second, got {size_s}")
        self._counters = BucketedCounters(float(size_s), size_s, 3, clock)

    def reset(self) -> None:
        self._counters.reset()

    def record(self, failure: bool, slow: bool) -> tuple[int, int, int]:
        """Count one call's outcome; returns ``totals()`` after it."""
        self._counters.add(0)
        if failure:
            self._counters.add(1)
        if slow:
            self._counters.add(2)
        return self.totals()

    def totals(self) -> tuple[int, int, int]:
        calls, failures, slow = self._counters.totals()
        return calls, failures, slow
