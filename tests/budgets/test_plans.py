"""Plans: a call's counters built once per target, scope values and window, and rebuilt when those change."""

from __future__ import annotations

from typing import Any

from sidecar.budgets import BudgetRequest, Budgets
from sidecar.budgets.plans import NEVER, Planner
from sidecar.budgets.visibility import Tracker
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of

TEAM = {"by": "header", "header": "x-team"}


def rpm(name: str = "rpm", scope: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {"name": name, "measure": "requests", "amount": 10, "window": "minute", "scope": scope or {}, **more}


def planner(*limits: dict[str, Any], **block: Any) -> tuple[Budgets, Tracker, Planner]:
    budgets = budgets_of({"limits": list(limits), **block})
    tracker = Tracker(budgets)
    return budgets, tracker, Planner(budgets, tracker)


def team(name: str) -> BudgetRequest:
    return BudgetRequest(1, 1, headers={"x-team": name})


def test_the_same_scope_values_in_the_same_window_reuse_one_plan(clock: FakeClock) -> None:
    """A second request with the same target and scope values gets the plan built for the first."""
    budgets, _, plans = planner(rpm(scope=TEAM), rpm("global"))
    big = budgets.target("big")
    first = plans.plan(team("a"), big, clock())
    assert plans.plan(team("a"), big, clock() + 1) is first
    assert plans.plan(team("b"), big, clock() + 1) is not first


def test_a_plan_holds_request_limits_before_target_limits(clock: FakeClock) -> None:
    """The counters are ordered request limits first (their refusal denies), then the target's quotas."""
    quota = rpm("acme-rpm", {"by": "provider"})
    budgets, _, plans = planner(quota, rpm("global"), rpm("team", TEAM))
    plan = plans.plan(team("a"), budgets.target("big"), clock())
    assert [(limit.name, value) for limit, value in zip(plan.limits, plan.values, strict=True)] == [
        ("team", "a"),
        ("global", "*"),
        ("acme-rpm", "acme"),
    ]


def test_a_new_window_builds_a_new_plan_on_new_counters(clock: FakeClock) -> None:
    """At the minute's end the plan is rebuilt, and its counter keys name the new window."""
    budgets, _, plans = planner(rpm(scope=TEAM))
    big = budgets.target("big")
    first = plans.plan(team("a"), big, clock())
    clock.advance(60)
    second = plans.plan(team("a"), big, clock())
    assert second is not first
    assert second.refs[0].key != first.refs[0].key


def test_a_plan_is_rebuilt_after_the_tracker_forgot_a_counter(clock: FakeClock) -> None:
    """When the tracker evicts a value, cached plans are rebuilt, so /status sees the values in use."""
    budgets, tracker, plans = planner(rpm(scope=TEAM), max_tracked_values=1)
    big = budgets.target("big")
    first = plans.plan(team("a"), big, clock())
    plans.plan(team("b"), big, clock())  # evicts "a"
    again = plans.plan(team("a"), big, clock())
    assert again is not first
    assert list(tracker.seen(budgets.limits[0])) == ["a"]


def test_a_cached_plan_marks_its_values_as_recently_used(clock: FakeClock) -> None:
    """A value served from a cached plan is the most recently used: a new value evicts an older one."""
    budgets, tracker, plans = planner(rpm(scope=TEAM), max_tracked_values=2)
    big = budgets.target("big")
    for name in ("a", "b", "a", "c"):
        plans.plan(team(name), big, clock())
    assert list(tracker.seen(budgets.limits[0])) == ["a", "c"]


def test_a_limit_flags_above_its_amount_or_soft_threshold_and_a_deny_limit_only_soft(clock: FakeClock) -> None:
    """flag_at: a warn limit's amount, a soft threshold when lower, never for a deny limit without one."""
    budgets, _, plans = planner(
        rpm("warn", action="warn"),
        rpm("soft", soft={"at": 0.5, "action": "warn"}),
        rpm("deny"),
    )
    plan = plans.plan(team("a"), budgets.target("big"), clock())
    assert plan.flag_at == (10, 5, NEVER)


def test_a_cached_plan_marks_its_values_at_most_once_a_second(clock: FakeClock) -> None:
    """Within TOUCH_EVERY_S of its last mark a cached plan leaves the least-recently-used order alone."""
    budgets, tracker, plans = planner(rpm(scope=TEAM), max_tracked_values=2)
    big = budgets.target("big")
    for name in ("a", "a", "b", "a", "c"):  # the second "a" marks; the third, in the same second, does not
        plans.plan(team(name), big, clock())
    assert list(tracker.seen(budgets.limits[0])) == ["b", "c"]
