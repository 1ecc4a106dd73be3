"""How a decision shows: the opt-in headers, the access-line field, the span event."""

from __future__ import annotations

from typing import Any

from sidecar.budgets import BudgetRequest, Ledger, budget_headers
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of

RPM = {"name": "rpm", "measure": "requests", "amount": 10, "window": "minute"}
DAY = {"name": "day", "measure": "usd", "amount": 1.0, "window": "day"}


async def decide(clock: FakeClock, *limits: dict[str, Any], times: int = 1, **request: Any) -> Any:
    book = Ledger(budgets_of({"limits": list(limits), "headers": True}), clock=clock)
    decision = None
    for _ in range(times):
        decision = (await book.admit(BudgetRequest(1000, 1000, **request), [book.budgets.target("big")])).decision
    return decision


async def test_headers_report_the_counter_with_the_least_room(clock: FakeClock) -> None:
    """x-sidecar-budget-* and RateLimit describe the tightest limit: 9 of 10 requests left beats $0.96 of $1."""
    decision = await decide(clock, DAY, RPM)
    assert budget_headers(decision, clock()) == [
        ("x-sidecar-budget-limit", "rpm"),
        ("x-sidecar-budget-remaining", "9"),
        ("x-sidecar-budget-reset", "30"),
        ("ratelimit-policy", '"rpm";q=10;w=60'),
        ("ratelimit", '"rpm";r=9;t=30'),
    ]


async def test_a_usd_limit_has_only_the_sidecar_headers(clock: FakeClock) -> None:
    """A spend limit reports dollars in x-sidecar-budget-remaining and no RateLimit pair (not whole units)."""
    headers = dict(budget_headers(await decide(clock, DAY), clock()))
    assert (headers["x-sidecar-budget-remaining"], "ratelimit" in headers) == ("0.96", False)


async def test_an_acting_limit_is_named_in_headers_and_the_access_line(clock: FakeClock) -> None:
    """A warn limit that acted shows as x-sidecar-budget-action and the access field warn:<limit>."""
    decision = await decide(clock, {**RPM, "amount": 1, "action": "warn"}, times=2)
    assert ("x-sidecar-budget-action", "warn:rpm") in budget_headers(decision, clock())
    assert decision.access_field == "warn:rpm"


async def test_an_allowed_request_has_no_access_field_or_span_event(clock: FakeClock) -> None:
    """When no limit acted and the store answered, nothing is added to the access line or the span."""
    decision = await decide(clock, RPM)
    assert (decision.access_field, decision.span_event()) == (None, None)


async def test_a_denial_emits_a_span_event_naming_the_limit(clock: FakeClock) -> None:
    """The sidecar.budget span event carries the verdict, limit, scope label, use and amount."""
    scope = {"by": "header", "header": "x-team", "values": ["search"]}
    decision = await decide(clock, {**RPM, "amount": 1, "scope": scope}, times=2, headers={"x-team": "search"})
    assert decision.span_event() == (
        "sidecar.budget",
        {
            "sidecar.budget.verdict": "deny",
            "sidecar.budget.store": "ok",
            "sidecar.budget.limit": "rpm",
            "sidecar.budget.scope": "search",
            "sidecar.budget.soft": False,
            "sidecar.budget.used": 1.0,
            "sidecar.budget.amount": 1.0,
        },
    )


async def test_a_key_scoped_denial_never_shows_the_key_hash(clock: FakeClock) -> None:
    """The message for a per-key limit says "your API key", not the key's hash."""
    decision = await decide(clock, {**RPM, "amount": 1, "scope": {"by": "key"}}, times=2, key_hash="0123456789abcdef")
    assert "your API key" in decision.message and "0123456789abcdef" not in decision.message
