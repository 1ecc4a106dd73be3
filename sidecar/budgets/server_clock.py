"""The shared store's clock on a pod: the pod's wall clock moved by its measured offset from Redis's.

A counter's window (minute, hour, day, month) is named by its start, and every pod sharing the store
must name the same one at the same moment, or spend lands in a window another pod has left (and a pod
whose clock is a window or more off counts in keys of its own: the limit is no longer shared). So a
pod on a shared store reads ``ServerClock.now()``: its own ``time.time()`` plus ``offset_s``, the
difference between Redis's ``TIME`` and the middle of the round trip that asked for it, measured by
``sync`` when the ledger starts and again every few seconds (``budgets.keeper``), never per request.
The error left is half that round trip (well under a millisecond in a cluster) plus what the pod's
clock drifts or is stepped between two measurements; a measurement whose round trip took longer than
``MAX_ROUND_TRIP_S`` is not used. Until the first one, and while the store does not answer, the offset
is the last one measured (0 at first: the pod's own clock).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

MAX_ROUND_TRIP_S = 0.5


class ServerClock:
    """The pod's clock (``pod_time``, ``time.time`` but in tests) plus its offset from the store's."""

    __slots__ = ("_pod_time", "offset_s", "round_trip_s")

    def __init__(self, pod_time: Callable[[], float] = time.time) -> None:
        self._pod_time = pod_time
        self.offset_s = 0.0
        self.round_trip_s: float | None = None  # of the measurement in use (None: none yet)

    def now(self) -> float:
        """The store's time now, as far as this pod can tell (epoch seconds)."""
        return self._pod_time() + self.offset_s

    async def sync(self, server_time: Callable[[], Awaitable[float]]) -> bool:
        """Measure the offset again with ``server_time`` (one round trip; its errors are the caller's);
        False when the round trip was too slow to use (the offset stays)."""
        before = self._pod_time()
        server = await server_time()
        after = self._pod_time()
        if not 0 <= after - before <= MAX_ROUND_TRIP_S:
            return False
        self.offset_s = server - (before + after) / 2
        self.round_trip_s = after - before
        return True
