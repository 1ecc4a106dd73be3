"""Calendar windows in UTC: which window a moment falls in, and when it ends.

``bounds(window, now)`` returns ``(start, end)`` in whole epoch seconds with ``start <= now < end``:

- minute, hour, day: fixed lengths (60, 3600, 86400 s) from the epoch; UTC has no daylight saving and
  POSIX time has no leap seconds, so ``now // length * length`` is exact.
- month: the first second of the month to the first second of the next, from the UTC calendar (28 to
  31 days; February has 29 days in leap years: divisible by 4, except centuries not divisible by 400).

A window is named by its start, and the start is part of the counter's key in the store: a new window
is a new key (created by the first increment, with an expiry), never an old key reset. Nothing here
reads a clock; callers pass ``now`` from theirs (injected in tests).

``WindowClock`` caches the current bounds of one window so the per-request cost is one comparison; it
recomputes when ``now`` leaves them (forward at rollover, or backward when the wall clock is stepped).
"""

from __future__ import annotations

import calendar
import time

from .spec import Window

_FIXED_S = {Window.MINUTE: 60, Window.HOUR: 3600, Window.DAY: 86_400}


def bounds(window: Window, now: float) -> tuple[int, int]:
    """The window holding ``now`` (epoch seconds, UTC) as ``(start, end)``, end exclusive."""
    length = _FIXED_S.get(window)
    if length is not None:
        start = int(now // length) * length
        return start, start + length
    moment = time.gmtime(int(now // 1))
    year, month = moment.tm_year, moment.tm_mon
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return start, calendar.timegm((next_year, next_month, 1, 0, 0, 0))


def nominal_seconds(window: Window) -> int:
    """The window's length for the ``RateLimit-Policy`` header's ``w`` (a month is given as 30 days)."""
    return _FIXED_S.get(window, 30 * 86_400)


class WindowClock:
    """The current bounds of one window, recomputed only when ``now`` leaves them."""

    __slots__ = ("_end", "_start", "window")

    def __init__(self, window: Window) -> None:
        self.window = window
        self._start = 0
        self._end = 0

    def at(self, now: float) -> tuple[int, int]:
        if not self._start <= now < self._end:
            self._start, self._end = bounds(self.window, now)
        return self._start, self._end
