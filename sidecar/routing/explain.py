"""Routing's part of ``llm-sidecar explain``: what the request path would decide, and why, as plain data.

``routing_report(policy, route, request)`` (None when routing plays no part) has:

- ``features``: every feature of the request (``features.RequestFeatures``, the text windows left out);
- ``decision``: the task and complexity with what decided each (header, the rule's path and why it
  matched, the learned model and its confidence, or the default), the tier, "unsure means up";
  ``rules``: every rule's verdict; ``model``: the learned model's probabilities;
- ``selection`` (a ``select: cheapest`` route): every candidate in cost order with its expected cost,
  and every excluded one with the reason;
- ``split``: the arm this request takes (by its sticky key) and every arm's weight;
- ``caps``: the output ceiling and whether the estimated prompt is over the input ceiling.

It calls the same functions the request path calls (``record.decide``, ``SelectPlan.selection``,
``SplitPlan.arm``), on a fresh ``RequestFacts``, so it says what the server does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .plans import SelectPlan, SplitPlan
from .record import decide, expected_cost, routed

if TYPE_CHECKING:
    from ..policy.compiled import Policy, Route
    from ..request_facts import RequestFacts


def routing_report(policy: Policy, route: Route | None, request: RequestFacts) -> dict[str, Any] | None:
    plan = route.plan if route is not None else None
    caps = route.caps if route is not None else None
    if policy.router is None and caps is None and not isinstance(plan, SelectPlan | SplitPlan):
        return None
    features = request.features.as_dict()
    features.pop("system_text")
    features.pop("last_user_text")
    report: dict[str, Any] = {"features": features}
    router = policy.router
    if router is not None:
        explained = router.explain(request.features, request.headers)
        report["decision"] = {
            k: explained[k] for k in ("task", "complexity", "tier", "escalated_from", "output_tokens")
        }
        report["rules"] = explained["rules"]
        if "model" in explained:
            report["model"] = explained["model"]
        decide(request, router)
        for key in ("task", "complexity"):
            rule = report["decision"][key]["rule"]
            if rule is not None:
                report["decision"][key]["why"] = next(r["why"] for r in explained["rules"] if r["rule"] == rule)
    if caps is not None:
        limit = caps.output_tokens(request.features.max_output_tokens)
        report["caps"] = {"max_output_tokens": limit, "refused": caps.input_problem(request.features)}
        if limit is not None:  # as the routing stage does: the selection counts the capped output
            request.features = replace(request.features, max_output_tokens=limit)
    if isinstance(plan, SelectPlan):
        selection = plan.selection(request)
        report["selection"] = {
            "input_tokens": selection.input_tokens,
            "output_tokens": selection.output_tokens,
            "chain": [{"model": c.candidate.name, "expected_cost_usd": c.expected_cost} for c in selection.chain],
            "excluded": [{"model": e.candidate.name, "reason": e.reason} for e in selection.excluded],
        }
    elif isinstance(plan, SplitPlan):
        arm = plan.arm(request)
        report["split"] = {
            "sticky_by": plan.sticky_by,
            "arm": arm.name,
            "arms": [
                {"name": a.name, "weight": w, "targets": [t.name for t in a.chain]}
                for a, w in zip(plan.split.arms, plan.split.weights, strict=True)
            ],
        }
    if route is not None and not isinstance(plan, SelectPlan):
        record = routed(request)
        report["expected_cost_usd"] = {t.name: expected_cost(request, record, t) for t in route.chain}
    return report


def routing_text(report: dict[str, Any]) -> list[str]:
    """The report as the lines ``explain`` prints."""
    features = report["features"]
    shown = ", ".join(f"{name}={value}" for name, value in features.items() if value not in (0, False, None))
    lines = [f"features: {shown}"]
    decision = report.get("decision")
    if decision is not None:
        lines += _decision_lines(decision, report.get("model") or {})
    selection = report.get("selection")
    if selection is not None:
        lines += _selection_lines(selection)
    split = report.get("split")
    if split is not None:
        arms = ", ".join(f"{a['name']} ({a['weight']:g})" for a in split["arms"])
        lines.append(f"split by {split['sticky_by'] or 'random draw'}: arm {split['arm']} of {arms}")
    caps = report.get("caps")
    if caps is not None:
        if caps["refused"]:
            lines.append(f"caps: refused with 413: {caps['refused']}")
        elif caps["max_output_tokens"] is not None:
            lines.append(f"caps: max output tokens set to {caps['max_output_tokens']}")
    return lines


def _decision_lines(decision: dict[str, Any], model: dict[str, list[tuple[str, float]]]) -> list[str]:
    """The task and complexity verdicts (by which rule, or the model's likeliest labels) and the tier."""
    lines = []
    for key in ("task", "complexity"):
        verdict = decision[key]
        how = verdict["source"]
        if verdict["rule"]:
            how = f"rule {verdict['rule']}: {'; '.join(verdict.get('why', []))}"
        elif how == "model" and model.get(key):
            how = "learned model: " + ", ".join(f"{label} {p}" for label, p in model[key][:4])
        elif how == "model":
            how = f"learned model, confidence {verdict['confidence']}"
        lines.append(f"{key}: {verdict['label']} (by {how})")
    escalated = (
        f" (raised from {decision['escalated_from']}: the model was unsure)" if decision["escalated_from"] else ""
    )
    lines.append(f"tier: {decision['tier']}{escalated}")
    return lines


def _selection_lines(selection: dict[str, Any]) -> list[str]:
    """The candidates of a cheapest selection, cheapest first, and the models it excluded."""
    tokens = f"~{selection['input_tokens']:,} input, {selection['output_tokens']:,} output tokens"
    lines = [f"candidates, cheapest first ({tokens}):"]
    for i, choice in enumerate(selection["chain"], 1):
        cost = choice["expected_cost_usd"]
        lines.append(f"  {i}. {choice['model']:<20} " + (f"${cost:.6f}" if cost is not None else "price unknown"))
    for excluded in selection["excluded"]:
        lines.append(f"  excluded: {excluded['model']:<20} {excluded['reason']}")
    if not selection["chain"]:
        lines.append("  no candidate can serve it: the caller gets 400 (413 when only windows are too small)")
    return lines
