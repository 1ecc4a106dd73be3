"""Complexity levels whose tiers go down as the levels go up: warnings at load.

Levels are written lowest first and each asks a tier; a harder request asking a lower tier than an
easier one (``simple`` on premium, ``complex`` on economy) is almost always a slip: it sends the hard
requests to the weaker models and pays the most for the easy ones. ``misordered_levels(spec)`` warns
once per such pair, with both paths. A class's ``tier_by_level`` may order its own tiers as it likes
(not checked); an unknown tier is ``compile_routing``'s error, not compared here.
"""

from __future__ import annotations

from .spec import RoutingSpec


def misordered_levels(spec: RoutingSpec | None) -> list[str]:
    """A warning for each level that asks a higher tier than a level above it."""
    if spec is None:
        return []
    rank = {tier: i for i, tier in enumerate(spec.tiers)}
    levels = [(i, level) for i, level in enumerate(spec.complexity.levels) if level.tier in rank]
    return [
        f"routing.complexity.levels[{i}].tier: level {lower.name!r} asks {lower.tier}, above the"
        f" {higher.tier} of level {higher.name!r} (routing.complexity.levels[{j}], a higher level):"
        " levels are lowest first, so harder requests would get the lower tier"
        for i, lower in levels
        for j, higher in levels
        if j > i and rank[lower.tier] > rank[higher.tier]
    ]
