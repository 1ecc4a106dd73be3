"""An ensemble's joint reservation: the counters of every target its calls may make at once, held in one.

An ensemble request calls several targets at once (each member's and the judge's: the first of its chain
a quota does not refuse), each on its own model and provider. ``joint_plan(plans)`` merges the plans of
those targets (``plans.Planner``) into one ``JointPlan``: every counter once (the request limits, which
every target's plan shares, and each target's model and provider quotas), and per target the positions
of its counters (``parts``). Its amounts (``spread``) put each target's calls' dollars and tokens on
that target's counters alone, so a request limit holds their sum and a ``by: model`` or ``by: provider``
limit its own calls' share; a ``requests`` counter holds one request, whichever targets share it.
Reserved as one reservation over all those counters (one store call: the local store's, or one Redis
script over all the keys), it is all or nothing, and the store names the first counter that refused:
``targets_at`` says whose quota it is.

A joint plan is built per request (not cached: the planner caches each target's plan). Its ``pick``
(the generic one-triple settlement) charges every dollar and token to the first target's counters, as
one reservation did before: only a settlement that knows each call's own cost (``spread``) splits it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .compiled import Limit, TargetInfo
from .plans import REQUESTS, Plan
from .store import CounterRef
from .visibility import Seen


@dataclass(slots=True)
class JointPlan(Plan):
    """The merged counters of several targets' plans (see the module docstring)."""

    parts: tuple[tuple[TargetInfo, tuple[int, ...]], ...] = field(default=())
    """Per target, in the order given: the positions of its plan's counters in this one."""

    def spread(self, per_target: Mapping[str, tuple[int, int]], requests: int) -> list[int]:
        """One amount per counter: each target's (nano-USD, tokens), by its model's name, on its counters;
        ``requests`` on every requests counter, once."""
        amounts = [0] * len(self.refs)
        measures = self.measures
        for target, positions in self.parts:
            usd, tokens = per_target.get(target.model, (0, 0))
            if usd or tokens:
                for at in positions:
                    measure = measures[at]
                    amounts[at] += usd if measure == 0 else tokens if measure == 1 else 0
        if requests:
            for at, measure in enumerate(measures):
                if measure == REQUESTS:
                    amounts[at] = requests
        return amounts

    def targets_at(self, position: int) -> list[TargetInfo]:
        """The targets whose plan has the counter at ``position``."""
        return [target for target, positions in self.parts if position in positions]


def joint_plan(plans: Sequence[Plan]) -> JointPlan:
    """The plans of distinct targets (the first one's first) merged, each counter once."""
    position: dict[str, int] = {}
    limits: list[Limit] = []
    values: list[str] = []
    counters: list[Seen] = []
    refs: list[CounterRef] = []
    measures: list[int] = []
    flag_at: list[int] = []
    stop_at: list[int] = []
    parts: list[tuple[TargetInfo, tuple[int, ...]]] = []
    start, end = -math.inf, math.inf
    for plan in plans:
        mine = []
        for i, ref in enumerate(plan.refs):
            at = position.get(ref.key)
            if at is None:
                at = position[ref.key] = len(refs)
                limits.append(plan.limits[i])
                values.append(plan.values[i])
                counters.append(plan.counters[i])
                refs.append(ref)
                measures.append(plan.measures[i])
                flag_at.append(plan.flag_at[i])
                stop_at.append(plan.stop_at[i])
            mine.append(at)
        parts.append((plan.target, tuple(mine)))
        start, end = max(start, plan.start), min(end, plan.end)
    first = plans[0].target.model

    def pick(units: tuple[int, int, int]) -> tuple[int, ...]:
        return tuple(joint.spread({first: (units[0], units[1])}, units[2]))

    joint = JointPlan(
        target=plans[0].target,
        limits=tuple(limits),
        values=tuple(values),
        counters=tuple(counters),
        refs=tuple(refs),
        pick=pick,
        measures=tuple(measures),
        flag_at=tuple(flag_at),
        start=start,
        end=end,
        evictions=plans[0].evictions,
        touches=(),
        stop_at=tuple(stop_at),
        parts=tuple(parts),
    )
    return joint


def spread_on(plan: Plan, model: str, units: tuple[int, int], requests: int) -> list[int]:
    """``units`` of a call on ``model`` as one amount per counter of ``plan``: on that target's counters
    of a joint plan, on every counter of a plan of one target."""
    if isinstance(plan, JointPlan):
        return plan.spread({model: units}, requests)
    return list(plan.pick((units[0], units[1], requests)))
