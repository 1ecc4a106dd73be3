"""Packed weight rows: the sum of packed rows unpacks to the sums of the rows."""

from __future__ import annotations

import random

from sidecar.routing.learned import packed


def test_sum_of_packed_rows_is_the_packed_sum() -> None:
    """Adding packed integers adds each lane, negative weights included, to 1e-5."""
    rng = random.Random(0)
    rows = [[rng.uniform(-8, 8) for _ in range(11)] for _ in range(500)]
    total = packed.unpack(sum(packed.pack(r) for r in rows), 11)
    expected = [sum(column) for column in zip(*rows, strict=True)]
    assert all(abs(a - b) < 1e-3 for a, b in zip(total, expected, strict=True))


def test_single_row_round_trips() -> None:
    """unpack(pack(row)) is the row, quantized to 2**-20."""
    row = [0.0, -1.5, 3.25, -0.000123, 7.0]
    assert all(abs(a - b) < 1e-6 for a, b in zip(packed.unpack(packed.pack(row), 5), row, strict=True))
