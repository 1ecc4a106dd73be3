"""Backoff: full jitter within [0, min(cap, base * 2^n)]; rate-limited delays within [hint, 1.25 hint]."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.resilience.backoff import Backoff, rate_limited_delay


@settings(deadline=None)
@given(
    base=st.floats(min_value=0, max_value=100, allow_nan=False),
    cap=st.floats(min_value=0, max_value=1000, allow_nan=False),
    attempt=st.integers(min_value=-5, max_value=10_000),
    seed=st.integers(),
)
def test_delay_always_within_zero_and_cap(base: float, cap: float, attempt: int, seed: int) -> None:
    """Every delay is in [0, min(cap, base * 2^attempt)], even for huge attempt numbers."""
    backoff = Backoff(base, cap, random.Random(seed))
    delay = backoff.delay(attempt)
    assert 0.0 <= delay <= cap
    assert delay <= backoff.ceiling(attempt)


def test_ceiling_doubles_then_caps() -> None:
    """The ceiling is base, 2 base, 4 base... until the cap."""
    backoff = Backoff(0.5, 8.0, random.Random(0))
    assert [backoff.ceiling(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_delay_is_deterministic_for_a_seed() -> None:
    """Two backoffs with the same seed give the same delays (tests can pin them)."""
    first = Backoff(0.5, 8.0, random.Random(42))
    second = Backoff(0.5, 8.0, random.Random(42))
    assert [first.delay(n) for n in range(5)] == [second.delay(n) for n in range(5)]


def test_delay_uses_the_whole_interval() -> None:
    """Full jitter: delays spread over the interval rather than clustering at its top."""
    backoff = Backoff(1.0, 100.0, random.Random(7))
    delays = [backoff.delay(3) for _ in range(2000)]
    assert min(delays) < 0.5
    assert max(delays) > 7.5


def test_defaults_match_the_policy() -> None:
    """Defaults are the policy's resilience.backoff: 0.1 s base, 2 s cap."""
    backoff = Backoff()
    assert (backoff.base_s, backoff.cap_s) == (0.1, 2.0)


@pytest.mark.parametrize(("base", "cap"), [(-1.0, 1.0), (1.0, -1.0), (float("inf"), 1.0), (float("nan"), 1.0)])
def test_invalid_settings_are_rejected(base: float, cap: float) -> None:
    """Negative or non-finite base/cap raise ValueError at construction."""
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, cap)


@settings(deadline=None)
@given(hint=st.floats(min_value=1e-6, max_value=86_400), seed=st.integers())
def test_rate_limited_delay_never_earlier_than_hint(hint: float, seed: int) -> None:
    """The wait after a reset hint is in [hint, 1.25 * hint]: never before the provider's reset."""
    delay = rate_limited_delay(hint, random.Random(seed))
    assert hint <= delay <= hint * 1.25


@pytest.mark.parametrize("hint", [0.0, -3.0, float("nan")])
def test_rate_limited_delay_of_no_wait(hint: float) -> None:
    """A zero, negative or NaN hint means no wait."""
    assert rate_limited_delay(hint, random.Random(1)) == 0.0
