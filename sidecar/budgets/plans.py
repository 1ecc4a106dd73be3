"""Which counters one call reserves on: built once per target, scope values and window, not per request.

``Planner(budgets, tracker)`` (one per policy, with its ``Tracker``); ``planner.plan(request, target, now)``:

    key = (target's model, the request fields the limits read: app, route, key hash, named headers)
    a plan cached under key, its windows holding now, no counter forgotten since (``Tracker.evictions``)
        -> it, its per-request values touched in the tracker's least-recently-used order (at most once
           a second: ``TOUCH_EVERY_S``)
    else -> built: per limit whose scope the call falls in (``Limit.scope_value``), the counter of its
        value in the window holding now (``Tracker.counter``); cached (at most ``MAX_PLANS``: the cache
        is emptied when full)

A ``Plan`` holds, per counter (request limits first: a request limit's refusal denies, a target
limit's skips): the limit, the scope value, the counter (``Seen``: its ref and the use last seen), its
ref, where its measure is in the (usd, tokens, requests) triples of ``pricing`` (``plan.pick(units)``:
the amounts in the plan's order), and the use above which the limit flags (a warn or downgrade limit
passed, or a soft threshold), so that admission sees in one C-level pass that nothing flags.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from .compiled import BudgetRequest, Budgets, Limit, TargetInfo
from .lease import Lease
from .spec import FIXED_SCOPES, Action, ScopeKind
from .store import CounterRef
from .visibility import Seen, Tracker
from .windows import WindowClock

NEVER = 1 << 100
"""A use no counter reaches (counters are int64 in Redis)."""

MAX_PLANS = 1024
"""Plans kept (one per target and combination of scope values met in the current windows)."""

TOUCH_EVERY_S = 1.0
"""A cached plan marks its scope values as recently used at most this often: the tracker's least
recently used order is kept to the second, which is all its eviction needs."""

REQUESTS = 2
"""Where the requests measure is in the (usd, tokens, requests) triples (``pricing``, ``Plan.measures``)."""

_PlanKey = tuple[str, str | None, str | None, str | None, str | tuple[str | None, ...] | None]


@dataclass(slots=True)
class Plan:
    """The counters of one call (see the module docstring). Shared by every request with the same key
    in the same windows: read-only once built."""

    target: TargetInfo
    limits: tuple[Limit, ...]
    values: tuple[str, ...]
    counters: tuple[Seen, ...]
    refs: tuple[CounterRef, ...]
    pick: Callable[[tuple[int, int, int]], tuple[int, ...]]
    """The (usd, tokens, requests) units of a call as one amount per counter."""
    measures: tuple[int, ...]
    """Per counter, where its amount is in those units (``pick`` as data, for ``LocalStore.hold``)."""
    flag_at: tuple[int, ...]
    """Per counter, the use above which its limit flags (``NEVER``: never)."""
    start: float
    end: float
    """The windows of every counter hold ``[start, end)``."""
    evictions: int
    touches: tuple[tuple[OrderedDict[str, Seen], str], ...]
    """The tracker's entries of the per-request values, to mark as recently used."""
    stop_at: tuple[int, ...]
    """Per counter, the use above which admission leaves the fast path: the cap of a denying limit or
    the level at which a limit flags, whichever is lower (``LocalStore.hold``)."""
    touch_after: float = 0.0
    """When the next request may mark ``touches`` again (``TOUCH_EVERY_S``)."""
    lease: Lease | None = None
    """The plan's lease on the local store's counters of ``refs`` (``sidecar.budgets.lease``), made at the
    first plain local admission (``Ledger.admit_plain``) and again when the store's ``generation`` moved
    (it forgot counters)."""


def uncounted(plan: Plan, amounts: Sequence[int], counted: frozenset[str]) -> tuple[list[int], frozenset[str]]:
    """``amounts`` (one per counter of ``plan``) with no request on a ``requests`` counter whose key is in
    ``counted`` (the request was counted there already: another target's plan shares it); and ``counted``
    with ``plan``'s ``requests`` counters that ``amounts`` count a request on."""
    kept = list(amounts)
    keys = set(counted)
    for at, ref in enumerate(plan.refs):
        if plan.measures[at] == REQUESTS and kept[at]:
            if ref.key in counted:
                kept[at] = 0
            else:
                keys.add(ref.key)
    return kept, frozenset(keys)


