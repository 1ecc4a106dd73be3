"""The routing stage: the route, then routing's decisions, before the fallback loop (``server.pipeline``).

For a policy with a ``routing`` block, or a route with caps, a selection or a split, this stage takes
``route_request``'s place (``server.assembly``): one stage (one coroutine a request, not two) that
picks the route (``pipeline.choose_route``: 404, deny) and then, synchronously::

    decide      task, complexity, tier (``record.decide``; already done when a route matched on them)
    caps        estimated prompt over ``caps.max_input_tokens``: 413 in the caller's dialect;
                max output tokens clamped to ``caps.max_output_tokens`` (or set), in the body sent
    select      ``select: cheapest``: the candidates that can serve it, cheapest first; none: 400
                (413 when only the context windows were too small), naming every candidate and why
    split       the arm, chosen once
    trace       span attributes and the decision metric (``RequestTrace.routed``)

A request of such a policy whose route has none of them passes the routing part with one attribute
check. Everything it decides is on ``exchange.facts.routing`` (``record.Routed``) for the headers and
the access line. The steps are ``apply_routing`` (synchronous, on the request's facts), which
``explain`` runs too, on a fresh copy of the request, before saying what the budgets reserve: whether
the prompt is estimated by its features or by its bytes depends on whether these steps read them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from ..server.errors import RequestFailed
from ..server.pipeline import choose_route
from .caps import GENERATING, set_output_limit
from .plans import SelectPlan, SplitPlan
from .record import Routed, decide, routed

if TYPE_CHECKING:
    from aiohttp.web import StreamResponse

    from ..policy.compiled import Route
    from ..request_facts import RequestFacts
    from ..server.exchange import Exchange
    from ..server.pipeline import Handler
    from .caps import TokenCaps
    from .matrix import Router
    from .select import Selection

_ROUTING_PLANS = (SelectPlan, SplitPlan)  # a tuple: ``A | B`` in isinstance builds a union per call


async def routing_stage(exchange: Exchange, call_next: Handler) -> StreamResponse:
    """The route (``choose_route``), then the routing steps above (``apply_routing``), then the next stage."""
    choose_route(exchange)
    route = exchange.route
    assert route is not None
    facts = exchange.facts
    record = apply_routing(facts, exchange.policy.router, route)
    if record is None:
        return await call_next(exchange)
    if record.capped_to is not None:  # the body sent asks for the cap: a same-dialect Gemini call sends the raw
        exchange.raw = orjson.dumps(facts.body)
    exchange.trace.routed(route.name, record.decision, record.arm)  # the metric's series found by the decision
    return await call_next(exchange)


def apply_routing(facts: RequestFacts, router: Router | None, route: Route) -> Routed | None:
    """Routing's steps for ``facts`` on ``route`` (decide, caps, select, split: the module docstring),
    the routing stage's and ``explain``'s budgets' (which estimate the prompt as the budget stage does:
    by the features only if these steps read them, ``budgets.estimate``). Returns what they decided
    (None: routing plays no part on the route, nothing read); raises ``RequestFailed`` (413, 400)."""
    plan = route.plan
    caps = route.caps
    if router is None and caps is None and not isinstance(plan, _ROUTING_PLANS):
        return None
    record = facts.routing
    if record is None:
        record = facts.routing = Routed()
    if router is not None and (record.decision is None or record.router is not router):
        decide(facts, router)  # not decided yet (a route condition may have), or by another router
    if caps is not None and facts.operation in GENERATING:
        _apply_caps(facts, caps)
    if isinstance(plan, SelectPlan):
        if not plan.chain(facts):
            raise _nothing_can_serve(route.name, plan.selection(facts))
    elif isinstance(plan, SplitPlan):
        plan.arm(facts)
    return record


def _apply_caps(facts: RequestFacts, caps: TokenCaps) -> None:
    features = facts.features
    problem = caps.input_problem(features)
    if problem is not None:
        raise RequestFailed(413, problem, code="prompt_too_large")
    limit = caps.output_tokens(features.max_output_tokens)
    if limit is not None:
        facts.body = set_output_limit(facts.body, facts.dialect, facts.operation, limit)
        facts.features = replace(features, max_output_tokens=limit)  # windows and cost count the cap
        record = routed(facts)
        record.capped_to = limit
        decision = record.decision
        if decision is not None:  # the expected output ``decide`` left, of the capped request: the smaller
            expected = decision.output_tokens
            record.output_tokens = limit if limit < expected else expected


def _nothing_can_serve(route: str, selection: Selection) -> RequestFailed:
    reasons = "; ".join(f"{e.candidate.name}: {e.reason}" for e in selection.excluded)
    if all(e.reason.startswith("context window") for e in selection.excluded):
        message = f"no model of route {route!r} has a context window large enough for this request: {reasons}"
        return RequestFailed(413, message, code="context_length_exceeded")
    message = f"no model of route {route!r} can serve this request: {reasons}"
    return RequestFailed(400, message, code="no_capable_model")
