"""The shadow sampling decision: deterministic per request, the configured share, independent per route."""

from __future__ import annotations

import math

from sidecar.shadow import sampled

KEYS = [f"req-{index:06d}" for index in range(20_000)]


def test_same_request_same_decision():
    """A request id is always decided the same way."""
    assert [sampled(key, 0.3, "route") for key in KEYS[:500]] == [sampled(key, 0.3, "route") for key in KEYS[:500]]


def test_share_matches_rate():
    """Over 20,000 ids the sampled share is the rate (within 4 sigma)."""
    for rate in (0.01, 0.05, 0.5):
        share = sum(sampled(key, rate, "route") for key in KEYS) / len(KEYS)
        assert abs(share - rate) < 4 * math.sqrt(rate * (1 - rate) / len(KEYS))


def test_routes_sample_independently():
    """Two routes at 50% pick different requests (overlap about a quarter, not a half)."""
    both = sum(sampled(key, 0.5, "a") and sampled(key, 0.5, "b") for key in KEYS) / len(KEYS)
    assert abs(both - 0.25) < 0.02


def test_edges():
    """Rate 0 samples nothing, rate 1 everything."""
    assert not any(sampled(key, 0.0) for key in KEYS[:100])
    assert all(sampled(key, 1.0) for key in KEYS[:100])
