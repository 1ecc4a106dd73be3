"""Routing in ``llm-sidecar diff``: the ``routing`` section and the per-route routing aspects.

``routing_section(old, new)`` compares the ``routing`` blocks: the settings (tiers, default class,
task header, defaults of the selection, the learned router and the hash of its file's content, so a
retrained file under the same name shows), then classes and complexity levels by
name (added, removed, or their fields changed; a rule shows as its YAML flow form). The route
aspects show a route's selection or split and its caps. Model quality is a field of ``models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..routing.plans import SelectPlan, SplitPlan
from .changes import Change, field_changes, keyed_changes, spec_fields

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..policy.compiled import Policy, Route
    from ..routing.spec import RoutingSpec


def routing_section(old: Policy, new: Policy) -> list[Change]:
    before, after = old.routing, new.routing
    if before is None:
        return [] if after is None else [Change("routing", "added", "routing", new=_block(after))]
    if after is None:
        return [Change("routing", "removed", "routing", old=_block(before))]
    changes = list(field_changes("routing", "settings", _settings(old), _settings(new)))
    changes += keyed_changes(
        "routing", _named(before.classes, "class"), _named(after.classes, "class"), _summary, _fields
    )
    changes += keyed_changes(
        "routing",
        _named(before.complexity.levels, "level"),
        _named(after.complexity.levels, "level"),
        _summary,
        _fields,
    )
    return changes


def _block(spec: RoutingSpec) -> str:
    return f"{len(spec.classes)} classes, {len(spec.complexity.levels)} levels"


def _settings(policy: Policy) -> dict[str, str]:
    """The block's settings, and the content of the learned router file (a changed file, same name)."""
    fields = spec_fields(policy.routing)
    for name in list(fields):
        if name.startswith(("classes", "complexity.levels")):
            del fields[name]
    model = policy.router.model if policy.router is not None else None
    if model is not None:
        fields["learned.file (sha256)"] = model.digest
    return fields


def _named(items: list[Any], kind: str) -> dict[str, Any]:
    return {f"{kind} {item.name}": item for item in items}


def _summary(item: BaseModel) -> str:
    return _flow(item.model_dump(mode="json", exclude_defaults=True, by_alias=True))


def _fields(item: BaseModel) -> dict[str, str]:
    dumped = item.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    return {name: _flow(value) for name, value in dumped.items() if name != "name"}


def _flow(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def route_routing(route: Route) -> dict[str, str]:
    """A route's selection, split and caps as the diff shows them."""
    fields = {}
    plan = route.plan
    if isinstance(plan, SelectPlan):
        floor = f", min tier {plan.tier_names[plan.min_tier]}" if plan.min_tier else ""
        fields["select"] = f"cheapest of [{', '.join(t.name for t in plan.candidates)}]{floor}"
    elif isinstance(plan, SplitPlan):
        arms = ", ".join(
            f"{arm.name}: [{', '.join(t.name for t in arm.chain)}] x{weight:g}"
            for arm, weight in zip(plan.split.arms, plan.split.weights, strict=True)
        )
        fields["split"] = f"{arms} (sticky by {plan.sticky_by or 'nothing: random'})"
    caps = route.caps
    if caps is not None:
        fields["caps"] = (
            f"max_output_tokens={caps.max_output_tokens}, set_when_absent={str(caps.set_when_absent).lower()}, "
            f"max_input_tokens={caps.max_input_tokens}"
        )
    return fields
