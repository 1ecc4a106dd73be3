"""An ensemble's joint plan: the counters of every target its calls make at once, each counter once."""

from __future__ import annotations

from typing import Any

from sidecar.budgets import BudgetRequest, Budgets
from sidecar.budgets.joint import joint_plan, spread_on
from sidecar.budgets.plans import Planner
from sidecar.budgets.visibility import Tracker
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of

TOKENS_BY_MODEL = {"name": "per-model", "measure": "tokens", "amount": 100, "window": "day", "scope": {"by": "model"}}
REQUESTS: dict[str, Any] = {"name": "all-requests", "measure": "requests", "amount": 10, "window": "day"}
DOLLARS: dict[str, Any] = {"name": "all-usd", "measure": "usd", "amount": 1, "window": "day"}


def planner(*limits: dict[str, Any]) -> tuple[Budgets, Tracker, Planner]:
    budgets = budgets_of({"limits": list(limits)})
    tracker = Tracker(budgets)
    return budgets, tracker, Planner(budgets, tracker)


def test_a_joint_plan_holds_a_shared_counter_once_and_each_quota_its_calls_share(clock: FakeClock) -> None:
    """Two targets' plans share the request limits' counters: merged, each is there once, holding the sum
    of both targets' dollars (one request); each model's quota holds its own calls' tokens alone."""
    budgets, _, plans = planner(DOLLARS, REQUESTS, TOKENS_BY_MODEL)
    big, small = budgets.target("big"), budgets.target("small")
    request = BudgetRequest(1)
    joint = joint_plan([plans.plan(request, big, clock()), plans.plan(request, small, clock())])
    assert [(limit.name, value) for limit, value in zip(joint.limits, joint.values, strict=True)] == [
        ("all-usd", "*"),
        ("all-requests", "*"),
        ("per-model", "big"),
        ("per-model", "small"),
    ]
    assert joint.spread({"big": (7, 70), "small": (3, 30)}, 1) == [10, 1, 70, 30]
    assert [target.model for target in joint.targets_at(0)] == ["big", "small"]
    assert [target.model for target in joint.targets_at(3)] == ["small"]


def test_one_calls_units_land_on_its_own_targets_counters(clock: FakeClock) -> None:
    """``spread_on`` a joint plan charges one target's counters (and the shared ones); on a plan of one
    target, every counter, as its ``pick``; the joint plan's own ``pick`` charges its first target."""
    budgets, _, plans = planner(DOLLARS, REQUESTS, TOKENS_BY_MODEL)
    big, small = budgets.target("big"), budgets.target("small")
    request = BudgetRequest(1)
    alone = plans.plan(request, small, clock())
    joint = joint_plan([plans.plan(request, big, clock()), alone])
    assert spread_on(joint, "small", (3, 30), 0) == [3, 0, 0, 30]
    assert spread_on(alone, "small", (3, 30), 1) == [3, 1, 30]
    assert list(joint.pick((5, 50, 1))) == [5, 1, 50, 0]