class Planner:
    """The plans of one policy's budgets over one tracker."""

    def __init__(self, budgets: Budgets, tracker: Tracker) -> None:
        self._tracker = tracker
        self._clocks = [WindowClock(limit.window) for limit in budgets.limits]
        request_limits = budgets.request_limits
        self._per_request = tuple(limit for limit in request_limits if limit.scope not in FIXED_SCOPES)
        self._fixed = (*(limit for limit in request_limits if limit.scope in FIXED_SCOPES), *budgets.target_limits)
        scopes = {limit.scope for limit in self._per_request}
        self._by_app = ScopeKind.APP in scopes
        self._by_route = ScopeKind.ROUTE in scopes
        self._by_key = ScopeKind.KEY in scopes
        self._headers = tuple(sorted({limit.header or "" for limit in self._per_request if limit.header is not None}))
        self._one_header = self._headers[0] if len(self._headers) == 1 else None
        """The one header the limits name, when one does (its value alone in a plan's key, not a tuple)."""
        self._plans: dict[_PlanKey, Plan] = {}

    @property
    def clocks(self) -> Sequence[WindowClock]:
        return self._clocks

    def plan(self, request: BudgetRequest, target: TargetInfo, now: float) -> Plan:
        """The counters ``request`` reserves on when served by ``target`` at ``now``."""
        return self.plan_for(target, request.app, request.route, request.key_hash, request.headers, now, request)

    def plan_for(
        self,
        target: TargetInfo,
        app: str | None,
        route: str | None,
        key_hash: str | None,
        headers: Mapping[str, str],
        now: float,
        request: BudgetRequest | None = None,
    ) -> Plan:
        """``plan`` from the request's scope values themselves (the fast path builds no ``BudgetRequest``
        unless the plan must be built: ``request`` when the caller has one)."""
        one = self._one_header
        key = (
            target.model,
            app if self._by_app else None,
            route if self._by_route else None,
            key_hash if self._by_key else None,
            headers.get(one) if one is not None else tuple(map(headers.get, self._headers)),
        )
        plan = self._plans.get(key)
        if plan is None or not plan.start <= now < plan.end or plan.evictions != self._tracker.evictions:
            if request is None:
                request = BudgetRequest(0, None, app, route, headers, key_hash)
            plan = self._build(request, target, now)
            plans = self._plans
            if len(plans) >= MAX_PLANS:
                plans.clear()
            plans[key] = plan
        elif now >= plan.touch_after:  # the LRU marks, at most once a second per plan
            plan.touch_after = now + TOUCH_EVERY_S
            for seen, value in plan.touches:
                seen.move_to_end(value)
        return plan

    def _build(self, request: BudgetRequest, target: TargetInfo, now: float) -> Plan:
        tracker = self._tracker
        limits: list[Limit] = []
        values: list[str] = []
        counters: list[Seen] = []
        touches: list[tuple[OrderedDict[str, Seen], str]] = []
        start, end = -math.inf, math.inf
        for limit in (*self._per_request, *self._fixed):
            value = limit.scope_value(request, target)
            if value is None:
                continue
            window_start, window_end = self._clocks[limit.index].at(now)
            start, end = max(start, window_start), min(end, window_end)
            limits.append(limit)
            values.append(value)
            counters.append(tracker.counter(limit, value, window_start, window_end))
            if limit.scope not in FIXED_SCOPES:
                touches.append((tracker.seen(limit), value))
        return Plan(
            target=target,
            limits=tuple(limits),
            values=tuple(values),
            counters=tuple(counters),
            refs=tuple(counter.ref for counter in counters),
            pick=_picker([limit.measure_index for limit in limits]),
            measures=tuple(limit.measure_index for limit in limits),
            flag_at=tuple(_flag_at(limit) for limit in limits),
            start=start,
            end=end,
            evictions=tracker.evictions,
            touches=tuple(touches),
            stop_at=tuple(min(_flag_at(limit), limit.units if limit.blocks else NEVER) for limit in limits),
        )


def _flag_at(limit: Limit) -> int:
    """The use above which ``limit`` flags: its amount unless it denies (``Ledger._judge`` flags a
    denying limit's soft threshold only), its soft threshold if lower."""
    level = NEVER if limit.action is Action.DENY else limit.units
    return min(level, NEVER if limit.soft_units is None else limit.soft_units)


def _picker(measures: list[int]) -> Callable[[tuple[int, int, int]], tuple[int, ...]]:
    """A function from a (usd, tokens, requests) triple to the amounts at ``measures``, in C when it can."""
    if len(measures) >= 2:
        return itemgetter(*measures)
    if measures:
        only = measures[0]
        return lambda units: (units[only],)
    return lambda units: ()
