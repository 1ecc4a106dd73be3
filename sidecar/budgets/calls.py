"""The calls an ensemble request may make at once, each priced as its own model (docs/budgets.md).

An ensemble's reservation is the sum of one estimate per call (``total_units``): each member's first
target, with the output maximum it would be asked for (the request's, else that model's, else
``default_max_output_tokens``), and the judge's first target, with the judge's ``max_tokens`` and a
prompt of the request's, the judge template's and every member's answer at its maximum (the candidates
it reads: each at the output maximum of the target the member is held on, a fallback's once admission
or a failed call moved it there). Each call knows the rest of its chain (``Call.fallbacks``): admission
reserves a call on the first target of its chain a quota does not refuse (``call_holds.shares_of``).
``ensemble_calls(plan, targets)`` builds them once per policy (the request path keeps them
with the route's ``Lane``; ``explain`` builds the same); ``call_units`` prices one call on a target of its
chain (its first, or a fallback: ``Admission.switch_call``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .compiled import TargetInfo
from .pricing import estimate_units

if TYPE_CHECKING:
    from sidecar.ensemble.plan import EnsemblePlan
    from sidecar.policy.compiled import Target

CANDIDATE_TOKENS = 16
"""The judge prompt's tokens around each candidate (its number and tags), beyond the answer."""


@dataclass(frozen=True, slots=True)
class Call:
    """One call of an ensemble: ``target`` (the first of its chain), ``fallbacks`` (the rest of its chain
    the budgets know, in order: admission walks them when a quota refuses the first), and, for the judge,
    its ``max_tokens`` and the tokens of its template and candidates' framing (``judge_tokens``);
    ``min_members``: the ensemble's (usable answers needed: fewer members left is a denial)."""

    target: TargetInfo
    judge_output: int | None = None  # a judge's max_tokens (None: a member)
    judge_tokens: int = 0
    fallbacks: tuple[TargetInfo, ...] = ()
    min_members: int = 1

    @property
    def chain(self) -> tuple[TargetInfo, ...]:
        """Its chain's targets the budgets know, the first first."""
        return (self.target, *self.fallbacks)


def ensemble_calls(plan: EnsemblePlan, targets: Mapping[str, TargetInfo]) -> tuple[Call, ...] | None:
    """Every call ``plan`` may make at once, priced on its chain's first target (None: a model the
    budgets do not know)."""
    calls = []
    needed = plan.ensemble.min_members
    for chain in plan.chains:
        info = targets.get(chain[0].name)
        if info is None:
            return None
        calls.append(Call(info, fallbacks=_known(chain[1:], targets), min_members=needed))
    judge = plan.ensemble.judge
    if plan.judge and judge is not None:
        info = targets.get(plan.judge[0].name)
        if info is None:
            return None
        framing = math.ceil(len(judge.template.encode()) / 3) + CANDIDATE_TOKENS * len(plan.chains)
        calls.append(Call(info, judge.max_tokens, framing, _known(plan.judge[1:], targets), needed))
    return tuple(calls)


def _known(chain: Sequence[Target], targets: Mapping[str, TargetInfo]) -> tuple[TargetInfo, ...]:
    """The targets of ``chain`` the budgets know, in order."""
    return tuple(info for target in chain if (info := targets.get(target.name)) is not None)


def _output(target: TargetInfo, request_output: int | None, default_output: int) -> int:
    """The output maximum a member's call on ``target`` is asked for."""
    if request_output is not None:
        return request_output
    return target.max_output_tokens or default_output


def call_units(
    calls: Sequence[Call],
    index: int,
    target: TargetInfo,
    input_tokens: int,
    request_output: int | None,
    default_output: int,
    hour_writes: bool = False,
    searches: int = 0,
    members: Sequence[TargetInfo | None] | None = None,
) -> tuple[int, int, int]:
    """Call ``index``'s estimate on ``target`` (its first, or a fallback of its chain): (nano-USD, tokens,
    requests); ``hour_writes``: the request asks for 1-hour prompt-cache writes, ``searches``: the web
    searches it lets the provider run (a member relays the request's body, so both; the judge's body is
    the judge's prompt alone, so neither).
    The judge's prompt holds every member's answer at the output maximum of the target the member is
    held on (``members``, one per call before the judge: None for a member that holds nothing, whose
    answer never comes); without ``members``, each member's first target."""
    call = calls[index]
    if call.judge_output is None:
        output = _output(target, request_output, default_output)
        return estimate_units(target.price, input_tokens, output, hour_writes, searches)
    held = members if members is not None else [c.target for c in calls if c.judge_output is None]
    answers = sum(_output(member, request_output, default_output) for member in held if member is not None)
    return estimate_units(target.price, input_tokens + call.judge_tokens + answers, call.judge_output)


def total_units(
    calls: Sequence[Call],
    input_tokens: int,
    request_output: int | None,
    default_output: int,
    hour_writes: bool = False,
    searches: int = 0,
) -> tuple[int, int, int]:
    """Every call's estimate, each on its own first target, summed: (nano-USD, tokens, 1 request)."""
    usd = tokens = 0
    for index, call in enumerate(calls):
        asks = (hour_writes, searches)
        units = call_units(calls, index, call.target, input_tokens, request_output, default_output, *asks)
        usd += units[0]
        tokens += units[1]
    return usd, tokens, 1
