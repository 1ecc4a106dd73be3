"""``diff --replay``: the requests of an access log routed by the old and the new policy.

Each ``access`` line of the sidecar's JSON log (docs/logs.md) is turned back into what routing reads
(``RequestFacts``, by the server's own ``describe_request``: the dialect and operation from the logged
path, the requested model, the calling app, the values of the headers the serving policy's routes
match on) and routed by both policies. The result says:

- how many lines were replayed, and why the others were skipped (not JSON, not an access line, a path
  the sidecar does not serve, rejected before routing: invalid body, body too large);
- how often the old policy picks the route the log recorded. It differs when the log was written under
  another policy, or when routing used what the access line does not record: headers only the new
  policy matches on (the line has those the serving policy matched on), a body feature the line does
  not record (it records routing's ``features``, ``task`` and ``complexity`` when the serving policy
  routes by task: a replayed request keeps the class and level it had, whatever the new policy's rules
  say); lines written before the line carried ``app`` take it from ``--app``;
- the requests the new policy routes differently (another route, chain or deny, a 413 of a route's
  ``caps.max_input_tokens`` by the logged prompt estimate included), grouped by old and new decision;
  a ``select: cheapest`` route's chain is the one it selects for the request (its logged features, task
  and complexity: ``_selected``), cheapest first, or none when no candidate can serve it (the caller
  gets 400); a split's is every model of its arms;
- the estimated cost under each policy, from the tokens logged and each policy's prices. A request
  whose decision does not change is priced at the model that served it (the old and the new price);
  one that moves is priced at the first target of its new chain (the target that answers when
  nothing fails), or zero when the new policy denies it or can serve it with no model.
  ``cached_input_tokens`` are priced at the model's cached rate and ``cache_write_tokens`` at its
  cache-write rate (``cache_write_1h_tokens`` at its 1-hour write rate) (a line without them counts
  none); another model tokenizes and answers differently, so the new figure is an estimate of the
  order of the change, not a bill.

A log written under an ``access_log`` block that samples (docs/logs.md) holds a share of the requests:
a line with ``sample_rate`` stands for ``1 / sample_rate`` of them. Every count of requests and every
cost is weighted so (``requests``: the requests the replayed lines stand for), and ``sampled_lines``
says how many lines were sampled; the counts of lines (``lines``, ``replayed``, ``skipped``,
``policy_versions``) are not weighted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..cost import cost_usd
from ..policy.compiled import Policy, Route, Target
from ..request_facts import RequestFacts, RequestProblem, describe_request
from ..routing.caps import GENERATING
from ..routing.matrix import Decision as RoutingDecision
from ..routing.matrix import Router, make_decision
from ..routing.plans import SelectPlan
from ..routing.report import from_access_line
from ..translate import Usage


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy does with a request: a route and its chain, a deny, or no route (404)."""

    route: str | None
    chain: tuple[str, ...] = ()
    deny: int | None = None

    @classmethod
    def of(cls, route: Route | None) -> Decision:
        if route is None:
            return cls(None)
        if route.deny is not None:
            return cls(route.name, deny=route.deny.status)
        return cls(route.name, tuple(t.name for t in route.chain))

    def text(self) -> str:
        if self.route is None:
            return "no route (404)"
        if self.deny is not None:
            return f"{self.route}: deny {self.deny}"
        if not self.chain:
            return f"{self.route}: no model can serve it (400 no_capable_model)"
        return f"{self.route}: [{', '.join(self.chain)}]"


def _selected(policy: Policy, request: RequestFacts) -> Decision:
    """What ``policy`` does with ``request``: a 413 deny when its logged prompt estimate is over the route's
    ``caps.max_input_tokens``; on a ``select: cheapest`` route, the chain it selects for the logged labels
    and the output it expects of them (``_expecting``; the other policy's selection, kept on the request's
    record, is dropped first). A logged tier the
    policy does not declare cannot be selected on: the route's candidates stand for it."""
    route = policy.route(request)
    if route is None or route.deny is not None:
        return Decision.of(route)
    caps = route.caps
    if caps is not None and request.operation in GENERATING and caps.input_problem(request.features) is not None:
        return Decision(route.name, deny=413)  # over caps.max_input_tokens: the routing stage's 413
    plan = route.plan
    if not isinstance(plan, SelectPlan):
        return Decision.of(route)
    record = request.routing
    if record is not None:
        record.selection = record.targets = None
        logged = record.decision if record.router is None else None
        if logged is not None and plan.router is not None:
            if logged.tier not in plan.router.tier_ranks:
                return Decision.of(route)
            record.decision = _expecting(plan.router, logged)
    return Decision(route.name, tuple(t.name for t in plan.chain(request)))


def _expecting(router: Router, logged: RoutingDecision) -> RoutingDecision:
    """The logged labels with the output ``router`` expects of them (its class's ``output_tokens``, else
    its own), as the server's decision carries it: the line does not record it, and a ``select`` orders its
    candidates by input and expected output."""
    outcome = router.outcomes.get((logged.task.label, logged.complexity.label))
    output = router.output_tokens if outcome is None else outcome[1]
    return make_decision(logged.task, logged.complexity, logged.tier, logged.escalated_from, output)


