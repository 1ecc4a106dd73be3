"""What ``llm-sidecar explain`` says about budgets: the limits a request counts in, offline.

``applicable_limits(budgets, request, route)`` lists, for the route a request takes, every limit it
falls in (request limits once, on the first target of the chain the request walks, routing's choice on
a ``select: cheapest`` or ``split`` route as the server's, ``routing.plans.request_chain``; target
limits per target of that chain), with the scope value that picks
its counter and what admission would reserve there (the estimate, in the limit's unit). The request is
read as the budget stage reads it (``estimate.reservation_tokens``; every call of an ensemble reserved
for, each at its own model's price and output maximum, ``calls``, a model or provider quota the calls
whose first target it covers, ``call_holds``; a token count is free: no row):
``request`` must be as the request path leaves it at that stage, its features read only where the
server's steps read them (``explain.budget_rows`` makes it so, with the server's own
``routing.stage.apply_routing``). Counters are not read: whether a limit would act depends on the use
of the moment (``/status`` shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from sidecar.dialects import Operation
from sidecar.routing.plans import request_chain

from .calls import Call, call_units, ensemble_calls, total_units
from .compiled import BudgetRequest, Budgets, Limit, hash_key
from .estimate import priced_asks, reservation_tokens
from .pricing import estimate_units, from_units

if TYPE_CHECKING:
    from sidecar.policy.compiled import Route
    from sidecar.request_facts import RequestFacts


def applicable_limits(budgets: Budgets, request: RequestFacts, route: Route, key: str | None) -> list[dict[str, Any]]:
    """One row per (limit, target) the request counts in; ``key``: the caller's key, if it sent one."""
    chain = request_chain(route, request)  # the targets the server reserves on, the first one first
    first = budgets.targets.get(chain[0].name) if chain else None
    if request.operation is Operation.COUNT_TOKENS or first is None:  # free, or a chain the budgets do not know
        return []
    default_output = first.max_output_tokens or budgets.default_max_output_tokens
    raw = orjson.dumps(request.body)
    prompt_tokens, own_output = reservation_tokens(request, raw, default_output)
    hour_writes, searches = priced_asks(request, raw, budgets)
    calls = _calls(route, budgets)
    if calls is None:  # a member or judge the budgets do not know
        return []
    key_hash = hash_key(key) if key else None
    ask = BudgetRequest(
        prompt_tokens, own_output, request.app, route.name, request.headers, key_hash, calls, hour_writes, searches
    )
    rows = []
    for limit in budgets.limits:
        for target in chain if limit.is_target_limit else chain[:1]:
            info = budgets.targets.get(target.name)
            if info is None:
                continue
            value = limit.scope_value(ask, info)
            if value is None:
                continue
            output = own_output
            if output is None:
                output = info.max_output_tokens or budgets.default_max_output_tokens
            units = estimate_units(info.price, prompt_tokens, output, hour_writes, searches)
            if calls:  # an ensemble: every call at its own model (one request), a quota its calls' share
                units = _calls_units(ask, budgets, limit, value if limit.is_target_limit else None)
            reserve = units[limit.measure_index]
            rows.append(
                {
                    "limit": limit.name,
                    "scope": limit.scope.value,
                    "value": value,
                    "action": limit.action.value,
                    "amount": limit.amount,
                    "measure": limit.measure.value,
                    "window": limit.window.value,
                    "target": target.name if limit.is_target_limit else None,
                    "reserves": from_units(limit.measure, reserve),
                }
            )
    return rows


def _calls_units(ask: BudgetRequest, budgets: Budgets, limit: Limit, value: str | None) -> tuple[int, int, int]:
    """What an ensemble reserves on a counter of ``limit``: every call's estimate at its own model, or, for
    a model or provider quota's counter of ``value``, the calls whose first target falls in it
    (``budgets.call_holds``: the joint reservation)."""
    own = (ask.input_tokens, ask.max_output_tokens, budgets.default_max_output_tokens, ask.hour_writes, ask.searches)
    if value is None:
        return total_units(ask.calls, *own)
    usd = tokens = 0
    for index, call in enumerate(ask.calls):
        if limit.scope_value(ask, call.target) == value:
            units = call_units(ask.calls, index, call.target, *own)
            usd, tokens = usd + units[0], tokens + units[1]
    return usd, tokens, 1 if usd or tokens else 0


def _calls(route: Route, budgets: Budgets) -> tuple[Call, ...] | None:
    """The upstream calls the request may make at once: an ensemble's members and judge (None: a model
    the budgets do not know), else () for one."""
    from sidecar.ensemble.plan import EnsemblePlan

    plan = route.plan
    return ensemble_calls(plan, budgets.targets) if isinstance(plan, EnsemblePlan) else ()
