"""What /status and the gauges read: named values, a bounded 'other', last-seen uses, no I/O."""

from __future__ import annotations

from typing import Any

from sidecar.budgets import BudgetRequest, Ledger
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of

TEAM = {"by": "header", "header": "x-team"}


def rpm(scope: dict[str, Any], amount: int = 10) -> dict[str, Any]:
    return {"name": "rpm", "measure": "requests", "amount": amount, "window": "minute", "scope": scope}


async def send(book: Ledger, *teams: str) -> None:
    for team in teams:
        await book.admit(BudgetRequest(1, 1, headers={"x-team": team}), [book.budgets.target("big")])


async def test_gauges_fold_unnamed_values_into_other_as_the_most_used(clock: FakeClock) -> None:
    """Without values, the gauges have one 'other' series showing the value closest to its limit."""
    book = Ledger(budgets_of({"limits": [rpm(TEAM)]}), clock=clock)
    await send(book, "a", "b", "b", "c")
    assert [(g["scope"], g["used"], g["remaining"]) for g in book.gauges()] == [("other", 2.0, 8.0)]


async def test_gauges_list_each_named_value_and_the_shared_other(clock: FakeClock) -> None:
    """With values, each named value has its series (even unused) plus 'other' for the shared counter."""
    book = Ledger(budgets_of({"limits": [rpm({**TEAM, "values": ["ads", "search"]})]}), clock=clock)
    await send(book, "search", "x", "y")
    assert [(g["scope"], g["used"]) for g in book.gauges()] == [("ads", 0.0), ("search", 1.0), ("other", 2.0)]


async def test_gauges_of_a_past_window_read_zero(clock: FakeClock) -> None:
    """After the window ends, a gauge no longer reports the old window's use."""
    book = Ledger(budgets_of({"limits": [rpm({"by": "global"})]}), clock=clock)
    await send(book, "a")
    clock.advance(60)
    assert book.gauges()[0]["used"] == 0.0


async def test_tracked_values_are_capped(clock: FakeClock) -> None:
    """A flood of distinct values keeps at most max_tracked_values of them (the most recent) in /status."""
    book = Ledger(budgets_of({"limits": [rpm(TEAM)], "max_tracked_values": 3}), clock=clock)
    await send(book, *[f"team-{i}" for i in range(50)])
    assert [row["value"] for row in await book.status()] == ["team-47", "team-48", "team-49"]


async def test_status_rows_carry_use_limit_remaining_and_reset(clock: FakeClock) -> None:
    """A /status row says the limit, the scope value, its use and room in the limit's unit, and the reset."""
    book = Ledger(budgets_of({"limits": [rpm({**TEAM, "values": ["search"], "others": "exempt"})]}), clock=clock)
    await send(book, "search")
    assert await book.status() == [
        {
            "limit": "rpm",
            "measure": "requests",
            "window": "minute",
            "scope": "header",
            "value": "search",
            "label": "search",
            "amount": 10.0,
            "used": 1.0,
            "remaining": 9.0,
            "resets_at": "2024-06-01T00:01:00Z",
            "reset_in_s": 30,
            "action": "deny",
            "on_store_error": "open",
            "source": "local",
        }
    ]
