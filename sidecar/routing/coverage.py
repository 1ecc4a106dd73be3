"""What a ``select: cheapest`` route's candidates cannot serve, found when the policy loads.

A request that no candidate can serve gets 400 ``no_capable_model`` (``stage``); when the policy makes
that certain for a whole kind of request, the SRE hears it at load, with the route's path, instead
of from the apps (``select_gaps(plan, match, where, errors, warnings)``):

- **an error** when the route's own floor (``target.min_tier``) is above every candidate's best tier,
  or when no task class and level the route can see has a candidate good enough: every request of the
  route would be refused;
- **a warning** per task class whose tier (its ``min_tier``, or a level's tier) no candidate reaches
  for that class, naming the levels and the best candidate: those requests are refused;
- **a warning** per capability a request may need (``select.needs``: tools, vision, audio, json,
  streaming, thinking) that no candidate declares but a model of the policy does (a capable model left
  out of ``from``), unless the route's ``match.features`` rules such requests out (or it matches only
  embeddings and token counts, which need none). A capability no model declares is not warned about:
  the policy has no model for such requests, on any route.

The classes and levels a route sees are those its ``match.task`` and ``match.complexity`` allow (all,
without them). "Unsure means up" (one tier more when the learned model was unsure) is not counted: a
class served at its top tier by one candidate stays served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .plans import SelectPlan
from .select import Candidate

if TYPE_CHECKING:
    from ..policy.spec import MatchSpec

# capability -> (the match.features fields that rule such requests out when all are false, what needs it)
CAPABILITY_NEEDS = {
    "tools": (("tools",), "declares tools"),
    "vision": (("images", "video"), "has images or video"),
    "audio": (("audio",), "has audio"),
    "json": (("json_schema",), "asks for JSON with a schema"),
    "streaming": (("stream",), "streams"),
    "thinking": (("thinking",), "asks the model to think"),
}
_NO_MODEL_CALL = frozenset(("embeddings", "count_tokens"))  # operations that need no capability above


def select_gaps(
    plan: SelectPlan, match: MatchSpec, where: str, declared: frozenset[str], errors: list[str], warnings: list[str]
) -> None:
    """Append to ``errors`` what makes the route refuse every request, to ``warnings`` what makes it
    refuse a kind of request (see the module's docstring); ``declared``: every model's capabilities."""
    candidates, tiers = plan.scored, plan.tier_names
    best = max(candidates, key=_best_rank)
    best_rank = _best_rank(best)
    if plan.min_tier > best_rank:
        errors.append(
            f"{where}.min_tier: no candidate reaches {_name(tiers, plan.min_tier)} (the best: {best.name},"
            f" {_name(tiers, best_rank)}): every request of this route would get 400 no_capable_model"
        )
        return
    _tier_gaps(plan, match, where, errors, warnings)
    _capability_gaps(candidates, match, where, declared, warnings)


def _tier_gaps(plan: SelectPlan, match: MatchSpec, where: str, errors: list[str], warnings: list[str]) -> None:
    router, tiers = plan.router, plan.tier_names
    if router is None:
        return
    tasks = _allowed(match.task, list(router.class_by_name))
    levels = _allowed(match.complexity, [level.name for level in router.levels])
    gaps: list[str] = []
    served = False
    for task in tasks:
        best = max(plan.scored, key=lambda c: c.task_tiers.get(task, c.tier))
        reach = best.task_tiers.get(task, best.tier)
        unmet: dict[int, list[str]] = {}
        for level in levels:
            need = max(router.outcomes[(task, level)][0], plan.min_tier)
            if need > reach:
                unmet.setdefault(need, []).append(level)
            else:
                served = True
        gaps.extend(
            f"{where}: no candidate reaches {_name(tiers, need)} for task {task} (complexity"
            f" {', '.join(names)}; the best: {best.name}, {_name(tiers, reach)}): those requests get 400"
            " no_capable_model; add a candidate of that tier for the class, or lower the tier it needs"
            for need, names in unmet.items()
        )
    if gaps and not served:
        errors.append(
            f"{where}: every task class and complexity level this route sees needs a tier no candidate"
            f" reaches, so every request would get 400 no_capable_model (the first: {gaps[0].split(': ', 1)[1]})"
        )
        return
    warnings.extend(gaps)


def _capability_gaps(
    candidates: Sequence[Candidate], match: MatchSpec, where: str, declared: frozenset[str], warnings: list[str]
) -> None:
    if match.operation is not None and _NO_MODEL_CALL.issuperset(match.operation):
        return
    offered = frozenset().union(*(c.capabilities for c in candidates))
    tests = match.features
    for capability, (fields, what) in CAPABILITY_NEEDS.items():
        if capability in offered or capability not in declared:
            continue
        if tests is not None and all(getattr(tests, field) is False for field in fields):
            continue
        warnings.append(
            f"{where}: no candidate has the {capability} capability: a request that {what} gets 400"
            f" no_capable_model (add a model that has it to from, or declare it on a candidate that has it)"
        )


def _allowed(value: str | list[str] | None, every: list[str]) -> list[str]:
    if value is None:
        return every
    named = [value] if isinstance(value, str) else value
    return [name for name in every if name in named]


def _name(tiers: Sequence[str], rank: int) -> str:
    return tiers[rank] if rank < len(tiers) else f"tier {rank}"


def _best_rank(candidate: Candidate) -> int:
    """The highest tier ``candidate`` serves any class at."""
    return max((candidate.tier, *candidate.task_tiers.values()))
