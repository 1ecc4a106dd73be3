"""The verdict of an admission off the plain path: which flag acts, and the counter the headers show."""

from __future__ import annotations

from typing import Any

from sidecar.budgets import BudgetRequest
from sidecar.budgets.plans import Plan, Planner
from sidecar.budgets.verdicts import judged, tightest
from sidecar.budgets.visibility import Tracker
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of


def rpm(name: str, amount: int, **more: Any) -> dict[str, Any]:
    return {"name": name, "measure": "requests", "amount": amount, "window": "minute", **more}


def plan_of(clock: FakeClock, *limits: dict[str, Any]) -> Plan:
    budgets = budgets_of({"limits": list(limits)})
    return Planner(budgets, Tracker(budgets)).plan(BudgetRequest(1, 1), budgets.target("big"), clock())


def test_a_downgrade_flag_acts_before_a_warn_flag(clock: FakeClock) -> None:
    """Two limits passed, a warn one listed first and a downgrade one: the verdict is the downgrade."""
    plan = plan_of(clock, rpm("warn", 10, action="warn"), rpm("cheap", 10, action="downgrade", downgrade_to=["small"]))
    decision = judged(plan, (11, 11), ("big",), "ok", (), None, headers=False)
    assert (decision.verdict, decision.access_field, len(decision.flags)) == ("downgrade", "downgrade:cheap", 2)


def test_the_tightest_counter_is_the_one_with_the_least_room_for_its_size(clock: FakeClock) -> None:
    """7 of 10 used leaves less room (30%) than 50 of 100 (50%), whatever the absolute numbers."""
    plan = plan_of(clock, rpm("small", 10), rpm("large", 100))
    state = tightest(plan, (7, 50))
    assert state is not None and (state.limit.name, state.remaining) == ("small", 3)
