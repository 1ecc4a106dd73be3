"""The counting invariants of ``sdk_soak.py``: what the sidecar counted agrees with its access lines.

- ``check_budgets``: over a round (the load stopped, settlements done), the growth of each counter of
  the day-window limits ``ROUTE_USD`` (dollars by route) and ``PROVIDER_REQUESTS`` (requests by
  provider) in ``/status`` is what the round's access lines say was used: the sum of their
  ``cost_usd`` by route, and by provider the requests one of whose calls billed on it (the answer's
  ``provider``, each ``billed_failures`` target's, a call the client's leaving cut (``cancelled``),
  each ``hedge_cut`` model's; on the ensemble route every member's call answered or cut in flight:
  docs/budgets.md, a ``requests`` limit by provider). The pool route, whose lines are sampled, is left
  out of both.
- ``check_sampling``: on the sampled route (``SAMPLED_ROUTE``) a request has one access line or none;
  one with none was a plain success the client got whole from a single upstream call, and those left
  out are ``llm_sidecar_access_lines_sampled_out_total``; a line with ``sample_rate`` is a plain success.
- ``check_request_metrics``: ``llm_sidecar_requests_total`` by route is the access lines of that route
  plus the lines sampled out (each written line weighted 1: the exact count, not the estimate
  ``1 / sample_rate`` gives).
- ``check_pool_breakers``: the pool route's targets, whose provider never faults, never opened a
  breaker although their calls waited for the small connection pool (``upstream_pool_full``).
"""

from __future__ import annotations

import collections
import json
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdk_soak_calls import Seen

ROUTE_USD = "route-usd"
PROVIDER_REQUESTS = "provider-requests"
SAMPLED_ROUTE = "pool"
SAMPLED_PROVIDERS = frozenset({"f3oa", "f3an"})  # the sampled route's: its lines may be left out
ENSEMBLE_ROUTE = "vote"  # its members' providers (e1oa, e2an, e4ge) take no other route's calls
POOL_TARGETS = ("c-oa", "c-an")
POOL_FULL = 'error_type="upstream_pool_full"'
CHAIN_ORDER = {"a-an": 0, "b-oa": 1, "a-ge": 2}  # the hedged route's chain: its races' first call comes first
USD_TOLERANCE_PER_LINE = 2e-8  # a line's cost_usd has 8 decimals; a counter counts nano-dollars

Uses = dict[tuple[str, str], float]


def budget_uses(url: str) -> Uses:
    """``/status`` budgets: the use of every counter of the counting limits, by (limit, value)."""
    with urllib.request.urlopen(url + "/status", timeout=10) as response:
        rows = json.loads(response.read())["budgets"]
    counting = (ROUTE_USD, PROVIDER_REQUESTS)
    return {(row["limit"], row["value"]): row["used"] for row in rows if row["limit"] in counting}


def billed_providers(line: dict[str, Any], provider_of: dict[str, str]) -> set[str]:
    """The providers one of the line's calls billed on: its answer's, its billed failures', its hedge's
    cut calls', and the call the client's leaving cut in flight (``target:cancelled``, not a hedge's cut
    call: when it left during a race with both racers in flight, both are listed, the hedge's named by
    ``hedge_cut`` too, and each counts on its provider since 2026-12-06, docs/budgets.md "the cancel rule";
    before, only the race's first; with one in flight, the other failed before, that one: until wave 35
    the sidecar counted it on the race's first call's provider, seed 407's ``provider-requests f1ge`` one
    short). On the ensemble route every
    member's call that answered (``ok``: the vote's winner or not) or was cut in flight (by the vote's
    early quorum, or by the client's leaving), each on its own provider."""
    if not line.get("attempts"):  # a cache hit names its answer's provider, and called none
        return set()
    providers = {line["provider"]} if line.get("provider") else set()
    providers |= {provider_of[entry.rsplit(":", 1)[0]] for entry in line.get("billed_failures", ())}
    cut = {model.strip() for model in line.get("hedge_cut", "").split(",") if model.strip()}
    providers |= {provider_of[model] for model in cut}
    log = [entry.rsplit(":", 1) for entry in line.get("attempt_log", ())]
    if line.get("route") == ENSEMBLE_ROUTE:
        return providers | {provider_of[model] for model, outcome in log if outcome in ("ok", "cancelled")}
    in_flight = [model for model, outcome in log if outcome == "cancelled" and model not in cut]
    if in_flight:
        providers.add(provider_of[min(in_flight, key=lambda model: CHAIN_ORDER.get(model, len(CHAIN_ORDER)))])
    return providers


def used_by_lines(lines: list[dict[str, Any]], provider_of: dict[str, str]) -> Uses:
    """What the lines say the counting limits counted."""
    used: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in lines:
        route = line.get("route")
        if route and route != SAMPLED_ROUTE and line.get("cost_usd"):
            used[(ROUTE_USD, route)] += line["cost_usd"]
        for provider in billed_providers(line, provider_of):
            used[(PROVIDER_REQUESTS, provider)] += 1
    return dict(used)


