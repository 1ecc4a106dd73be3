"""A throttled warning for a dependency that keeps failing (the cache's and the budgets' Redis).

``FailureLog.failed(**fields)`` counts a failure and writes the event at most once per interval, with
``failures``: how many there were since the last line (this one included). A store that is down is
then one line a minute in the pod's log, not one per request, and the count still says how bad it is
(the exact numbers are in the metrics).

Failures held back within an interval are written when it ends (with the fields of the last of them),
on the running event loop, even if no failure follows: an outage that starts less than an interval
after a line and is over before the interval ends (Redis restarted within a minute of a first
timeout) is in the log too, at most ``interval_s`` late. Before 2026-12-05 such failures waited for
the next failure to be counted, and a store that recovered left them out of the log altogether.
"""

from __future__ import annotations

import asyncio
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
        self._held: dict[str, object] = {}  # the fields of the last failure held back
        self._timer: asyncio.TimerHandle | None = None  # writes the held failures when the interval ends

    def failed(self, **fields: object) -> None:
        """Count one failure; write the line if the last one is at least ``interval_s`` old, else hold it
        for the line written when the interval ends."""
        self._unlogged += 1
        now = self._clock()
        if now - self._last_line < self._interval_s:
            self._held = fields
            if self._timer is None:
                self._write_later(self._last_line + self._interval_s - now)
            return
        self._write(fields, now)

    def _write_later(self, delay_s: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: the next failure after the interval writes them
            return
        self._timer = loop.call_later(delay_s, self._write_held)

    def _write_held(self) -> None:
        self._timer = None
        if self._unlogged:
            self._write(self._held, self._clock())

    def _write(self, fields: dict[str, object], now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._log.warning(self._event, **fields, failures=self._unlogged)
        self._last_line = now
        self._unlogged = 0
        self._held = {}
