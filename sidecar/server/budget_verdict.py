"""What a budget decision does to the request (the budget stage's verdict, ``budget.BudgetStage``):
``show`` puts it on the answer's headers, the access line, the span and the metrics; ``denial`` is a
deny's 429 in the caller's dialect; ``downgraded`` the route walking the limit's cheaper list.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from ..budgets import Budgets, Decision, budget_headers
from ..policy.plans import ChainPlan
from .errors import RequestFailed, retry_headers

if TYPE_CHECKING:
    from ..policy.compiled import Route
    from .exchange import Exchange


def show(exchange: Exchange, decision: Decision, budgets: Budgets) -> None:
    """The decision on the answer (headers), the access line, the span and the metrics."""
    exchange.budget_headers = tuple(budget_headers(decision, time.time()))
    if decision.acted is None and decision.store == "ok":
        return
    exchange.budget = decision.access_field or f"{decision.verdict}:{decision.store}"
    event = decision.span_event()
    trace = exchange.trace
    verdict = "unavailable" if decision.store == "unavailable" else decision.verdict
    limit = decision.acted.limit.name if decision.acted is not None else ""
    if verdict != "allow" or event is not None:
        trace.budget_decided(verdict=verdict, limit=limit, attributes=event[1] if event is not None else None)


def denial(decision: Decision) -> RequestFailed:
    """A deny: its status (429 unless the limit says), its message, and when to try again."""
    headers = retry_headers(decision.retry_after_s)
    return RequestFailed(decision.status or 429, decision.message, code="budget_exceeded", headers=headers)


def downgraded(exchange: Exchange, route: Route, decision: Decision) -> Route:
    """``route`` walking the downgrade list (the models of this request's policy)."""
    models = exchange.policy.models
    chain = tuple(models[name] for name in decision.targets if name in models)
    if not chain:
        return route
    return dataclasses.replace(route, plan=ChainPlan(chain))
