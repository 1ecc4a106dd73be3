"""``diff --replay``: the requests of an access log routed by the old and the new policy.

Each ``access`` line of the sidecar's JSON log (docs/logs.md) is turned back into what routing reads
(``RouteRequest``: the dialect and operation from the logged path, the requested model) and routed
by both policies. The result says:

- how many lines were replayed, and why the others were skipped (not JSON, not an access line, a path
  the sidecar does not serve, rejected before routing: invalid body, body too large);
- how often the old policy picks the route the log recorded. It differs when the log was written under
  another policy, or when routing used what the access line does not record: the calling app (taken
  from ``--app`` for every line) and request headers (absent in the replay);
- the requests the new policy routes differently (another route, chain or deny), grouped by old and
  new decision;
- the estimated cost under each policy, from the tokens logged and each policy's prices. A request
  whose decision does not change is priced at the model that served it (the old and the new price);
  one that moves is priced at the first target of its new chain (the target that answers when
  nothing fails), or zero when the new policy denies it. Cached input tokens are not in the access
  line, so every input token is priced as fresh; another model tokenizes and answers differently, so
  the new figure is an estimate of the order of the change, not a bill.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..cost import cost_usd
from ..endpoint_paths import endpoint_for
from ..policy.compiled import Policy, Route, Target
from ..policy.conditions import RouteRequest
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
        return f"{self.route}: [{', '.join(self.chain)}]"


@dataclass
class Move:
    """Requests that one decision of the old policy sends to one decision of the new."""

    old: Decision
    new: Decision
    requests: int = 0
    cost_delta_usd: float = 0.0


@dataclass
class Replay:
    lines: int = 0
    replayed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    policy_versions: Counter[str] = field(default_factory=Counter)
    old_agrees_with_log: int = 0
    moves: dict[tuple[Decision, Decision], Move] = field(default_factory=dict)
    priced: int = 0
    unpriced: int = 0
    old_cost_usd: float = 0.0
    new_cost_usd: float = 0.0
    logged_cost_usd: float = 0.0

    @property
    def routed_differently(self) -> int:
        return sum(move.requests for move in self.moves.values())


def request_from_access(line: Mapping[str, Any], app: str) -> RouteRequest:
    """The ``RouteRequest`` of an access line; ``ValueError`` when its path is not one the sidecar serves."""
    dialect, operation, model = endpoint_for(str(line.get("path") or ""), str(line.get("requested_model") or ""))
    return RouteRequest(dialect, operation, model, {}, app)


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


def _replay_one(result: Replay, old: Policy, new: Policy, line: Mapping[str, Any], request: RouteRequest) -> None:
    result.replayed += 1
    result.policy_versions[str(line.get("policy_version") or "")] += 1
    before, after = Decision.of(old.route(request)), Decision.of(new.route(request))
    if before.route == line.get("route"):
        result.old_agrees_with_log += 1
    if isinstance(line.get("cost_usd"), int | float):
        result.logged_cost_usd += line["cost_usd"]
    costs = _costs(old, new, line, before, after)
    if costs is None:
        if line.get("input_tokens") is not None:
            result.unpriced += 1
    else:
        result.priced += 1
        result.old_cost_usd += costs[0]
        result.new_cost_usd += costs[1]
    if before != after:
        move = result.moves.setdefault((before, after), Move(before, after))
        move.requests += 1
        if costs is not None:
            move.cost_delta_usd += costs[1] - costs[0]


def _costs(
    old: Policy, new: Policy, line: Mapping[str, Any], before: Decision, after: Decision
) -> tuple[float, float] | None:
    """(old, new) estimated cost of one logged request; None when it cannot be priced."""
    tokens_in, tokens_out = line.get("input_tokens"), line.get("output_tokens")
    served = line.get("served_model")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int) or not isinstance(served, str):
        return None
    old_cost = _cost(old.models.get(served), tokens_in, tokens_out)
    if after == before:
        new_cost = _cost(new.models.get(served), tokens_in, tokens_out)
    elif after.deny is not None or after.route is None:
        new_cost = 0.0
    else:
        new_cost = _cost(new.models.get(after.chain[0]), tokens_in, tokens_out)
    if old_cost is None or new_cost is None:
        return None
    return old_cost, new_cost


def _cost(target: Target | None, tokens_in: int, tokens_out: int) -> float | None:
    if target is None:
        return None
    return cost_usd(target.price, Usage(input_tokens=tokens_in, output_tokens=tokens_out))