@dataclass
class Move:
    """Requests that one decision of the old policy sends to one decision of the new."""

    old: Decision
    new: Decision
    requests: float = 0  # weighted by the lines' 1 / sample_rate
    cost_delta_usd: float = 0.0


@dataclass
class Replay:
    lines: int = 0
    replayed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    policy_versions: Counter[str] = field(default_factory=Counter)
    requests: float = 0  # the requests the replayed lines stand for: each line's 1 / sample_rate
    sampled_lines: int = 0  # replayed lines written at a rate below 1 (``sample_rate``)
    old_agrees_with_log: float = 0
    moves: dict[tuple[Decision, Decision], Move] = field(default_factory=dict)
    priced: float = 0
    unpriced: float = 0
    old_cost_usd: float = 0.0
    new_cost_usd: float = 0.0
    logged_cost_usd: float = 0.0

    @property
    def routed_differently(self) -> float:
        return sum(move.requests for move in self.moves.values())


def request_from_access(line: Mapping[str, Any], app: str) -> RequestFacts:
    """The facts of the request an access line records, read as the server reads a request
    (``request_facts.describe_request``): its path, its requested model, the app routing used (``app``
    for a line that does not say), the header values routes matched on, and routing's features, task
    and complexity. ``ValueError`` when the line's path is not one the sidecar serves."""
    headers = line.get("headers")
    headers = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
    body = {"model": str(line.get("requested_model") or "")}
    logged_app = line.get("app")
    try:
        # A logged stream call was served: it had Gemini's ?alt=sse (the path is logged without the query).
        facts = describe_request(str(line.get("path") or ""), headers, {"alt": "sse"}, body, app=logged_app or app)
    except RequestProblem as problem:
        raise ValueError(problem.message) from None
    from_access_line(facts, line)  # routing's features, task and complexity, when the line has them
    return facts


def replay(old: Policy, new: Policy, lines: Iterable[bytes], *, app: str = "") -> Replay:
    result = Replay()
    for raw in lines:
        if not raw.strip():
            continue
        result.lines += 1
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            result.skipped["not JSON"] += 1
            continue
        if not isinstance(line, dict) or line.get("event") != "access":
            result.skipped["not an access line"] += 1
            continue
        if line.get("route") is None and line.get("status") != 404:
            result.skipped["rejected before routing"] += 1
            continue
        try:
            request = request_from_access(line, app)
        except ValueError:
            result.skipped["not a proxied path"] += 1
            continue
        _replay_one(result, old, new, line, request)
    return result


def line_weight(line: Mapping[str, Any]) -> float:
    """How many requests an access line stands for: ``1 / sample_rate`` for a line the sidecar wrote at a
    rate below 1 (docs/logs.md, "Sampling"), else 1."""
    rate = line.get("sample_rate")
    if isinstance(rate, int | float) and not isinstance(rate, bool) and 0 < rate < 1:
        return 1 / rate
    return 1.0


def _replay_one(result: Replay, old: Policy, new: Policy, line: Mapping[str, Any], request: RequestFacts) -> None:
    weight = line_weight(line)
    result.replayed += 1
    result.requests += weight
    if weight != 1.0:
        result.sampled_lines += 1
    result.policy_versions[str(line.get("policy_version") or "")] += 1
    before, after = _selected(old, request), _selected(new, request)
    if before.route == line.get("route"):
        result.old_agrees_with_log += weight
    if isinstance(line.get("cost_usd"), int | float):
        result.logged_cost_usd += line["cost_usd"] * weight
    costs = _costs(old, new, line, before, after)
    if costs is None:
        if line.get("input_tokens") is not None:
            result.unpriced += weight
    else:
        result.priced += weight
        result.old_cost_usd += costs[0] * weight
        result.new_cost_usd += costs[1] * weight
    if before != after:
        move = result.moves.setdefault((before, after), Move(before, after))
        move.requests += weight
        if costs is not None:
            move.cost_delta_usd += (costs[1] - costs[0]) * weight


def _costs(
    old: Policy, new: Policy, line: Mapping[str, Any], before: Decision, after: Decision
) -> tuple[float, float] | None:
    """(old, new) estimated cost of one logged request; None when it cannot be priced."""
    tokens_in, tokens_out = line.get("input_tokens"), line.get("output_tokens")
    served = line.get("served_model")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int) or not isinstance(served, str):
        return None
    cached, written = line.get("cached_input_tokens"), line.get("cache_write_tokens")
    hour = line.get("cache_write_1h_tokens")
    usage = Usage(
        tokens_in,
        tokens_out,
        cached if isinstance(cached, int) else 0,
        written if isinstance(written, int) else 0,
        cache_write_1h_tokens=hour if isinstance(hour, int) else 0,
    )
    old_cost = _cost(old.models.get(served), usage)
    if after == before:
        new_cost = _cost(new.models.get(served), usage)
    elif after.deny is not None or after.route is None or not after.chain:
        new_cost = 0.0
    else:
        new_cost = _cost(new.models.get(after.chain[0]), usage)
    if old_cost is None or new_cost is None:
        return None
    return old_cost, new_cost


def _cost(target: Target | None, usage: Usage) -> float | None:
    if target is None:
        return None
    return cost_usd(target.price, usage)
