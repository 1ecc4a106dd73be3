"""A throttled warning for a dependency that keeps failing (the cache's and the budgets' Redis).

``FailureLog.failed(**fields)`` counts a failure and writes the event at most once per interval, with
``failures``: how many there were since the last line (this one included). A store that is down is
then one line a minute in the pod's log, not one per request, and the count still says how bad it is
(the exact numbers are in the metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .logging import get_logger


class FailureLog:
    """At most one ``event`` warning per ``interval_s`` (see the module docstring)."""

    def __init__(
        self, component: str, event: str, interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = get_logger(component)
        self._event = event
        self._interval_s = interval_s
        self._clock = clock
        self._last_line = -float("inf")
        self._unlogged = 0

    def failed(self, **fields: object) -> None:
        """Count one failure; write the line if the last one is at least ``interval_s`` old."""
        self._unlogged += 1
        now = self._clock()
        if now - self._last_line < self._interval_s:
            return
        self._log.warning(self._event, **fields, failures=self._unlogged)
        self._last_line = now
        self._unlogged = 0
