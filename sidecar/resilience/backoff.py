"""How long to wait before retrying the same target.

- ``Backoff.delay(attempt)``: "full jitter" exponential backoff,
  ``uniform(0, min(cap_s, base_s * 2**attempt))`` with ``attempt`` counted from 0 (the first retry).
  Full jitter spreads the retries of many sidecars over the whole interval instead of synchronising
  them (Envoy and gRPC A6 do the same).
- ``rate_limited_delay(hint_s, rng)``: when the provider said when it will accept us again, wait
  ``uniform(hint_s, 1.25 * hint_s)``: never earlier than the hint (an early retry is wasted and may be
  counted against us), and spread by up to 25% so that all pods do not come back at the same instant.
  Envoy uses up to 1.5x; a provider's reset time is precise, so a smaller spread costs less latency.

Both take the RNG as an argument (``random.Random``, seeded in tests); nothing here sleeps.
"""

from __future__ import annotations

import math
import random

DEFAULT_BASE_S = 0.1
DEFAULT_CAP_S = 2.0
RATE_LIMIT_JITTER = 0.25


class Backoff:
    """Full-jitter exponential backoff. Defaults (0.1 s, 2 s) are the policy's ``resilience.backoff``:
    shorter than the SDKs' own 0.5 s / 8 s, because the app's SDK retries on top of the sidecar."""

    __slots__ = ("_base_s", "_cap_s", "_rng")

    def __init__(
        self,
        base_s: float = DEFAULT_BASE_S,
        cap_s: float = DEFAULT_CAP_S,
        rng: random.Random | None = None,
    ) -> None:
        if not (math.isfinite(base_s) and math.isfinite(cap_s)) or base_s < 0 or cap_s < 0:
            raise ValueError(f"backoff base_s and cap_s must be finite and >= 0, got {base_s}, {cap_s}")
        self._base_s = base_s
        self._cap_s = cap_s
        self._rng = rng if rng is not None else random.Random()

    @property
    def base_s(self) -> float:
        return self._base_s

    @property
    def cap_s(self) -> float:
        return self._cap_s

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the delay for ``attempt`` (0-based): ``min(cap_s, base_s * 2**attempt)``."""
        attempt = max(attempt, 0)
        if attempt >= 64 or self._base_s * 2.0**attempt >= self._cap_s:
            return self._cap_s
        return self._base_s * 2.0**attempt

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        return self._rng.uniform(0.0, self.ceiling(attempt))


def rate_limited_delay(hint_s: float, rng: random.Random) -> float:
    """Seconds to wait after a rate limit whose reset is ``hint_s`` away: ``uniform(hint, 1.25 * hint)``."""
    if not hint_s > 0:  # also NaN
        return 0.0
    if math.isinf(hint_s):
        return hint_s
    upper = hint_s * (1.0 + RATE_LIMIT_JITTER)
    return min(upper, max(hint_s, rng.uniform(hint_s, upper)))
