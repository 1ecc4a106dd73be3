"""Routing's route plans (``policy.plans.Plan``): a cheapest capable selection and a weighted split.

Both are chosen when the policy is compiled (``policy.compiled``) from the route's ``target: {select:
cheapest}`` or ``split:``; the fallback loop walks the chain they pick, so retries, breakers and
fallback work as for a written chain::

    SelectPlan   the candidates that can serve this request, cheapest first (``select.select_cheapest``
                 over the request's features and the tier its task and complexity need); the first is
                 called, the rest are its fallbacks in cost order
    SplitPlan    one arm's chain, by weight, the same arm for the same sticky key (``split``)

A selection some of whose candidates' prices name service tiers is a ``TieredSelectPlan``: an OpenAI
request asking for a named tier is selected by the plan made at load for it (its candidates at that
tier's prices), so that ``select: cheapest`` orders by the cost ``record.expected_cost`` gives. A plan
some of whose candidates' prices have a web-search fee (``searched``, decided at load) reads a request's
expected searches (``record.expected_searches``) for its selection, for the same reason.

What they chose goes on the request's record (``record.Routed``: ``targets``, ``arm``) for the
headers, the access line, the span and ``explain``. The request path asks a ``SelectPlan`` for its chain's
targets only (``chain``): a chain whose order cannot depend on the request (at most one priced
candidate good enough, the usual request: ``select.Menu.fixed_chain``) is the one made at load, looked up
by the decision's (task, tier) (``by_decision``, made by ``compile.fixed_by_decision``; the key made
with the decision, ``Decision.chain_key``) when the request is the usual one (``Menu.fits``), and the
full ``Selection`` (expected costs, exclusions and reasons) is made when asked (``selection``:
``explain``, an empty chain's error, a chain ordered by the request's costs).

``request_chain(route, request)`` is the chain a request walks on any route (its plan's choice, else the
route's chain): what ``explain`` shows and what the budget stage reserves on (its first target).
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..cost import requested_tier
from ..dialects import Dialect
from .record import DEFAULT_OUTPUT_TOKENS, Routed, decide, expected_searches, routed
from .select import Candidate, Menu, Selection
from .split import WeightedSplit, sticky_key

if TYPE_CHECKING:
    from ..policy.compiled import Route, Target
    from ..policy.plans import Walk
    from ..request_facts import RequestFacts
    from .matrix import Router

R = TypeVar("R")
_CANDIDATE_NAME = operator.attrgetter("candidate.name")  # a Choice's model name


@dataclass(frozen=True, slots=True)
class SelectPlan:
    """``target: {select: cheapest, from: [...]}``."""

    candidates: tuple[Target, ...]  # as written (or every model, in the file's order)
    scored: tuple[Candidate, ...]  # the same models as routing sees them
    router: Router | None  # the policy's, when it has a routing block
    min_tier: int  # the route's floor (select.min_tier), a rank in the tiers
    tier_names: tuple[str, ...]
    by_name: Mapping[str, Target]  # candidate name -> target
    menu: Menu  # ``scored`` with the tier filter done per (task, minimum tier)
    fixed: Mapping[tuple[str, ...], tuple[Target, ...]]  # the menu's fixed chains as targets
    # per (task, tier) a decision may name, the usual request's fixed chain as targets (None: its order
    # depends on the request's costs), the route's floor applied (``fixed_by_decision``)
    by_decision: Mapping[tuple[str, str], tuple[Target, ...] | None]
    # some candidate's price has a web-search fee (decided at load): a request's expected searches are
    # read for its selection (``record.expected_searches``); else its body is not read for them
    searched: bool

    @property
    def targets(self) -> tuple[Target, ...]:
        return self.candidates

    def selection(self, request: RequestFacts) -> Selection:
        """The candidates that can serve ``request``, cheapest first (computed once per request)."""
        record = request.routing
        if record is None:
            record = request.routing = Routed()
        elif record.selection is not None:
            return record.selection
        router = self.router
        searches = expected_searches(request) if self.searched else 0
        if router is not None:
            decision = record.decision
            if decision is None or (record.router is not None and record.router is not router):
                decision = decide(request, router)  # not decided yet (or by another router)
            tier = router.tier_ranks[decision.tier]
            selection = self.menu.select(
                request.features,
                decision.task.label,
                tier if tier > self.min_tier else self.min_tier,
                decision.output_tokens,
                router.context_headroom,
                searches,
            )
        else:
            selection = self.menu.select(request.features, "", self.min_tier, DEFAULT_OUTPUT_TOKENS, 0.1, searches)
        record.selection = selection
        record.output_tokens = selection.output_tokens
        return selection

    def chain(self, request: RequestFacts) -> tuple[Target, ...]:
        """The targets of the selection's chain, in its order, computed once per request. A chain whose
        order does not depend on the request's tokens (``Menu.fixed_chain``) is the one made at load, and
        the selection with its costs and exclusions is made only if someone asks (``explain``, an
        empty chain's error)."""
        record = request.routing
        if record is None:
            record = request.routing = Routed()
        else:
            targets = record.targets
            if targets is not None:
                return targets
        router = self.router
        features = request.known_features or request.features  # known by now: no property call
        if router is not None:
            decision = record.decision
            if decision is None or (record.router is not None and record.router is not router):
                decision = decide(request, router)  # not decided yet (or by another router)
            # the usual request's chain, looked up by the decision's labels (made at load; the key made with
            # the decision), when the request is the usual one (``Menu.fits``); its expected output is the one
            # ``decide`` (or the caps, ``stage``) left on the record
            targets = self.by_decision.get(decision.chain_key)
            if targets is not None and self.menu.fits(features, decision.output_tokens, router.context_headroom):
                record.targets = targets
                return targets
            tier = router.tier_ranks[decision.tier]
            task, output, headroom = decision.task.label, decision.output_tokens, router.context_headroom
            # ``menu.fixed_chain``, without its call: the usual request's shortlist, whose chain is fixed
            shortlist = self.menu.usual(
                features, task, tier if tier > self.min_tier else self.min_tier, output, headroom
            )
        else:
            output = DEFAULT_OUTPUT_TOKENS
            shortlist = self.menu.usual(features, "", self.min_tier, output, 0.1)
        names = None if shortlist is None else shortlist.fixed
        if names is None:
            selection = self.selection(request)
            targets = tuple(map(self.by_name.__getitem__, map(_CANDIDATE_NAME, selection.chain)))
        else:
            targets = self.fixed[names]
            requested = features.max_output_tokens  # ``Selection.output_tokens``: the smaller, no call
            record.output_tokens = requested if requested and requested < output else output
        record.targets = targets
        return targets

    def run(self, request: RequestFacts, walk: Walk[R]) -> Awaitable[R]:
        """Walk the chain the routing stage chose (``record.targets``: not asked again), else ``chain``'s."""
        record = request.routing
        targets = record.targets if record is not None else None
        return walk(targets if targets is not None else self.chain(request))


@dataclass(frozen=True, slots=True)
class TieredSelectPlan(SelectPlan):
    """A ``SelectPlan`` some of whose candidates' prices name service tiers (``PriceSpec.service_tiers``,
    decided at load): an OpenAI request asking for one of them (``cost.requested_tier``: ``flex``,
    ``priority``) is selected by the plan made at load for that tier, its candidates priced at its prices
    where they name it (``select.at_service_tier``), as ``record.expected_cost`` prices it; any other
    request by this plan, at the standard tier. A route without such prices gets a ``SelectPlan``: its
    requests' bodies are not read for a tier."""

    at_tier: Mapping[str, SelectPlan] = field(default_factory=dict)  # a named tier -> its plan

    def _plan(self, request: RequestFacts) -> SelectPlan:
        """The plan that selects for ``request``: its asked tier's, else this one."""
        if request.dialect is not Dialect.OPENAI:
            return self
        tier = requested_tier(request.body)
        return self if tier is None else self.at_tier.get(tier, self)

    def selection(self, request: RequestFacts) -> Selection:
        return SelectPlan.selection(self._plan(request), request)

    def chain(self, request: RequestFacts) -> tuple[Target, ...]:
        return SelectPlan.chain(self._plan(request), request)


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    chain: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """``split: {arms: [...], sticky_by: ...}``."""

    split: WeightedSplit[Arm]
    sticky_by: str | None
    by_name: Mapping[str, Arm]

    @property
    def targets(self) -> tuple[Target, ...]:
        seen: dict[str, Target] = {}
        for arm in self.split.arms:
            for target in arm.chain:
                seen.setdefault(target.name, target)
        return tuple(seen.values())

    def arm(self, request: RequestFacts) -> Arm:
        """The request's arm: by its sticky key (``app`` or a header), else at random; chosen once."""
        record = routed(request)
        if record.arm is not None:
            return self.by_name[record.arm]
        arm = self.split.pick(sticky_key(self.sticky_by, request.headers, request.app))
        record.arm = arm.name
        return arm

    def run(self, request: RequestFacts, walk: Walk[R]) -> Awaitable[R]:
        return walk(self.arm(request).chain)


def request_chain(route: Route, request: RequestFacts) -> tuple[Target, ...]:
    """The chain ``request`` walks on ``route``: a selection's in cost order, a split's arm, else the
    route's (the plan's choice, made once per request: the routing stage's, ``explain``'s and the
    budget stage's, which reserves on its first target)."""
    plan = route.plan
    if isinstance(plan, SelectPlan):
        return plan.chain(request)
    if isinstance(plan, SplitPlan):
        return plan.arm(request).chain
    return route.chain
