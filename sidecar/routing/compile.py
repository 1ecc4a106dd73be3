"""Routing's part of compiling a policy (called by ``policy.compile.compile_policy``).

- ``compile_router``: the ``routing`` block -> ``matrix.Router`` (None without one);
- ``candidates``: every model as a cheapest selection sees it (capabilities, window, price, tier per
  task), checking ``models.<name>.quality`` against the tiers and classes;
- ``check_match``: ``match: {task, complexity}`` name declared classes and levels, and need a router;
- ``select_plan`` / ``split_plan``: a route's ``target: {select: ...}`` / ``split:`` -> ``SelectPlan`` /
  ``SplitPlan`` (None, with errors, when it is broken; a ``TieredSelectPlan`` when a candidate's price
  names service tiers: a plan per tier named, ``select.at_service_tier``); ``fixed_by_decision``: a selection's usual
  chain per (task, tier) a decision may name, made at load.

Every problem is appended to the compiler's list with its path (``routes[2].split.arms[1].target:
unknown model 'gpt-5x'``), so one load reports them all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RoutingError
from .plans import Arm, SelectPlan, SplitPlan, TieredSelectPlan
from .select import Candidate, Menu, at_service_tier, tiered_price
from .spec import RoutingSpec, SelectSpec, SplitSpec

__all__ = ["SelectSpec", "candidates", "check_match", "compile_router", "select_plan", "split_plan", "tiers_of"]
from .split import WeightedSplit

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..policy.spec import MatchSpec, ModelSpec
    from .matrix import Router

DEFAULT_TIERS = tuple(RoutingSpec().tiers)


def compile_router(spec: RoutingSpec | None, base_dir: Path, errors: list[str]) -> Router | None:
    if spec is None:
        return None
    from .matrix import compile_routing  # here: a policy without a routing block does not load the router

    try:
        return compile_routing(spec, base_dir=base_dir)
    except RoutingError as exc:
        errors.extend(exc.errors)
        return None


def tiers_of(router: Router | None, spec: RoutingSpec | None) -> tuple[str, ...]:
    if router is not None:
        return router.tiers
    return tuple(spec.tiers) if spec is not None else DEFAULT_TIERS


def candidates(
    specs: Mapping[str, ModelSpec],
    models: Mapping[str, Target],
    tiers: tuple[str, ...],
    router: Router | None,
    errors: list[str],
) -> dict[str, Candidate]:
    """Each model as a candidate of a cheapest selection; a model without ``quality`` is the lowest tier."""
    rank = {tier: i for i, tier in enumerate(tiers)}
    out: dict[str, Candidate] = {}
    for name, target in models.items():
        quality = specs[name].quality
        tier, by_task = 0, {}
        if quality is not None:
            where = f"models.{name}.quality"
            if quality.tier not in rank:
                errors.append(f"{where}.tier: unknown tier {quality.tier!r} (tiers: {', '.join(tiers)})")
            tier = rank.get(quality.tier, 0)
            for task, task_tier in quality.tasks.items():
                if router is not None and task not in router.class_by_name:
                    errors.append(f"{where}.tasks.{task}: unknown task class {task!r}")
                if task_tier not in rank:
                    errors.append(f"{where}.tasks.{task}: unknown tier {task_tier!r} (tiers: {', '.join(tiers)})")
                by_task[task] = rank.get(task_tier, 0)
        price = target.price
        out[name] = Candidate(
            name=name,
            capabilities=frozenset(str(c) for c in target.capabilities),
            context_window=target.context_window,
            input_per_mtok=price.input_per_mtok if price is not None else None,
            output_per_mtok=price.output_per_mtok if price is not None else None,
            tier=tier,
            task_tiers=by_task,
            tiered=tiered_price(price),
            long_from=price.long_context.above_input_tokens if price is not None and price.long_context else None,
        )
    return out


def check_match(match: MatchSpec, path: str, router: Router | None, block: bool, errors: list[str]) -> None:
    """``block``: the policy has a routing block (when it did not compile, its own errors say why)."""
    for field, known, what in (("task", "class_by_name", "task class"), ("complexity", "level_by_name", "level")):
        value = getattr(match, field)
        if value is None:
            continue
        if router is None:
            if not block:
                errors.append(f"{path}.match.{field}: needs a routing block (routing.classes, routing.complexity)")
            continue
        names: Mapping[str, object] = getattr(router, known)
        for label in [value] if isinstance(value, str) else value:
            if label not in names:
                errors.append(f"{path}.match.{field}: unknown {what} {label!r} (known: {', '.join(names)})")


def resolve_models(names: list[str], paths: list[str], models: Mapping[str, Target], errors: list[str]) -> list[Target]:
    """The models ``names`` name, in order; an unknown or repeated name is an error at its path."""
    chosen: list[Target] = []
    for model_name, where in zip(names, paths, strict=True):
        target = models.get(model_name)
        if target is None:
            errors.append(f"{where}: unknown model {model_name!r}")
        elif target in chosen:
            errors.append(f"{where}: model {model_name!r} appears twice")
        else:
            chosen.append(target)
    return chosen


def select_plan(
    spec: SelectSpec,
    where: str,
    models: Mapping[str, Target],
    scored: Mapping[str, Candidate],
    router: Router | None,
    tiers: tuple[str, ...],
    errors: list[str],
) -> SelectPlan | None:
    before = len(errors)
    names = spec.from_ if spec.from_ is not None else list(models)
    chosen = resolve_models(names, [f"{where}.from[{i}]" for i in range(len(names))], models, errors)
    min_tier = 0
    if spec.min_tier is not None:
        if spec.min_tier not in tiers:
            errors.append(f"{where}.min_tier: unknown tier {spec.min_tier!r} (tiers: {', '.join(tiers)})")
        else:
            min_tier = tiers.index(spec.min_tier)
    if len(errors) > before or not chosen:
        return None
    chosen_scored = tuple(scored[t.name] for t in chosen)
    plan = _select_plan(chosen, chosen_scored, router, min_tier, tiers)
    named = sorted({tier for t in chosen if t.price is not None for tier in t.price.service_tiers})
    if not named:  # no price names a service tier: a request is not read for one
        return plan
    at_tier = {}
    for tier in named:  # per service tier a price names, the plan of a request asking for it
        priced = tuple(at_service_tier(scored[t.name], t.price, tier) for t in chosen)
        at_tier[tier] = _select_plan(chosen, priced, router, min_tier, tiers)
    return TieredSelectPlan(**{f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}, at_tier=at_tier)


def _select_plan(
    chosen: list[Target],
    scored: tuple[Candidate, ...],
    router: Router | None,
    min_tier: int,
    tiers: tuple[str, ...],
) -> SelectPlan:
    """The ``SelectPlan`` of ``chosen``, seen by routing as ``scored``."""
    by_name = {t.name: t for t in chosen}
    menu = Menu(scored, (*router.class_by_name, router.default_class) if router is not None else (), tiers)
    return SelectPlan(
        candidates=tuple(chosen),
        scored=scored,
        router=router,
        min_tier=min_tier,
        tier_names=tiers,
        by_name=by_name,
        menu=menu,
        fixed={names: tuple(by_name[name] for name in names) for names in menu.fixed_chains()},
        by_decision=fixed_by_decision(menu, router, min_tier, by_name),
        searched=any(c.tiered is not None and c.tiered.web_search_per_1k_calls for c in scored),
    )


def fixed_by_decision(
    menu: Menu, router: Router | None, min_tier: int, by_name: Mapping[str, Target]
) -> dict[tuple[str, str], tuple[Target, ...] | None]:
    """Per (task, tier) a decision of ``router`` may name, the targets of the usual request's chain when
    its order does not depend on the request (``Shortlist.fixed``), else None: the tier raised to the
    route's floor as ``SelectPlan.chain`` raises it."""
    if router is None:
        return {}
    chains: dict[tuple[str, str], tuple[Target, ...] | None] = {}
    for task in (*router.class_by_name, router.default_class):
        for rank, tier in enumerate(router.tiers):
            shortlist = menu.shortlist(task, rank if rank > min_tier else min_tier)
            names = None if shortlist is None else shortlist.fixed
            chains[(task, tier)] = None if names is None else tuple(by_name[name] for name in names)
    return chains


def split_plan(
    spec: SplitSpec, where: str, route_name: str, models: Mapping[str, Target], errors: list[str]
) -> SplitPlan | None:
    arms: list[tuple[Arm, float]] = []
    before = len(errors)
    for i, arm in enumerate(spec.arms):
        names = [arm.target] if isinstance(arm.target, str) else arm.target
        if not names:
            errors.append(f"{where}.arms[{i}].target: an empty chain")
            continue
        at = f"{where}.arms[{i}].target"
        paths = [at] if isinstance(arm.target, str) else [f"{at}[{j}]" for j in range(len(names))]
        chain = resolve_models(names, paths, models, errors)
        arm_name = arm.name or names[0]
        if any(a.name == arm_name for a, _ in arms):
            errors.append(f"{where}.arms[{i}]: arm {arm_name!r} appears twice (give the arms distinct names)")
        arms.append((Arm(arm_name, tuple(chain)), arm.weight))
    if len(errors) > before:
        return None
    return SplitPlan(WeightedSplit(arms, salt=route_name), spec.sticky_by, {arm.name: arm for arm, _ in arms})
