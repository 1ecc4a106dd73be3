"""``Ensemble``: the immutable, request-ready form of an ``ensemble:`` block, built once per policy load.

``compile_ensemble(spec)`` names the members (their ``name``, else their first model, with ``#2``, ``#3``
when that name is taken), compiles the normalizer, fills the call cap (``max_calls``, default two calls per member
plus one for the judge) and the judge's template. ``Ensemble.start()`` gives the per-request ``EnsembleRun``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .normalize import Normalizer, compile_normalizer
from .run import EnsembleRun
from .spec import EnsembleSpec
from .tally import Member, Strategy, TieBreak

CALLS_PER_MEMBER = 2


@dataclass(frozen=True, slots=True)
class Judge:
    targets: tuple[str, ...]  # the judge model, or a fallback chain
    template: str
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Ensemble:
    members: tuple[Member, ...]
    strategy: Strategy
    normalizer: Normalizer
    tie_break: TieBreak
    min_members: int
    max_calls: int
    early_quorum: bool
    judge: Judge | None

    @property
    def wants_logprobs(self) -> bool:
        """Whether members are asked for log-probabilities (the ``confidence`` strategy)."""
        return self.strategy == "confidence"

    def start(self) -> EnsembleRun:
        """The state of one request's vote."""
        return EnsembleRun(self)


def compile_ensemble(spec: EnsembleSpec) -> Ensemble:
    members: list[Member] = []
    used = {member.name for member in spec.members if member.name is not None}
    for index, member in enumerate(spec.members):
        name = member.name
        if name is None:
            name, number = member.chain[0], 1
            while name in used:
                number += 1
                name = f"{member.chain[0]}#{number}"
            used.add(name)
        members.append(Member(index, name, tuple(member.chain), member.weight))
    judge = None
    if spec.judge is not None:
        judge = Judge(tuple(spec.judge.chain), spec.judge.prompt, spec.judge.max_tokens)
    default_calls = CALLS_PER_MEMBER * len(members) + (1 if judge is not None else 0)
    return Ensemble(
        members=tuple(members),
        strategy=spec.strategy,
        normalizer=compile_normalizer(spec.normalizer),
        tie_break=spec.tie_break,
        min_members=spec.min_members,
        max_calls=spec.max_calls if spec.max_calls is not None else default_calls,
        early_quorum=spec.early_quorum,
        judge=judge,
    )
