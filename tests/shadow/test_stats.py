"""The shadow aggregate: rates, costs, latency quantiles, the key bound, and the in-flight bound."""

from __future__ import annotations

import pytest

from sidecar.shadow import ShadowOutcome, ShadowSlots, ShadowStats


def test_agreement_cost_and_latency():
    """Per route x task x candidate: agreement over compared answers, cost ratio, latency quantiles."""
    stats = ShadowStats()
    for index in range(100):
        outcome = ShadowOutcome(agreed=index < 97, cost_usd=0.0006, served_cost_usd=0.01, latency_s=0.3 + index / 1000)
        stats.record("extract", "extraction", "gpt-4o-mini", outcome)
    stats.record("extract", "extraction", "gpt-4o-mini", ShadowOutcome(agreed=None, latency_s=0.2))
    stats.record("extract", "extraction", "gpt-4o-mini", ShadowOutcome(agreed=None, failed=True, latency_s=30))
    stats.skipped("extract", "extraction", "gpt-4o-mini")
    [row] = stats.snapshot()
    assert (row.route, row.task, row.candidate) == ("extract", "extraction", "gpt-4o-mini")
    s = row.stats
    assert (s.compared, s.agreed, s.not_comparable, s.failed, s.skipped, s.calls) == (100, 97, 1, 1, 1, 102)
    assert s.agreement == pytest.approx(0.97)
    assert s.cost_ratio == pytest.approx(0.06)
    median = s.latency_quantile(0.5)
    assert median is not None
    assert 0.3 <= median <= 0.4  # in the bucket holding 0.3-0.4 s, within what was seen
    assert s.latency_quantile(1.0) == 30.0  # the slowest call, the failed one


def test_a_latency_quantile_stays_within_the_calls_seen():
    """Twenty calls of 0.30 to 0.32 s, all in the 0.25-0.5 s bucket: the median and p95 lie between the
    fastest and the slowest call (before 2026-12-06 the bucket's edges alone gave 0.375 s and 0.49 s, a
    p95 slower than any call)."""
    stats = ShadowStats()
    for index in range(20):
        stats.record("r", "t", "c", ShadowOutcome(agreed=True, latency_s=0.30 + index / 1000))
    s = stats.snapshot()[0].stats
    median, p95 = s.latency_quantile(0.5), s.latency_quantile(0.95)
    assert median is not None and p95 is not None
    assert 0.30 <= median <= p95 <= 0.319


def test_rows_are_separate_and_copied():
    """Each route, task and candidate has its own row; a snapshot does not change with later records."""
    stats = ShadowStats()
    stats.record("r", "a", "c1", ShadowOutcome(agreed=True))
    stats.record("r", "b", "c1", ShadowOutcome(agreed=False))
    snapshot = stats.snapshot()
    stats.record("r", "a", "c1", ShadowOutcome(agreed=False))
    assert [(row.task, row.stats.agreed, row.stats.compared) for row in snapshot] == [("a", 1, 1), ("b", 0, 1)]
    assert snapshot[0].stats.latency_counts is not stats.snapshot()[0].stats.latency_counts


def test_keys_are_bounded():
    """Beyond max_keys, new keys are only counted as dropped; existing ones keep counting."""
    stats = ShadowStats(max_keys=2)
    for candidate in ("a", "b", "c", "d"):
        stats.record("r", "t", candidate, ShadowOutcome(agreed=True))
    stats.record("r", "t", "a", ShadowOutcome(agreed=True))
    assert [(row.candidate, row.stats.compared) for row in stats.snapshot()] == [("a", 2), ("b", 1)]
    assert stats.dropped == 2


def test_empty_rates_are_none():
    """Before any comparison there is no agreement rate, cost ratio or latency."""
    stats = ShadowStats()
    stats.skipped("r", "t", "c")
    s = stats.snapshot()[0].stats
    assert (s.agreement, s.cost_ratio, s.latency_quantile(0.5)) == (None, None, None)


def test_slots_never_wait():
    """Slots admit up to the limit, refuse beyond it, and free on release."""
    slots = ShadowSlots(2)
    assert [slots.try_acquire() for _ in range(3)] == [True, True, False]
    slots.release()
    assert slots.try_acquire() is True
    with pytest.raises(RuntimeError):
        ShadowSlots(1).release()
