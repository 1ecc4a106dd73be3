"""``llm-sidecar explain``: what the policy does with one request, as a report (``--json``) and as text.

``explain_report`` gives the rules' verdicts and the route taken, then what each feature on that route
would do: routing's decision and candidates (``routing.explain``), an ensemble's vote, gates and a
shadow, the response cache's key decision and the budget limits the request counts in. It reads no
counter and calls nothing: whether a limit acts or an entry exists depends on the moment.
``explain_text`` renders the report for a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .policy.compiled import Policy, Route
from .request_facts import RequestFacts
from .routing.explain import routing_report, routing_text
from .routing.plans import request_chain

if TYPE_CHECKING:
    from .gates.spec import GatesSpec
    from .routing.record import Routed


def explain_report(policy: Policy, request: RequestFacts, key: str | None = None) -> dict[str, Any]:
    """The rules' verdicts, the route taken, and the budget limits it counts in (``key``: the caller's)."""
    unread = request.unread()  # for the budgets: the request before explain reads anything of it
    verdicts, chosen = policy.explain(request)
    rules = [
        {"route": v.route.name, "path": v.route.path, "matched": v.matched, "why_not": list(v.reasons)}
        for v in verdicts
    ]
    result: dict[str, Any] = {
        "request": {
            "dialect": str(request.dialect),
            "operation": str(request.operation),
            "model": request.model,
            "app": request.app,
        },
        "rules": rules,
        "route": None,
    }
    routing = routing_report(policy, chosen, request)
    if chosen is not None:
        how = "rule" if chosen in policy.routes else ("model name" if chosen.path.startswith("models.") else "default")
        result["route"] = {
            "name": chosen.name,
            "path": chosen.path,
            "chosen_by": how,
            "deny": chosen.deny.message if chosen.deny else None,
            "targets": [
                {
                    "model": t.name,
                    "provider": t.provider.name,
                    "upstream_model": t.upstream_model,
                    "dialect": str(t.provider.wire_dialect(request.dialect)),
                }
                for t in request_chain(chosen, request)
            ],
            "features": route_features(chosen),
            "cache": _cache_report(chosen, request, key),
        }
        if policy.budgets is not None and chosen.deny is None:
            result["budgets"] = budget_rows(policy, unread, request.routing, key)
    if routing is not None:
        result["routing"] = routing
    if policy.warnings:  # what loads but misroutes or refuses (a rule never used, a class no model serves)
        result["warnings"] = list(policy.warnings)
    return result


def budget_rows(
    policy: Policy, unread: RequestFacts, explained: Routed | None, key: str | None
) -> list[dict[str, Any]]:
    """The budget limits the request counts in (``budgets.explain.applicable_limits``), read as the budget
    stage reads it: after the request path's own steps on ``unread`` (nothing read yet), the route's
    conditions as the server tries them (``Policy.route``) and routing's (``routing.stage.apply_routing``),
    so that the prompt is estimated by its features exactly when the server's path read them, else by its
    bytes (``budgets.estimate``). A split without a sticky key takes the arm ``explained`` (the report's)
    took. No rows when routing refuses the request (413, 400: nothing is reserved)."""
    from .budgets.explain import applicable_limits
    from .routing.record import Routed
    from .routing.stage import apply_routing
    from .server.errors import RequestFailed

    assert policy.budgets is not None
    route = policy.route(unread)
    if route is None:
        return []
    if explained is not None and explained.arm is not None:  # not read from the body: the same arm
        unread.routing = Routed()
        unread.routing.arm = explained.arm
    try:
        apply_routing(unread, policy.router, route)
    except RequestFailed:
        return []
    return applicable_limits(policy.budgets, unread, route, key)


def route_features(route: Route) -> list[str]:
    """What the route does besides walking its chain: an ensemble's vote, its gates, its shadow."""
    from .ensemble.plan import EnsemblePlan

    notes = []
    plan = route.plan
    if isinstance(plan, EnsemblePlan):
        ensemble = plan.ensemble
        members = ", ".join(
            f"{m.name}=[{', '.join(t.name for t in chain)}]"
            for m, chain in zip(ensemble.members, plan.chains, strict=True)
        )
        quorum = "early quorum" if ensemble.early_quorum else "waits for all"
        judge = f", judge [{', '.join(t.name for t in plan.judge)}]" if plan.judge else ""
        notes.append(
            f"ensemble: {ensemble.strategy} of {members} ({quorum}, min_members {ensemble.min_members}, "
            f"max_calls {ensemble.max_calls}{judge})"
        )
    if route.gates is not None:
        spec = route.gates.spec
        escalation = f"reask x{spec.max_reasks} then next target" if spec.on_fail == "reask" else "next target"
        notes.append(f"gates: every answer checked ({', '.join(_gates_on(spec))}); on failure: {escalation}")
    if route.shadow is not None:
        shadow = route.shadow
        notes.append(
            f"shadow: {shadow.sample:.1%} of requests also sent to {', '.join(t.name for t in shadow.candidates)} "
            f"(in the background; at most {shadow.max_concurrent} at once)"
        )
    return notes


def _gates_on(spec: GatesSpec) -> list[str]:
    """The gates ``spec`` turns on, in the order they check an answer: ``non_empty``, ``refusal``,
    ``json_schema request`` (or ``policy``), ``regex '<pattern>'`` (with its flags)."""
    gates = ["non_empty"] if spec.non_empty else []
    if spec.refusal.enabled:
        gates.append("refusal")
    if spec.json_schema.source != "off":
        gates.append(f"json_schema {spec.json_schema.source}")
    if spec.regex is not None:
        flags = f" ({', '.join(spec.regex.flags)})" if spec.regex.flags else ""
        gates.append(f"regex '{spec.regex.pattern}'{flags}")  # as the policy writes it (a repr doubles each \\)
    return gates


def _cache_report(route: Route, request: RequestFacts, key: str | None) -> dict[str, Any]:
    """What the response cache does with the request on ``route`` (``key``: the caller's): off, or
    the app's directive (its ``x-sidecar-cache`` / ``cache-control``, as the cache stage reads them)
    and whether the request has a key."""
    from .cache.control import Directive, client_directive

    plan = route.settings.cache
    if plan is None or route.deny is not None:
        return {"enabled": False}
    settings = plan.settings
    directive = client_directive(request.headers, allowed=settings.client_control)
    if directive is Directive.BYPASS:  # the stage passes the request by before computing a key
        return {
            "enabled": True,
            "cacheable": False,
            "reason": "client_bypass",
            "ttl_s": settings.ttl_s,
            "directive": "bypass",
        }
    decision = plan.key(
        dialect=request.dialect,
        operation=request.operation,
        model=request.model,
        body=request.body,
        raw=orjson.dumps(request.body),
        deployment_app=request.app,
        app=request.app,
        caller_key=key,
    )
    cacheable = decision.key is not None
    return {
        "enabled": True,
        "cacheable": cacheable,
        "reason": decision.reason,
        "ttl_s": settings.ttl_s,
        "directive": str(directive),
    }


def explain_text(report: dict[str, Any]) -> str:
    req = report["request"]
    lines = [f"request: {req['dialect']} {req['operation']} model={req['model']!r} app={req['app']!r}"]
    for rule in report["rules"]:
        mark = "MATCH" if rule["matched"] else "skip "
        why = "" if rule["matched"] else "  (" + "; ".join(rule["why_not"]) + ")"
        lines.append(f"  {mark} {rule['path']} {rule['route']}{why}")
    if "routing" in report:
        lines.extend(routing_text(report["routing"]))
    route = report["route"]
    if route is None:
        lines.append("=> no route: the caller gets 404 model_not_found")
    elif route["deny"]:
        lines.append(f"=> {route['name']} ({route['path']}, by {route['chosen_by']}): denied: {route['deny']}")
    else:
        chain = " -> ".join(
            f"{t['model']} ({t['provider']}/{t['upstream_model']}, {t['dialect']})" for t in route["targets"]
        )
        chain = chain or "no model can serve it: the caller gets 400 no_capable_model (candidates above)"
        lines.append(f"=> {route['name']} ({route['path']}, by {route['chosen_by']}): {chain}")
        lines += [f"   {note}" for note in route["features"]]
        cache = route["cache"]
        if cache["enabled"] and cache["cacheable"] and cache["directive"] == "refresh":
            lines.append(f"   cache: not looked up (the app asks for a new answer), stored (ttl_s {cache['ttl_s']:g})")
        elif cache["enabled"] and cache["cacheable"]:
            lines.append(f"   cache: looked up and stored (ttl_s {cache['ttl_s']:g})")
        elif cache["enabled"]:
            lines.append(f"   cache: not cacheable ({cache['reason']}): x-sidecar-cache: bypass")
    for row in report.get("budgets", ()):
        on = f" on {row['target']}" if row["target"] else ""
        lines.append(
            f"   budget {row['limit']}{on}: {row['scope']} {row['value']!r}, {row['action']} at {row['amount']:g} "
            f"{row['measure']} per {row['window']}; reserves up to {row['reserves']:g} {row['measure']}"
        )
    lines += [f"policy warning: {warning}" for warning in report.get("warnings", ())]
    return "\n".join(lines)