def check_budgets(before: Uses, after: Uses, lines: list[dict[str, Any]], provider_of: dict[str, str]) -> list[str]:
    """The counters' growth over a round against the round's lines (the sampled route's left out)."""
    said = used_by_lines(lines, provider_of)
    problems = []
    for key in sorted(set(after) | set(said)):
        limit, value = key
        if value in ({SAMPLED_ROUTE} if limit == ROUTE_USD else SAMPLED_PROVIDERS):
            continue
        grew = after.get(key, 0.0) - before.get(key, 0.0)
        tolerance = USD_TOLERANCE_PER_LINE * len(lines) if limit == ROUTE_USD else 0
        if abs(grew - said.get(key, 0.0)) > tolerance:
            problems.append(
                f"budget {limit} {value}: /status grew {grew:.9g}, the access lines say {said.get(key, 0):.9g}"
                + (suspects(lines, value, provider_of) if limit == PROVIDER_REQUESTS else "")
            )
    return problems


def suspects(lines: list[dict[str, Any]], provider: str, provider_of: dict[str, str]) -> str:
    """The kinds of line counted on ``provider`` but a plain answer's (the attempt log, the billed failures,
    a hedge's cut, the outcome), each with how many and one soak id: where a count that differs may be."""
    kinds: collections.Counter[str] = collections.Counter()
    example = {}
    for line in lines:
        if provider not in billed_providers(line, provider_of) or not line.get("attempt_log"):
            continue
        kind = f"{line.get('outcome')} {line.get('attempt_log')} billed {line.get('billed_failures', [])}"
        kind += f" cut {line['hedge_cut']}" if line.get("hedge_cut") else ""
        kinds[kind] += 1
        example[kind] = (line.get("headers") or {}).get("x-soak-id")
    return "".join(f"\n    {count} x {kind} (e.g. {example[kind]})" for kind, count in kinds.most_common())


def metric_sums(text: str, name: str, label: str) -> collections.Counter[str]:
    """A counter's samples summed by one label (Prometheus text exposition)."""
    sums: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels, value = line.rsplit(" ", 1)
        found = labels.split(f'{label}="', 1)
        sums[found[1].split('"', 1)[0] if len(found) == 2 else ""] += float(value)
    return sums


def check_sampling(
    seen: list[Seen], lines: dict[str, list[dict[str, Any]]], calls: dict[str, int], metrics: str
) -> list[str]:
    """The sampled route: each request has a line or was a plain success; the ones left out are counted.
    ``calls``: upstream calls per soak id (the fakes' request logs)."""
    problems = []
    left_out = 0
    for one in seen:
        if one.plan.model != SAMPLED_ROUTE:
            continue
        mine = lines.get(one.plan.soak_id, [])
        plain = one.status == 200 and one.error is None and one.left_at is None and one.complete
        if not mine:
            left_out += 1
            made = calls.get(one.plan.soak_id, 1)  # none: the fake's bounded log no longer holds them
            if not plain or made != 1:
                problems.append(
                    f"sampled out, not a plain success: status {one.status} error {one.error} "
                    f"upstream calls {made} | {one.plan.soak_id}"
                )
        for line in mine:
            if "sample_rate" in line and (line.get("status") != 200 or line.get("outcome") != "ok"):
                problems.append(f"a sampled line that a kept kind should have written whole: {line}")
    counted = metric_sums(metrics, "llm_sidecar_access_lines_sampled_out_total", "route")[SAMPLED_ROUTE]
    if counted != left_out:
        problems.append(f"access lines sampled out: {left_out} requests without one, the metric says {counted:g}")
    return problems


def check_request_metrics(all_lines: list[dict[str, Any]], metrics: str) -> list[str]:
    """``llm_sidecar_requests_total`` by route equals the access lines plus the lines sampled out."""
    lines: collections.Counter[str] = collections.Counter(line.get("route") or "" for line in all_lines)
    lines.update(metric_sums(metrics, "llm_sidecar_access_lines_sampled_out_total", "route"))
    requests = metric_sums(metrics, "llm_sidecar_requests_total", "route")
    return [
        f"route {route!r}: llm_sidecar_requests_total {requests[route]:g}, access lines + sampled out {lines[route]:g}"
        for route in sorted(set(lines) | set(requests))
        if requests[route] != lines[route]
    ]


def check_pool_breakers(metrics: str) -> list[str]:
    """No breaker of the pool route's targets opened while their only failures were pool waits (their
    provider never faults; a call that got its connection too late for its first byte is a timeout,
    a failure of its own)."""
    opened = metric_sums(_samples(metrics, "llm_sidecar_breaker_transitions_total", 'to="open"'), "", "target")
    failed = metric_sums(_samples(metrics, "llm_sidecar_upstream_errors_total", ""), "", "target")
    waits = metric_sums(_samples(metrics, "llm_sidecar_upstream_errors_total", POOL_FULL), "", "target")
    return [
        f"breaker {target} opened {opened[target]:g} times, its only failures {waits[target]:g} pool waits"
        for target in POOL_TARGETS
        if opened[target] and failed[target] == waits[target]
    ]


def _samples(metrics: str, name: str, having: str) -> str:
    """The samples of metric ``name`` whose labels contain ``having``, without the name."""
    lines = metrics.splitlines()
    return "\n".join(line[len(name) :] for line in lines if line.startswith(name + "{") and having in line)


def pool_waits(metrics: str) -> float:
    """Calls that waited for a connection until their first-byte deadline (``upstream_pool_full``)."""
    return sum(metric_sums(_samples(metrics, "llm_sidecar_upstream_errors_total", POOL_FULL), "", "target").values())
