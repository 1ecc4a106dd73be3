"""Sliding windows: the count ring buffer and the time buckets behind breaker and budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.resilience.windows import BucketedCounters, CountWindow, TimeWindow

from .fakes import FakeClock


def test_count_window_evicts_the_oldest() -> None:
    """Past its size, each new record pushes out the oldest, flags and all."""
    window = CountWindow(3)
    window.record(True, True)
    window.record(False, False)
    window.record(False, True)
    assert window.totals() == (3, 1, 2)
    window.record(False, False)  # drops the failed slow call
    assert window.totals() == (3, 0, 1)


def test_count_window_reset() -> None:
    """reset() empties the window."""
    window = CountWindow(2)
    window.record(True, False)
    window.reset()
    assert window.totals() == (0, 0, 0)


def test_bucketed_counters_forget_after_the_span(clock: FakeClock) -> None:
    """A count leaves the window once its bucket is older than the span."""
    counters = BucketedCounters(10.0, 10, 2, clock)
    counters.add(0)
    clock.advance(9.0)
    counters.add(1, 5)
    assert counters.totals() == (1, 5)
    clock.advance(1.0)
    assert counters.totals() == (0, 5)
    clock.advance(1000.0)
    assert counters.totals() == (0, 0)


def test_clock_going_backwards_writes_into_the_newest_bucket(clock: FakeClock) -> None:
    """A clock that steps back does not corrupt the totals."""
    counters = BucketedCounters(10.0, 10, 1, clock)
    clock.advance(5.0)
    counters.add(0)
    clock.advance(-3.0)
    counters.add(0)
    assert counters.totals() == (2,)


def test_time_window_records_flags(clock: FakeClock) -> None:
    """TimeWindow counts calls, failures and slow calls."""
    window = TimeWindow(5, clock)
    window.record(True, False)
    window.record(False, True)
    assert window.totals() == (2, 1, 1)
    window.reset()
    assert window.totals() == (0, 0, 0)


def test_record_returns_the_totals_after_it(clock: FakeClock) -> None:
    """Each window's ``record`` returns its ``totals()`` as they are after the call it counts (the breaker reads
    its rates from it)."""
    for window in (CountWindow(2), TimeWindow(5, clock)):
        assert window.record(True, False) == (1, 1, 0) == window.totals()
        assert window.record(False, True) == (2, 1, 1) == window.totals()
    assert CountWindow(1).record(False, True) == (1, 0, 1)


@pytest.mark.parametrize("size", [0, -1])
def test_invalid_sizes(size: int, clock: FakeClock) -> None:
    """Windows of size < 1 are rejected."""
    with pytest.raises(ValueError, match="window"):
        CountWindow(size)
    with pytest.raises(ValueError, match="window"):
        TimeWindow(size, clock)


@settings(deadline=None)
@given(events=st.lists(st.tuples(st.floats(0.0, 3.0), st.integers(0, 3)), max_size=200))
def test_bucketed_totals_match_a_naive_recount(events: list[tuple[float, int]]) -> None:
    """The running totals always equal a recount of the events in the current and last n-1 buckets."""
    clock = FakeClock(0.0)
    counters = BucketedCounters(10.0, 5, 1, clock)
    history: list[tuple[int, int]] = []
    for step, amount in events:
        clock.advance(step)
        counters.add(0, amount)
        history.append((int(clock.now // 2.0), amount))
        head = int(clock.now // 2.0)
        expected = sum(a for bucket, a in history if bucket > head - 5)
        assert counters.totals() == (expected,)


@settings(deadline=None)
@given(size=st.integers(1, 6), outcomes=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60))
def test_count_window_totals_match_a_recount_of_the_last_calls(size: int, outcomes: list[tuple[bool, bool]]) -> None:
    """After any run of outcomes, the count window's totals are a recount of its last ``size`` calls; after a
    reset, of the calls since."""
    window = CountWindow(size)
    for index, (failure, slow) in enumerate(outcomes):
        window.record(failure, slow)
        kept = outcomes[max(0, index + 1 - size) : index + 1]
        assert window.totals() == (len(kept), sum(f for f, _ in kept), sum(s for _, s in kept))
    window.reset()
    assert window.record(True, True) == (1, 1, 1)
