"""Weight rows packed into single integers, so a sparse dot product is one C-level ``sum()``.

A learned router scores every label of every head for each n-gram present: with 12 labels and 200
n-grams that is 2,400 float additions, 50-100 us as Python loops. Instead each n-gram's row of weights
is quantized (``round(w * SCALE)``) and packed as the signed digits of one integer in base
``2 ** LANE_BITS``: lane ``i`` holds label ``i``. Integers add digit by digit, so the sum of the rows of
the n-grams present is the packed row of the sums, computed by ``sum(map(vocabulary.get, grams))``
inside the interpreter's C code; ``unpack`` reads the lanes back as floats. With 64-bit lanes and
``SCALE = 2**20`` a lane holds sums up to 2**43 / 2**20 = 8 million in absolute value, far beyond what
any request can add up (weights are small, n-grams per request bounded by the text windows), and the
quantization step (1e-6) is far below what changes a decision.
"""

from __future__ import annotations

from collections.abc import Sequence

LANE_BITS = 64
SCALE = float(1 << 20)
_FULL = 1 << LANE_BITS
_MASK = _FULL - 1
_SIGN = 1 << (LANE_BITS - 1)


def pack(row: Sequence[float]) -> int:
    total = 0
    for lane, weight in enumerate(row):
        total += round(weight * SCALE) << (LANE_BITS * lane)
    return total


def unpack(total: int, lanes: int) -> list[float]:
    out = []
    for _ in range(lanes):
        lane = total & _MASK
        if lane & _SIGN:
            lane -= _FULL
        out.append(lane / SCALE)
        total = (total - lane) >> LANE_BITS
    return out
