"""Packed weight rows: the sum of packed rows unpacks to the sums of the rows."""

from __future__ import annotations

import random

from sidecar.routing.learned import packed
from sidecar.routing.learned.grams import grams
from sidecar.routing.textview import TextView

from ..requests import features


def test_sum_of_packed_rows_is_the_packed_sum() -> None:
    """Adding packed integers adds each lane, negative weights included (up to rounding to 2**-12 each)."""
    rng = random.Random(0)
    rows = [[rng.uniform(-8, 8) for _ in range(11)] for _ in range(500)]
    total = packed.unpack(sum(packed.pack(r) for r in rows), 11)
    expected = [sum(column) for column in zip(*rows, strict=True)]
    assert all(abs(a - b) <= 500 * 2**-13 for a, b in zip(total, expected, strict=True))


def test_single_row_round_trips() -> None:
    """unpack(pack(row)) is the row, quantized to 2**-12."""
    row = [0.0, -1.5, 3.25, -0.000123, 7.0]
    assert all(abs(a - b) < 2**-12 for a, b in zip(packed.unpack(packed.pack(row), 5), row, strict=True))


def test_most_grams_of_largest_weights_do_not_overflow() -> None:
    """MAX_GRAMS rows of weights at +-MAX_WEIGHT sum exactly: no lane overflows into the next."""
    rows = [[packed.MAX_WEIGHT, -packed.MAX_WEIGHT, packed.MAX_WEIGHT]] * packed.MAX_GRAMS
    total = packed.unpack(sum(packed.pack(r) for r in rows), 3)
    n = packed.MAX_GRAMS * packed.MAX_WEIGHT
    assert total == [n, -n, n]


def test_largest_windows_stay_under_max_grams() -> None:
    """The most n-grams a request can yield (one-letter words filling every window) is below MAX_GRAMS."""
    view = TextView(features("a " * 10_000, system="b " * 10_000))
    assert sum(len(group) for group in grams(view)) < packed.MAX_GRAMS
