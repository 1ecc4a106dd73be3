"""RetryBudget: retries <= ratio * requests + min_retries over a sliding window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.resilience.budget import RetryBudget

from .fakes import FakeClock


def test_defaults() -> None:
    """Defaults: 20% of requests plus 3 retries, over 10 s."""
    budget = RetryBudget()
    assert (budget.ratio, budget.min_retries, budget.window_s) == (0.2, 3, 10.0)


def test_quiet_target_gets_min_retries(clock: FakeClock) -> None:
    """With no requests in the window, exactly min_retries retries are allowed."""
    budget = RetryBudget(clock=clock)
    assert [budget.try_spend_retry() for _ in range(4)] == [True, True, True, False]


def test_busy_target_gets_ratio_of_requests(clock: FakeClock) -> None:
    """100 requests allow 0.2 * 100 + 3 = 23 retries; the 24th is refused."""
    budget = RetryBudget(clock=clock)
    for _ in range(100):
        budget.record_request()
    granted = sum(budget.try_spend_retry() for _ in range(50))
    assert granted == 23
    assert budget.snapshot() == {"window_s": 10.0, "requests": 100, "retries": 23, "allowance": 23.0}


def test_refused_retry_takes_nothing(clock: FakeClock) -> None:
    """A refused try_spend_retry does not count as a retry."""
    budget = RetryBudget(min_retries=0, clock=clock)
    assert not budget.try_spend_retry()
    assert budget.snapshot()["retries"] == 0


def test_fractional_allowance_rounds_down(clock: FakeClock) -> None:
    """0.1 * 30 requests admits exactly 3 retries despite binary floating point."""
    budget = RetryBudget(ratio=0.1, min_retries=0, clock=clock)
    for _ in range(30):
        budget.record_request()
    assert sum(budget.try_spend_retry() for _ in range(10)) == 3


def test_budget_refills_as_the_window_slides(clock: FakeClock) -> None:
    """Retries spent more than a window ago no longer count."""
    budget = RetryBudget(clock=clock)
    assert sum(budget.try_spend_retry() for _ in range(5)) == 3
    clock.advance(5.0)
    assert not budget.try_spend_retry()
    clock.advance(5.0)
    assert budget.try_spend_retry()


def test_outage_does_not_multiply_load(clock: FakeClock) -> None:
    """1000 requests over 10 s that all fail and want a retry get 203 retries: load x1.2, not x2."""
    budget = RetryBudget(clock=clock)
    attempts = 0
    for _ in range(1000):
        clock.advance(0.0099)
        budget.record_request()
        attempts += 1
        if budget.try_spend_retry():
            attempts += 1
    assert attempts <= 1000 * 1.2 + 3


def test_invalid_settings_are_rejected() -> None:
    """A negative ratio or min_retries raises ValueError."""
    with pytest.raises(ValueError, match="retry budget"):
        RetryBudget(ratio=-0.1)
    with pytest.raises(ValueError, match="retry budget"):
        RetryBudget(min_retries=-1)


@settings(deadline=None)
@given(
    ops=st.lists(st.one_of(st.just("request"), st.just("retry"), st.floats(0.0, 4.0)), max_size=300),
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
    min_retries=st.integers(0, 5),
)
def test_amplification_is_capped(ops: list[object], ratio: float, min_retries: int) -> None:
    """For any sequence, each granted retry leaves retries <= ratio * requests + min_retries in the window."""
    clock = FakeClock()
    budget = RetryBudget(ratio=ratio, min_retries=min_retries, clock=clock)
    for op in ops:
        if op == "request":
            budget.record_request()
        elif op == "retry":
            if budget.try_spend_retry():
                snap = budget.snapshot()
                assert snap["retries"] <= ratio * snap["requests"] + min_retries + 1e-9
        else:
            assert isinstance(op, float)
            clock.advance(op)
