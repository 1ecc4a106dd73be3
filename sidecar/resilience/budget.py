"""A retry budget per target, so that an outage never multiplies the load on it.

After Envoy's ``retry_budget`` and the Google SRE book ("Handling Overload"): over a sliding window
(default 10 s, in 10 one-second buckets) a retry is allowed only while, counting it,

    retries <= ratio * requests + min_retries        (defaults: ratio 0.2, min_retries 3)

``requests`` counts first attempts (``record_request``, once per request that reaches the target),
``retries`` counts extra attempts on the same target (``try_spend_retry`` before each one; a False
answer means "do not retry here": fall back or fail instead). A fallback to another target is a first
attempt there, not a retry. ``min_retries`` lets a quiet target still retry a few times; ``ratio``
bounds the amplification under load at 1.2x. The SDK in the app may retry too (twice by default), so
keep the sidecar's own budget tight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sidecar.resilience.windows import BucketedCounters

_REQUESTS, _RETRIES = 0, 1
_EPSILON = 1e-9  # so that 0.1 * 30 + 0 admits exactly 3 retries despite binary floating point


class RetryBudget:
    """Allows retries to one target while they stay under ``ratio`` of its requests plus ``min_retries``."""

    __slots__ = ("_counts", "min_retries", "ratio", "window_s")

    def __init__(
        self,
        ratio: float = 0.2,
        min_retries: int = 3,
        window_s: float = 10.0,
        buckets: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ratio >= 0 or min_retries < 0:
            raise ValueError(f"retry budget ratio and min_retries must be >= 0, got {ratio}, {min_retries}")
        self.ratio = ratio
        self.min_retries = min_retries
        self.window_s = window_s
        self._counts = BucketedCounters(window_s, buckets, 2, clock)

    def record_request(self) -> None:
        """A first attempt reached the target."""
        self._counts.add(_REQUESTS)

    def try_spend_retry(self) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is spent."""
        requests, retries = self._counts.totals()
        if retries + 1 > self.ratio * requests + self.min_retries + _EPSILON:
            return False
        self._counts.add(_RETRIES)
        return True

    def snapshot(self) -> dict[str, Any]:
        requests, retries = self._counts.totals()
        return {
            "window_s": self.window_s,
            "requests": requests,
            "retries": retries,
            "allowance": self.ratio * requests + self.min_retries,
        }
