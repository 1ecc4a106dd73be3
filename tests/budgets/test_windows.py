"""Calendar windows in UTC: alignment, boundaries, month lengths, leap years, the cached clock."""

from __future__ import annotations

import calendar

import pytest

from sidecar.budgets.spec import Window
from sidecar.budgets.windows import WindowClock, bounds, nominal_seconds


def utc(*parts: int) -> int:
    return calendar.timegm((*parts, *(0,) * (6 - len(parts))))


@pytest.mark.parametrize(
    ("window", "now", "start", "end"),
    [
        (Window.MINUTE, utc(2024, 6, 1, 12, 34, 56) + 0.5, utc(2024, 6, 1, 12, 34), utc(2024, 6, 1, 12, 35)),
        (Window.HOUR, utc(2024, 6, 1, 12, 34, 56), utc(2024, 6, 1, 12), utc(2024, 6, 1, 13)),
        (Window.DAY, utc(2024, 6, 1, 23, 59, 59) + 0.999, utc(2024, 6, 1), utc(2024, 6, 2)),
        (Window.MONTH, utc(2024, 6, 15, 8), utc(2024, 6, 1), utc(2024, 7, 1)),
    ],
)
def test_bounds_are_calendar_aligned_in_utc(window: Window, now: float, start: int, end: int) -> None:
    """Each window starts at the UTC calendar boundary at or before now and ends at the next one."""
    assert bounds(window, now) == (start, end)


@pytest.mark.parametrize("window", list(Window))
def test_the_end_instant_belongs_to_the_next_window(window: Window) -> None:
    """A window is half-open: its end is the first instant of the next window (no gap, no overlap)."""
    start, end = bounds(window, utc(2024, 2, 10, 10, 10, 10))
    assert bounds(window, end)[0] == end
    assert bounds(window, end - 0.001) == (start, end)


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [
        (2024, 1, 31),
        (2024, 2, 29),  # divisible by 4: leap
        (2023, 2, 28),
        (2100, 2, 28),  # a century not divisible by 400: not leap
        (2000, 2, 29),  # divisible by 400: leap
        (2024, 4, 30),
        (2024, 12, 31),  # ends at the next year's January
    ],
)
def test_month_lengths_follow_the_calendar(year: int, month: int, days: int) -> None:
    """A month window lasts its calendar length, leap years included, and December rolls into January."""
    start, end = bounds(Window.MONTH, utc(year, month, 15))
    assert start == utc(year, month, 1)
    assert end - start == days * 86_400


def test_window_clock_recomputes_on_rollover() -> None:
    """The cached bounds move to the next window once now reaches the end."""
    clock = WindowClock(Window.MINUTE)
    first = clock.at(utc(2024, 6, 1, 0, 0, 59))
    assert clock.at(utc(2024, 6, 1, 0, 1, 0)) == (first[1], first[1] + 60)


def test_window_clock_follows_a_clock_stepped_back() -> None:
    """A wall clock stepped back into the previous window gets that window's bounds, not stale ones."""
    clock = WindowClock(Window.HOUR)
    clock.at(utc(2024, 6, 1, 5, 0, 1))
    assert clock.at(utc(2024, 6, 1, 4, 59, 59)) == (utc(2024, 6, 1, 4), utc(2024, 6, 1, 5))


def test_nominal_seconds_give_a_month_as_thirty_days() -> None:
    """The RateLimit-Policy window of a month is 30 days; the others are exact."""
    assert [nominal_seconds(w) for w in Window] == [60, 3600, 86_400, 30 * 86_400]
