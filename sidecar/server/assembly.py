"""Which stages a policy's requests pass: the pipeline folded once per compiled policy.

Every request passes ``read_stage`` and the route's stage and ends in the executor (``fallback``). The
route's stage and the feature stages after it are folded in only when the policy uses the feature,
decided once when the pipeline is built for a policy (``Pipelines.for_policy``), never per request::

    route_request   a policy that does not route by task and cost (``routes_alone``)
    routing_stage   one that does (``uses_routing``: a routing block, or a route with caps, ``select``
                    or ``split``): the route and routing's decisions in one stage, in ``route_request``'s
                    place (one coroutine a request less)
    cache_stage     a top-level cache store, or a route with ``cache:``
    BudgetStage     a budgets block
    (extra stages)  always (``SidecarApp``'s ``stages``)
    shadow          a route with ``shadow:``
    gates           a route with ``gates:``

A policy that uses none of them pays for none (its answers' usage is even read only by the handler, just
before the answer's head: ``Pipelines.usage_after_answer``): no coroutine frame, no attribute test, and no memory for
the feature's request-path code: a stage given as ``Deferred(make)`` is built (its modules imported) the
first time a policy that uses it is folded. A hot reload to a policy that does gets the stage when it is
applied (``SidecarApp`` folds the new policy's pipeline right after the swap, before its first request;
an in-flight request keeps the pipeline of the policy it started with).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..policy.compiled import Policy, Route
from ..routing.plans import SelectPlan, SplitPlan
from .pipeline import Handler, Stage, build_pipeline


@dataclass(eq=False, slots=True)
class Deferred:
    """A stage built on first use: ``make`` imports the feature's request-path modules and returns the
    stage (called once, when the first policy that uses the feature is folded)."""

    make: Callable[[], Stage]
    built: Stage | None = None

    def stage(self) -> Stage:
        if self.built is None:
            self.built = self.make()
        return self.built


@dataclass(frozen=True, slots=True)
class FeatureStage:
    """A stage (or a ``Deferred`` one) and the test, on a compiled policy, of whether any of its requests
    may need it."""

    name: str
    stage: Stage | Deferred
    used: Callable[[Policy], bool]

    def built(self) -> Stage:
        return self.stage.stage() if isinstance(self.stage, Deferred) else self.stage


class Pipelines:
    """The folded pipeline of the policy in force (rebuilt when the policy object changes).

    ``head`` stages run first for every policy, then the ``features`` a policy uses (in their order),
    then ``terminal``.
    """

    def __init__(self, head: Sequence[Stage], features: Sequence[FeatureStage], terminal: Handler) -> None:
        self._head = tuple(head)
        self._features = tuple(features)
        self._terminal = terminal
        self._policy: Policy | None = None
        self._handler: Handler = terminal
        self._usage_after_answer = False

    def for_policy(self, policy: Policy) -> Handler:
        """The pipeline of ``policy``'s requests (folded on the first request after a swap)."""
        if policy is not self._policy:
            used = self.used(policy)
            self._handler = build_pipeline([*self._head, *(f.built() for f in used)], self._terminal)
            hedged = any(route.settings.resilience.hedge for route in routes_of(policy))
            self._usage_after_answer = not hedged and all(f.name in READS_NO_USAGE for f in used)
            self._policy = policy
        return self._handler

    def usage_after_answer(self, policy: Policy) -> bool:
        """True when nothing before the answer's hand-off reads its usage on ``policy``'s pipeline (after
        ``for_policy``): no feature stage but the route's (``READS_NO_USAGE``: the cache, the budgets,
        routing, shadows, gates, an extra stage may read it as the answer passes) and no hedged route (a
        race's two answers). Its requests' answers
        then leave their usage to the handler, which reads it just before the answer's head
        (``Exchange.usage_later``, for ``x-sidecar-cost``)."""
        return self._usage_after_answer if policy is self._policy else False

    def used(self, policy: Policy) -> list[FeatureStage]:
        """The feature stages ``policy`` uses, in pipeline order."""
        return [feature for feature in self._features if feature.used(policy)]


READS_NO_USAGE = frozenset({"route"})
"""The stages that never read an answer's usage (``Pipelines.usage_after_answer``): ``route_request``'s."""


def routes_of(policy: Policy) -> Iterator[Route]:
    """Every route a request may take: the rules, the per-model routes, the default."""
    yield from policy.routes
    yield from policy.model_routes.values()
    if policy.default is not None:
        yield policy.default


def uses_routing(policy: Policy) -> bool:
    return policy.router is not None or any(
        route.caps is not None or isinstance(route.plan, SelectPlan | SplitPlan) for route in routes_of(policy)
    )


def routes_alone(policy: Policy) -> bool:
    """True when ``policy``'s requests need the route alone (``route_request``), not ``routing_stage``."""
    return not uses_routing(policy)


def uses_cache(policy: Policy) -> bool:
    return policy.cache is not None or any(route.settings.cache is not None for route in routes_of(policy))


def uses_budgets(policy: Policy) -> bool:
    return policy.budgets is not None


def uses_shadow(policy: Policy) -> bool:
    return any(route.shadow is not None for route in routes_of(policy))


def uses_gates(policy: Policy) -> bool:
    return any(route.gates is not None for route in routes_of(policy))


USES: Mapping[str, Callable[[Policy], bool]] = {
    "routing": uses_routing,
    "cache": uses_cache,
    "budgets": uses_budgets,
    "shadow": uses_shadow,
    "gates": uses_gates,
}
"""Each feature stage's test, by the feature's name (``feature_stage``)."""


def feature_stage(name: str, stage: Stage | Deferred) -> FeatureStage:
    """The stage of feature ``name``, folded in for the policies ``USES[name]`` says use it."""
    return FeatureStage(name, stage, USES[name])


def always(policy: Policy) -> bool:
    """The test of a stage every policy's requests pass (``SidecarApp``'s extra stages)."""
    return True
