"""Values that load but would harm every pod at once: each is a warning with its path; the values real
policies use are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.policy import load_policy_bytes

ROOT = Path(__file__).resolve().parents[2]

BASE = """providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1"}
models:
  gpt-4o: {provider: openai, model: gpt-4o}
"""


def warnings_of(text: str) -> tuple[str, ...]:
    return load_policy_bytes(text.encode(), "policy.yaml").warnings


def test_a_retry_min_over_a_hundred_is_a_warning() -> None:
    """min_retries over 100 per window is named: the budget would not hold an outage's retries back."""
    text = "defaults:\n  retry_budget: {min_retries: 500}\n" + BASE + "routes: [{target: gpt-4o}]\n"
    assert warnings_of(text) == (
        "defaults.retry_budget.min_retries: 500 retries in every 10 s of every pod whatever fails: the retry"
        " budget does not hold back an outage's retries",
    )


def test_a_hedge_sooner_than_any_answer_is_a_warning_at_its_route() -> None:
    """A hedge.after_s under 0.1 s on a route is named at the route: nearly every call would be made twice."""
    text = BASE + "routes:\n  - {target: gpt-4o, resilience: {hedge: {after_s: 0.05}}}\n"
    assert warnings_of(text) == (
        "routes[0].resilience.hedge.after_s: 0.05 s is sooner than any provider starts an answer: nearly every"
        " call is made twice (traffic and cost doubled); set it near the target's p95 time to first byte",
    )


def test_a_deadline_and_a_timeout_under_a_second_are_warnings() -> None:
    """A deadline_s and a route's timeout under 1 s are each named at their path (the unit is seconds)."""
    text = BASE + "default:\n  target: gpt-4o\n  resilience: {deadline_s: 0.5, timeouts: {total_s: 0.9}}\n"
    assert [warning.split(":")[0] for warning in warnings_of(text)] == [
        "default.resilience.deadline_s",
        "default.resilience.timeouts.total_s",
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "policies").glob("*.yaml")))
def test_the_example_policies_have_no_hazard(name: str) -> None:
    """No example policy gets a hazard warning: the thresholds leave the values real policies use."""
    warnings = load_policy_bytes((ROOT / "policies" / name).read_bytes(), name).warnings
    assert not [w for w in warnings if "retry_budget" in w or "_s:" in w], warnings
