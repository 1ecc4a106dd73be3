"""Weighted split: proportions (chi-square over 10,000 keys), stickiness, stability across processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from sidecar.routing.split import WeightedSplit, sticky_key

KEYS = [f"user-{i}" for i in range(10_000)]
# chi-square critical values at p = 0.001 (a fixed key set makes the test deterministic, not flaky)
CRITICAL = {1: 10.828, 2: 13.816}


def chi_square(counts: Counter[str], weights: dict[str, float]) -> float:
    total, weight_sum = sum(counts.values()), sum(weights.values())
    return sum((counts[arm] - total * w / weight_sum) ** 2 / (total * w / weight_sum) for arm, w in weights.items())


@pytest.mark.parametrize("weights", [{"a": 90, "b": 10}, {"a": 50, "b": 30, "c": 20}])
def test_proportions_follow_the_weights(weights: dict[str, float]) -> None:
    """Over 10,000 keys the arms' shares pass a chi-square test against the weights (p = 0.001)."""
    split = WeightedSplit(list(weights.items()), salt="route-a")
    counts = Counter(split.pick(k) for k in KEYS)
    assert chi_square(counts, weights) < CRITICAL[len(weights) - 1]


def test_same_key_same_arm() -> None:
    """Every key lands on the same arm on every call and in a freshly built split."""
    first = [WeightedSplit([("a", 90), ("b", 10)], "r").pick(k) for k in KEYS[:2000]]
    again = WeightedSplit([("a", 90), ("b", 10)], "r")
    assert first == [again.pick(k) for k in KEYS[:2000]]


def test_arms_agree_across_processes() -> None:
    """Another interpreter with another hash seed picks the same arms (no salted hash)."""
    code = (
        "from sidecar.routing.split import WeightedSplit as W; s = W([('a', 1), ('b', 1)], 'r'); "
        "print(''.join(s.pick(f'user-{i}') for i in range(200)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    here = WeightedSplit([("a", 1), ("b", 1)], "r")
    assert other == "".join(here.pick(f"user-{i}") for i in range(200))


def test_growing_canary_keeps_its_users() -> None:
    """Raising the last arm from 10 to 20 moves users into it, never out of it."""
    before = WeightedSplit([("stable", 90), ("canary", 10)], "r")
    after = WeightedSplit([("stable", 80), ("canary", 20)], "r")
    canary = {k for k in KEYS if before.pick(k) == "canary"}
    assert all(after.pick(k) == "canary" for k in canary)


def test_salt_makes_splits_independent() -> None:
    """Two routes' 50/50 splits put a key in unrelated arms: agreement is near half, not total."""
    one, two = WeightedSplit([("a", 1), ("b", 1)], "route-1"), WeightedSplit([("a", 1), ("b", 1)], "route-2")
    agree = sum(one.pick(k) == two.pick(k) for k in KEYS)
    assert 4_700 < agree < 5_300


def test_no_key_draws_at_random() -> None:
    """Without a sticky key each request draws from the given random source."""
    split = WeightedSplit([("a", 1), ("b", 1)], "r")
    assert {split.pick(None, random.Random(seed)) for seed in range(50)} == {"a", "b"}


def test_sticky_key_sources() -> None:
    """sticky_by names the app or a request header; an absent one gives no key."""
    headers = {"x-user": "u-42"}
    assert sticky_key("header:x-user", headers, "checkout") == "u-42"
    assert sticky_key("app", headers, "checkout") == "checkout"
    assert sticky_key("header:x-team", headers, "checkout") is None
    assert sticky_key(None, headers, "checkout") is None
