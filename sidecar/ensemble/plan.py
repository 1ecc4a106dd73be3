"""``EnsemblePlan``: a route plan (``policy.plans``) that walks every member's chain at once.

Built at policy load by ``policy.compiled`` from an ``ensemble:`` block: the compiled ``Ensemble`` (the
vote), each member's chain of ``Target``s and the judge's. The server runs it
(``server.ensemble.EnsembleRunner``): members in parallel, each through the ordinary fallback loop, held
until the vote decides, then one answer sent.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .spec import EnsembleSpec

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..policy.plans import R, Walk
    from ..request_facts import RequestFacts
    from .compiled import Ensemble


@dataclass(frozen=True, slots=True)
class EnsemblePlan:
    ensemble: Ensemble
    chains: tuple[tuple[Target, ...], ...]  # one per member, in the members' order
    judge: tuple[Target, ...] = ()
    spec: EnsembleSpec | None = field(default=None, compare=False)  # as written (``llm-sidecar diff``)
    targets: tuple[Target, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        seen: list[Target] = []
        for target in (*(t for chain in self.chains for t in chain), *self.judge):
            if target not in seen:
                seen.append(target)
        object.__setattr__(self, "targets", tuple(seen))

    def run(self, request: RequestFacts, walk: Walk[R]) -> Awaitable[R]:
        """Not a single walk: the server's ``EnsembleRunner`` runs this plan (it holds every member's
        answer before one is sent, which a walk of one chain cannot)."""
        raise TypeError("an ensemble plan is run by server.ensemble.EnsembleRunner")
