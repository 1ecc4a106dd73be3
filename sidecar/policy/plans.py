"""A route's plan: how the targets it may call are tried for one request, chosen at policy load.

The fallback loop (``server.fallback``) walks one *chain*: an ordered list of targets, each tried in
turn until one answers. A plan decides which chain(s) a request walks::

    ChainPlan       the route's ``target`` list, as written (today's only kind)

and the next kinds plug in here, with the server unchanged: a selection (routing's
``select_cheapest``: the chain ordered by expected cost for the request's features), a split
(``WeightedSplit``: one of several chains, sticky per caller), an ensemble (several chains walked at
once, each member's answer held, one chosen and sent).

``Plan.run(request, walk)`` calls ``walk(chain)`` (and may call it more than once, concurrently) and
returns what it returns; ``targets`` is every target the plan may call, in order (for ``explain``,
``/status``, the route's span attribute, a budget's admission).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ..request_facts import RequestFacts
    from .compiled import Target

R = TypeVar("R")
Walk = Callable[[tuple["Target", ...]], Awaitable[R]]
"""The fallback loop over one chain, for this request."""


class Plan(Protocol):
    @property
    def targets(self) -> tuple[Target, ...]:
        """Every target the plan may call, in order."""

    def run(self, request: RequestFacts, walk: Walk[R]) -> Awaitable[R]:
        """Walk the chain(s) this request takes."""


@dataclass(frozen=True, slots=True)
class ChainPlan:
    """The route's targets in the order written: the first that answers serves."""

    chain: tuple[Target, ...]

    @property
    def targets(self) -> tuple[Target, ...]:
        return self.chain

    def run(self, request: RequestFacts, walk: Walk[R]) -> Awaitable[R]:
        return walk(self.chain)
