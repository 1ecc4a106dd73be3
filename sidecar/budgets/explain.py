"""What ``llm-sidecar explain`` says about budgets: the limits a request counts in, offline.

``applicable_limits(budgets, request, route)`` lists, for the route a request takes, every limit it
falls in (request limits once, target limits per target of the chain), with the scope value that picks
its counter and what admission would reserve there (the estimate, in the limit's unit). Counters are
not read: whether a limit would act depends on the use of the moment (``/status`` shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compiled import BudgetRequest, Budgets, hash_key
from .pricing import estimate_units, from_units

if TYPE_CHECKING:
    from sidecar.policy.compiled import Route
    from sidecar.request_facts import RequestFacts


def applicable_limits(budgets: Budgets, request: RequestFacts, route: Route, key: str | None) -> list[dict[str, Any]]:
    """One row per (limit, target) the request counts in; ``key``: the caller's key, if it sent one."""
    features = request.features
    ask = BudgetRequest(
        features.prompt_tokens,
        features.max_output_tokens,
        request.app,
        route.name,
        request.headers,
        hash_key(key) if key else None,
    )
    rows = []
    for limit in budgets.limits:
        for target in route.chain if limit.is_target_limit else route.chain[:1]:
            info = budgets.targets.get(target.name)
            if info is None:
                continue
            value = limit.scope_value(ask, info)
            if value is None:
                continue
            output = ask.max_output_tokens or info.max_output_tokens or budgets.default_max_output_tokens
            reserve = estimate_units(info.price, ask.input_tokens, output)[limit.measure_index]
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
