"""Weight rows packed into single integers, so a sparse dot product is one C-level ``sum()``.

A learned router scores every label of every head for each n-gram present: with 12 labels and 200
n-grams that is 2,400 float additions, 50-100 us as Python loops. Instead each n-gram's row of weights
is quantized (``round(w * SCALE)``) and packed as the signed digits of one integer in base
``2 ** LANE_BITS``: lane ``i`` holds label ``i``. Integers add digit by digit, so the sum of the rows of
the n-grams present is the packed row of the sums, computed by ``sum(map(vocabulary.get, grams))``
inside the interpreter's C code; ``unpack`` reads the lanes back as floats. With 32-bit lanes and
``SCALE = 2**12`` (a quantization step of 0.00024, far below what changes a decision) a lane cannot
overflow as long as every weight is within ``MAX_WEIGHT`` and a request has at most ``MAX_GRAMS``
n-grams; ``pack`` refuses larger weights (trained weights are a few units) and ``grams`` cannot
produce more n-grams from its windows.
"""

from __future__ import annotations

from collections.abc import Sequence

LANE_BITS = 32
SCALE = float(1 << 12)
MAX_WEIGHT = 256.0  # |weight| * SCALE * MAX_GRAMS stays below 2**31
MAX_GRAMS = 2000  # more than the model's text windows can yield (768 characters: at most ~400 words)
_FULL = 1 << LANE_BITS
_MASK = _FULL - 1
_SIGN = 1 << (LANE_BITS - 1)


def pack(row: Sequence[float]) -> int:
    total = 0
    for lane, weight in enumerate(row):
        if not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight {weight} is outside +-{MAX_WEIGHT:g}")
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
