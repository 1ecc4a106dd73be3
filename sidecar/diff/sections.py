"""The policy's sections, each compared by one function ``(old, new) -> list[Change]``.

``SECTIONS`` is the order of the diff: providers, models, routes, defaults, routing, budgets, cache,
access_log, passthrough. A feature that adds a
section to the policy (cache, budgets, ...) adds one function here and one entry in ``SECTIONS``.

Routes are matched by name. ``ROUTE_ASPECTS`` are the things compared for a route present in both
policies, each a function ``route -> {field: text}``: what it matches, its chain or deny, its
effective resilience settings (the defaults merged in, so a change of ``defaults.resilience`` shows on
every route it reaches), the translation setting. A per-route setting a feature adds (a cache block, a
budget, an ensemble, gates, a shadow) is one more function in ``ROUTE_ASPECTS``. The rules' order
matters (the first match wins), so a rule whose position among the rules both policies keep changed
is reported ``moved``; a rule added before others is an ``added`` line whose effect ``--replay``
measures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..budgets.spec import BudgetsSpec
from ..budgets.spec import LimitSpec as BudgetsLimit
from ..ensemble.plan import EnsemblePlan
from ..passthrough.table import PassRoute
from ..policy.compiled import Policy, Provider, Route, Target
from ..policy.conditions import Condition, Pattern
from .changes import Change, field_changes, keyed_changes, longest_increasing, spec_fields, text
from .routing import route_routing, routing_section

Section = Callable[[Policy, Policy], list[Change]]
RouteAspect = Callable[[Route], dict[str, str]]

NONE = "(none)"


def providers(old: Policy, new: Policy) -> list[Change]:
    return keyed_changes("providers", old.providers, new.providers, _provider_summary, _provider_fields)


def _provider_summary(provider: Provider) -> str:
    return f"{provider.kind.value} at {provider.base_url}"


def _provider_fields(provider: Provider) -> dict[str, str]:
    key = provider.api_key
    source = (
        NONE if key is None else (f"env {key.env}" if key.env else f"file {key.file}" if key.file else "passthrough")
    )
    return {
        "kind": provider.kind.value,
        "base_url": provider.base_url,
        "api_key": source,
        "headers": text(dict(provider.headers)),
        "api_version": text(provider.api_version),
        "speaks": text(provider.speaks),
        **spec_fields(provider.timeouts, "timeouts."),
    }


def models(old: Policy, new: Policy) -> list[Change]:
    return keyed_changes("models", old.models, new.models, _model_summary, _model_fields)


def _model_summary(target: Target) -> str:
    return f"{target.key}" + (f", {_price_text(target)}" if target.price else ", no price")


def _price_text(target: Target) -> str:
    price = target.price
    assert price is not None
    parts = [f"${text(price.input_per_mtok)} in / ${text(price.output_per_mtok)} out per Mtok"]
    audio_in, audio_out = price.audio_input_per_mtok, price.audio_output_per_mtok
    if audio_in is not None or audio_out is not None:  # each defaults to its text price
        audio_in = price.input_per_mtok if audio_in is None else audio_in
        audio_out = price.output_per_mtok if audio_out is None else audio_out
        parts.append(f"audio ${text(audio_in)} in / ${text(audio_out)} out")
    if (long := price.long_context) is not None:
        parts.append(
            f"above {long.above_input_tokens:,} input tokens ${text(long.input_per_mtok)} in / "
            f"${text(long.output_per_mtok)} out"
        )
    if price.service_tiers:
        parts.append(f"service tiers {', '.join(sorted(price.service_tiers))}")
    return ", ".join(parts)


def _model_fields(target: Target) -> dict[str, str]:
    return {
        "provider": target.provider.name,
        "model": target.upstream_model,
        "context_window": text(target.context_window),
        "max_output_tokens": text(target.max_output_tokens),
        "capabilities": text(target.capabilities),
        **spec_fields(target.price, "price."),
        **spec_fields(target.quality, "quality."),
    }


def condition_text(condition: Condition) -> str:
    """``model gpt-4*``, ``header x-task: long-*``, ``app checkout``: a match condition as the diff
    shows it. A condition with a ``summary`` (routing's: ``complexity complex``) shows that; another
    condition class is a dataclass named ``<Kind>Is`` (or anything else): its fields, in order, joined
    by ": "."""
    summary = getattr(condition, "summary", None)
    if isinstance(summary, str):
        return summary
    kind = type(condition).__name__.removesuffix("Is").lower()
    if not dataclasses.is_dataclass(condition):
        return kind
    parts = []
    for item in dataclasses.fields(condition):
        value = getattr(condition, item.name)
        parts.append(value.text if isinstance(value, Pattern) else text(value))
    return f"{kind} {': '.join(parts)}"


def route_match(route: Route) -> dict[str, str]:
    return {"match": "; ".join(condition_text(c) for c in route.conditions) or "(everything)"}


def route_target(route: Route) -> dict[str, str]:
    if route.deny is not None:
        return {"deny": f"{route.deny.status} {route.deny.message}"}
    if isinstance(route.plan, EnsemblePlan):
        return {"ensemble": "[" + ", ".join("[" + ", ".join(t.name for t in c) + "]" for c in route.plan.chains) + "]"}
    return {"target": chain_text(route)}


def route_resilience(route: Route) -> dict[str, str]:
    return spec_fields(route.settings.resilience, "resilience.")


def route_translation(route: Route) -> dict[str, str]:
    return {"unsupported_params": route.settings.unsupported_params}


def route_ensemble(route: Route) -> dict[str, str]:
    plan = route.plan
    return spec_fields(plan.spec, "ensemble.") if isinstance(plan, EnsemblePlan) else {}


def route_gates(route: Route) -> dict[str, str]:
    return spec_fields(route.gates.spec, "gates.") if route.gates is not None else {}


def route_shadow(route: Route) -> dict[str, str]:
    return spec_fields(route.shadow.spec, "shadow.") if route.shadow is not None else {}


def route_cache(route: Route) -> dict[str, str]:
    """The route's response cache, merged over ``defaults.cache`` (only ``cache.enabled: false`` when off)."""
    plan = route.settings.cache
    if plan is None:
        return {"cache.enabled": "false"}
    return spec_fields(plan.settings, "cache.")


ROUTE_ASPECTS: tuple[RouteAspect, ...] = (
    route_match,
    route_target,
    route_resilience,
    route_translation,
    route_ensemble,
    route_gates,
    route_shadow,
    route_routing,
    route_cache,
)


def chain_text(route: Route) -> str:
    return "[" + ", ".join(t.name for t in route.chain) + "]"


def route_summary(route: Route) -> str:
    match = route_match(route)["match"]
    verdict = f"deny {route.deny.status}" if route.deny is not None else chain_text(route)
    return f"match {match} -> {verdict}"


def _route_fields(route: Route) -> dict[str, str]:
    fields: dict[str, str] = {}
    for aspect in ROUTE_ASPECTS:
        fields.update(aspect(route))
    return fields


def routes(old: Policy, new: Policy) -> list[Change]:
    """Rules by name (removed, moved, then added or changed in the new order), then the default."""
    old_rules = {r.name: r for r in old.routes}
    new_rules = {r.name: r for r in new.routes}
    changes = [
        Change("routes", "removed", f"{name} ({r.path})", old=route_summary(r))
        for name, r in old_rules.items()
        if name not in new_rules
    ]
    kept = [r.name for r in new.routes if r.name in old_rules]
    old_rank = {r.name: i for i, r in enumerate(r for r in old.routes if r.name in new_rules)}
    in_order = longest_increasing(old_rank[name] for name in kept)
    for name in kept:
        if old_rank[name] not in in_order:
            changes.append(Change("routes", "moved", name, old=old_rules[name].path, new=new_rules[name].path))
    for route in new.routes:
        subject = f"{route.name} ({route.path})"
        if route.name not in old_rules:
            changes.append(Change("routes", "added", subject, new=route_summary(route)))
        else:
            changes.extend(field_changes("routes", subject, _route_fields(old_rules[route.name]), _route_fields(route)))
    changes.extend(_default_route(old.default, new.default))
    return changes


def _default_route(old: Route | None, new: Route | None) -> list[Change]:
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [Change("routes", "added", f"{new.name} (default)", new=route_summary(new))]
    if new is None:
        return [Change("routes", "removed", f"{old.name} (default)", old=route_summary(old))]
    changes = []
    if old.name != new.name:
        changes.append(Change("routes", "changed", "default", "name", old.name, new.name))
    changes.extend(field_changes("routes", f"{new.name} (default)", _route_fields(old), _route_fields(new)))
    return changes


def defaults(old: Policy, new: Policy) -> list[Change]:
    """``defaults``: breaker, retry budget, bulkhead (per target), the resilience every route inherits."""
    changes = []
    for change in field_changes("defaults", "", spec_fields(old.defaults), spec_fields(new.defaults)):
        block, _, field = change.field.partition(".")
        changes.append(dataclasses.replace(change, subject=block, field=field))
    return changes


def cache_store(old: Policy, new: Policy) -> list[Change]:
    """The top-level ``cache:`` store as the routes use it (the memory default when only routes cache)."""
    return list(field_changes("cache", "store", spec_fields(old.cache), spec_fields(new.cache)))


def budgets(old: Policy, new: Policy) -> list[Change]:
    """``budgets``: each limit by name (added, removed, its fields), then the block's other settings
    (store, reservation TTL, headers...) as the subject ``settings``."""
    old_spec = old.budgets.spec if old.budgets is not None else None
    new_spec = new.budgets.spec if new.budgets is not None else None
    old_limits = {limit.name: limit for limit in old_spec.limits} if old_spec is not None else {}
    new_limits = {limit.name: limit for limit in new_spec.limits} if new_spec is not None else {}
    changes = keyed_changes("budgets", old_limits, new_limits, _limit_summary, spec_fields)
    settings = [
        dataclasses.replace(change, subject="settings")
        for change in field_changes("budgets", "", _budget_settings(old_spec), _budget_settings(new_spec))
    ]
    return changes + settings


def _limit_summary(limit: BudgetsLimit) -> str:
    scope = limit.scope.by.value + (f" {limit.scope.header}" if limit.scope.header else "")
    return f"{limit.action.value} at {text(limit.amount)} {limit.measure.value} per {limit.window.value}, by {scope}"


def _budget_settings(spec: BudgetsSpec | None) -> dict[str, str]:
    fields = spec_fields(spec)
    return {path: value for path, value in fields.items() if not path.startswith("limits")}


def access_log(old: Policy, new: Policy) -> list[Change]:
    """The ``access_log`` block as the sidecar applies it (subject ``sampling``): the share of lines
    written (``sample``; 1 without the block), and while any rate is below 1 how lines are drawn, the kinds
    always kept, the latency over which lines are kept, and each route's own share (``routes.NAME.sample``)."""
    return list(field_changes("access_log", "sampling", _sampling(old), _sampling(new)))


def _sampling(policy: Policy) -> dict[str, str]:
    sampling = policy.access_sampling
    if sampling is None:  # every line written
        return {"sample": "1"}
    fields = {
        "sample": text(sampling.rate),
        "by": "trace_id" if sampling.by_trace_id else "random",
        "always": text(sampling.always),
        "slower_than_s": text(sampling.slower_than_ms / 1000 if sampling.slower_than_ms is not None else None),
    }
    for name, rate in (sampling.route_rates or {}).items():
        fields[f"routes.{name}.sample"] = text(rate)
    return fields


def passthrough(old: Policy, new: Policy) -> list[Change]:
    """The ``passthrough`` table: one subject per dialect and prefix (``openai /v1/files``), its provider
    and ``max_body_bytes``."""
    return keyed_changes("passthrough", _forwarded(old), _forwarded(new), _forward_summary, _forward_fields)


def _forwarded(policy: Policy) -> dict[str, PassRoute]:
    table = policy.passthrough
    return {} if table is None else {f"{route.dialect} {route.prefix}": route for route in table.routes()}


def _forward_summary(route: PassRoute) -> str:
    return f"to {route.provider.name}, max_body_bytes {route.max_body_bytes}"


def _forward_fields(route: PassRoute) -> dict[str, str]:
    return {"provider": route.provider.name, "max_body_bytes": text(route.max_body_bytes)}


SECTIONS: tuple[Section, ...] = (
    providers,
    models,
    routes,
    defaults,
    routing_section,
    budgets,
    cache_store,
    access_log,
    passthrough,
)


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    """Every change from ``old`` to ``new``, section by section in ``SECTIONS`` order."""
    changes: list[Change] = []
    for section in SECTIONS:
        changes.extend(section(old, new))
    return changes
