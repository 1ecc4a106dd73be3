"""The ledger: admission (check + reserve), settlement and release, over a local or shared store.

The request path, after routing, calls ``admission = await ledger.admit(request, chain)`` and reads
``admission.decision`` (``sidecar.budgets.decision``). Admission walks the chain:

    for each target: counters = request limits (app, route, header, key, global) + that target's quotas
                     (a ``plans.Plan``, cached per target, scope values and window)
        reserve the estimate on all of them at once (one store call, all or nothing)
        refused by a model/provider quota -> skip the target, try the next
        refused by a request limit        -> deny
        reserved -> judge the uses: a downgrade limit (or soft threshold) passed -> release, and admit
                    again on its downgrade_to list (no second downgrade); warn -> flag; else allow
    every target skipped -> deny (Retry-After: the earliest quota reset)

An ensemble request (``calls``) is admitted by ``call_holds.admit_calls`` instead: every call's target
at once, in one joint reservation over all their counters (``joint``).

The caller then serves ``decision.targets`` and ends the request through the ``Admission``
(``sidecar.budgets.admission``: switch to a fallback target, settle, release, and their forms without a
coroutine, ``charge`` and ``drop``: done at once on the local store; on a shared one carried by the next
admission's round trip, ``guard.GuardedStore.settle_soon``). Settlement through ``settle``/``release``
runs in a task the caller's cancellation cannot interrupt (``asyncio.shield``).

The local store's common case (the first target admits, no limit flags, no headers asked for) is
``ledger.admit_plain(lane, input_tokens, max_output_tokens, app, route, key_hash, headers)``, over the
route's ``Lane`` (``ledger.lane(chain, calls)``, kept per route by the request path): no coroutine, no
``BudgetRequest``, one shared plain "allow" decision, and the estimate taken in the (usd, tokens,
requests) form from the plan's lease on its counters (``LocalStore.take``, ``sidecar.budgets.lease``:
three subtractions whatever the number of limits), or held per counter when the lease cannot be topped
up (``LocalStore.hold``); None sends the request to ``admit(..., plain=False)``, which gives every lease
back before it reads the counters. ``admit_now(request, chain)`` is the same for a ``BudgetRequest``. An
answer from the lane's first target with nothing else billed settles by ``admission.charge_plain(usage,
lane)`` (``LocalStore.settle_held``: into the lease's room), priced with the lane's prices.

Stores are reached through ``sidecar.budgets.guard.GuardedStore``: the shared store behind a breaker
and a timeout; when it fails, limits with ``on_store_error: closed`` deny (429, "cannot be checked")
and the others count in this pod (``decision.store == "fallback"``), their use queued for the shared
store (``stats.pending``).

With a shared store the ledger's clock is Redis's as this pod measures it (``server_clock``;
``sync_clock``, which the keeper runs at start and every 5 s): every pod names the same window.

No method raises into the request path: an internal error admits the request unbudgeted and counts
``stats.internal_errors``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from operator import gt

from .admission import Admission, Held
from .call_holds import admit_calls
from .calls import Call, call_units
from .compiled import BudgetRequest, Budgets, TargetInfo
from .decision import Decision, LimitState, StoreUse, Verdict
from .guard import GuardedStore, LedgerStats
from .lane import Lane
from .lease import Lease
from .plain_admission import PlainAdmission
from .plans import Plan, Planner, uncounted
from .pricing import estimate_units
from .store import KEY_GRACE_S, ReserveResult, Store
from .verdicts import ALL_OVER, denial, downgrade_targets, judged, unavailable
from .visibility import Gauge, Tracker

log = logging.getLogger(__name__)


class Ledger:
    """Admission and settlement for one sidecar; owns the local store and (optionally) the shared one."""

    def __init__(
        self,
        budgets: Budgets,
        *,
        shared: Store | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = LedgerStats()
        self._clock = clock
        self._stores = GuardedStore(shared, budgets.store, self.stats, monotonic)
        self._shared = shared
        self._local_only = shared is None
        self._ids = itertools.count()
        self._id_prefix = os.urandom(6).hex()
        self.tracker = Tracker(budgets)
        self.update(budgets)

    def update(self, budgets: Budgets) -> None:
        """A new policy: new limits and windows; counters (local and shared) carry on under the same keys."""
        self.budgets = budgets  # the policy's, read by the request path
        self._fail_closed = any(limit.fail_closed for limit in budgets.limits)
        self._hold_s = budgets.reservation_ttl_s
        self._grace = int(budgets.reservation_ttl_s) + KEY_GRACE_S
        tracker = Tracker(budgets)
        tracker.carry(self.tracker)  # the values met so far: their counters carry on, and /status shows them
        self.tracker = tracker
        self._planner = Planner(budgets, self.tracker)
        self._fast = self._local_only and not budgets.headers and bool(budgets.limits)
        self._allowed: dict[tuple[str, ...], Decision] = {}  # per chain: the plain "allow", shared
        self._stores.local.give_back_leases()  # the old plans' leases: their room back to the counters

    # ---- admission ----------------------------------------------------------------------------

    def lane(self, chain: Sequence[TargetInfo], calls: tuple[Call, ...] = ()) -> Lane:
        """The fast path's view of ``chain`` (built once per chain and policy: the stage keeps it per route)."""
        return Lane(self.budgets, tuple(chain), self._plain_allow(_names(chain)), calls)

    def admit_plain(
        self,
        lane: Lane,
        input_tokens: int,
        max_output_tokens: int | None,
        app: str | None,
        route: str | None,
        key_hash: str | None,
        headers: Mapping[str, str],
        request: BudgetRequest | None = None,
    ) -> PlainAdmission | None:
        """The local store's common case without a coroutine and without a ``BudgetRequest``: the lane's
        first target's counters take the estimate and no limit refuses or flags (nor are headers asked
        for) -> the plain "allow", reserved. None: any other case, or an internal error, with nothing held
        (``admit`` decides it on the general path, which logs and counts an error). ``request``: the same
        request as an object, when the caller has one (a chain of several targets needs it to move the
        reservation). Never raises."""
        if not self._fast or lane.target is None:
            return None
        try:
            now = self._clock()
            plan = self._planner.plan_for(lane.target, app, route, key_hash, headers, now, request)
            local = self._stores.local
            lease = plan.lease
            if lease is None or lease.generation != local.generation:
                lease = plan.lease = Lease(local.cells(plan.refs), plan.measures, plan.stop_at, local.generation)
            units = lane.units(input_tokens, max_output_tokens)
            res_id = next(self._ids)  # the local store's id: a number, not a string
            until = now + self._hold_s
            if not local.take(res_id, lease, units, now, until) and not local.hold(
                res_id, lease.cells, lease.measures, units, plan.stop_at, now, until
            ):
                return None
        except Exception:
            return None
        self.stats.admissions += 1
        return PlainAdmission(self, request, lane.allowed, res_id, plan, units)

    def admit_now(self, request: BudgetRequest, chain: Sequence[TargetInfo]) -> Admission | None:
        """``admit_plain`` for a ``BudgetRequest`` (see there)."""
        if not self._fast or not chain:
            return None
        lane = self.lane(chain, request.calls)
        return self.admit_plain(
            lane,
            request.input_tokens,
            request.max_output_tokens,
            request.app,
            request.route,
            request.key_hash,
            request.headers,
            request,
        )

    async def admit(self, request: BudgetRequest, chain: Sequence[TargetInfo], *, plain: bool = True) -> Admission:
        """Check and reserve ``request`` on ``chain`` (the route's targets, in order). ``plain=False``: the
        caller already tried ``admit_plain`` (None), so the general path at once."""
        if plain:
            fast = self.admit_now(request, chain)
            if fast is not None:
                return fast
        self.stats.admissions += 1
        try:
            return await self._admit(request, chain, downgraded_by=None)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.internal_errors += 1
            log.exception("budget admission failed; the request goes on unbudgeted")
            return Admission(self, request, Decision("allow", targets=tuple(t.model for t in chain)), None)

    async def _admit(
        self, request: BudgetRequest, chain: Sequence[TargetInfo], downgraded_by: LimitState | None
    ) -> Admission:
        budgets = self.budgets
        names = _names(chain)
        if not budgets.limits or not chain:
            verdict: Verdict = "downgrade" if downgraded_by is not None else "allow"
            return Admission(self, request, Decision(verdict, downgraded_by, names), None)
        if request.calls:  # an ensemble: every call's target at once (``call_holds``)
            return await admit_calls(self, request, names, downgraded_by)
        now = self._clock()
        skipped: list[tuple[LimitState, int, str]] = []
        plan_of = self._planner.plan
        for position, target in enumerate(chain):
            plan = plan_of(request, target, now)
            amounts = plan.pick(self._units(request, target))
            held: Held | None
            if self._local_only:
                held, result = self._reserve_local(plan, amounts, now)
            else:
                held, result = await self._reserve(plan, amounts, now)
            if held is None:
                return Admission(self, request, self._unavailable(plan), None)
            at = result.refused
            if at >= 0:
                limit = plan.limits[at]
                state = LimitState(limit, plan.values[at], result.uses[at], plan.counters[at].end)
                if limit.is_target_limit:
                    skipped.append((state, amounts[at], target.model))
                    self.stats.skipped_targets += 1
                    continue
                return Admission(self, request, self._deny(state, amounts[at], now, held.store), None)
            decision = self._judge(held, names[position:] if position else names, skipped, downgraded_by)
            if decision.verdict == "downgrade" and downgraded_by is None and decision.acted is not None:
                self._finish_soon(held, [0] * len(amounts))  # carried by the admission below
                targets = downgrade_targets(decision.acted)
                return await self._admit(request, [budgets.target(name) for name in targets], decision.acted)
            if decision.verdict != "allow":
                self._count(decision)
            return Admission(self, request, decision, held)
        return Admission(self, request, self._all_skipped(skipped, names, now), None)

    def _all_skipped(
        self, skipped: list[tuple[LimitState, int, str]], names: tuple[str, ...], now: float, reason: str = ALL_OVER
    ) -> Decision:
        """The denial when a model or provider quota refused every target (``skipped``: each refusal, its
        amount and model; ``reason``: another case, an ensemble's members too few), the earliest reset named."""
        state, requested, _ = min(skipped, key=lambda entry: entry[0].resets_at)
        decision = self._deny(state, requested, now, "ok")
        flags = tuple(entry[0] for entry in skipped)
        return replace(decision, flags=flags, message=f"{reason}; {decision.message}", skipped=names)

    def _units(self, request: BudgetRequest, target: TargetInfo) -> tuple[int, int, int]:
        """The reservation of ``request`` (one call) on ``target``: (nano-USD, tokens, requests)."""
        default = self.budgets.default_max_output_tokens
        output = request.max_output_tokens
        if output is None:
            output = target.max_output_tokens or default
        return estimate_units(target.price, request.input_tokens, output, request.hour_writes, request.searches)

    def call_units(
        self, request: BudgetRequest, index: int, target: TargetInfo, members: Sequence[TargetInfo | None] | None = None
    ) -> tuple[int, int, int]:
        """Call ``index`` of an ensemble ``request`` on ``target``; the judge's with ``members`` (``calls``)."""
        default = self.budgets.default_max_output_tokens
        units = (request.max_output_tokens, default, request.hour_writes, request.searches, members)
        return call_units(request.calls, index, target, request.input_tokens, *units)

    def _plain_allow(self, targets: tuple[str, ...]) -> Decision:
        """The plain "allow" of a chain, one shared object per chain."""
        allowed = self._allowed.get(targets)
        if allowed is None:
            allowed = self._allowed[targets] = Decision("allow", None, targets)
        return allowed

    def _judge(
        self,
        held: Held,
        targets: tuple[str, ...],
        skipped: list[tuple[LimitState, int, str]],
        downgraded_by: LimitState | None,
    ) -> Decision:
        plan, uses = held.plan, held.uses
        for counter, used in zip(plan.counters, uses, strict=True):  # the use last seen, for gauges
            counter.used = used
        plain = not skipped and downgraded_by is None and held.store == "ok" and not self.budgets.headers
        if plain and not any(map(gt, uses, plan.flag_at)):
            return self._plain_allow(targets)  # nothing flagged: the same plain "allow" for every request
        skipped_names = tuple(model for _, _, model in skipped) if skipped else ()
        return judged(plan, uses, targets, held.store, skipped_names, downgraded_by, self.budgets.headers)

    def _deny(self, state: LimitState, requested: int, now: float, store: StoreUse) -> Decision:
        self.stats.denied += 1
        return denial(state, requested, now, store, headers=self.budgets.headers)

    def _unavailable(self, plan: Plan) -> Decision:
        self.stats.denied += 1
        self.stats.closed_denials += 1
        return unavailable(plan, max(1, math.ceil(self._stores.open_remaining_s())))

    def _count(self, decision: Decision) -> None:
        if decision.verdict == "downgrade":
            self.stats.downgraded += 1
        elif decision.verdict == "warn":
            self.stats.warned += 1

    # ---- the stores ---------------------------------------------------------------------------

    def _reserve_local(self, plan: Plan, amounts: Sequence[int], now: float) -> tuple[Held, ReserveResult]:
        """Reserve ``amounts`` on ``plan`` in the local store (no other store: no await on the way)."""
        res_id = f"{self._id_prefix}{next(self._ids):x}"
        result = self._stores.local.reserve_now(res_id, plan.refs, amounts, now, now + self._hold_s)
        return Held(res_id, plan, amounts, "ok", result.uses), result

    async def _reserve(self, plan: Plan, amounts: Sequence[int], now: float) -> tuple[Held | None, ReserveResult]:
        """Reserve ``amounts`` on ``plan``; (None, _) when the store is down and a limit fails closed."""
        if self._local_only:
            return self._reserve_local(plan, amounts, now)
        res_id = f"{self._id_prefix}{next(self._ids):x}"
        fail_closed = self._fail_closed and any(limit.fail_closed for limit in plan.limits)
        where, result = await self._stores.reserve(res_id, plan.refs, amounts, fail_closed, now, now + self._hold_s)
        return (None if where is None else Held(res_id, plan, amounts, where, result.uses)), result

    async def _reserve_on(
        self,
        request: BudgetRequest,
        target: TargetInfo,
        *,
        counted: bool,
        units: tuple[int, int, int] | None = None,
        counted_on: frozenset[str] = frozenset(),
    ) -> Held | None:
        """One more reservation of ``request``, on ``target`` (a fallback's, a hedge's second call), the
        settlements waiting in this pod applied first (on a shared store, in the same script call: a
        fallback is checked against what its request's earlier calls cost, not their estimates). No request
        held if ``counted``, nor on the ``requests`` counters keyed in ``counted_on`` (it counts there
        already). ``units``: what to hold (default: the estimate on ``target``). None: refused."""
        now = self._clock()
        plan = self._planner.plan(request, target, now)
        usd, tokens, requests = units if units is not None else self._units(request, target)
        amounts: Sequence[int] = plan.pick((usd, tokens, 0 if counted else requests))
        if counted_on:
            amounts = uncounted(plan, amounts, counted_on)[0]
        held, result = await self._reserve(plan, amounts, now)
        return None if held is None or result.refused >= 0 else held

    def _tab(self, held: Held, plan: Plan | None = None) -> Held:
        """A reservation of nothing on ``held``'s counters (or ``plan``'s), in its store, never made:
        settling it charges its actual units to them directly (an ensemble's calls, when what they hold
        could not be reserved again, or a call's cost where nothing is held for it)."""
        res_id = f"{self._id_prefix}{next(self._ids):x}"
        plan = plan if plan is not None else held.plan
        return Held(res_id, plan, [0] * len(plan.refs), held.store)

    async def _finish(self, held: Held, actual: Sequence[int]) -> None:
        plan = held.plan
        if self._local_only:
            self._stores.local.settle_now(held.res_id, plan.refs, actual)
            return
        done_until = self._clock() + self._grace
        await self._stores.settle(str(held.res_id), held.store, plan.refs, held.amounts, actual, done_until)

    def _finish_soon(self, held: Held, actual: Sequence[int]) -> None:
        """``_finish`` without waiting (``GuardedStore.settle_soon``)."""
        plan = held.plan
        if self._local_only:
            self._stores.local.settle_now(held.res_id, plan.refs, actual)
            return
        done_until = self._clock() + self._grace
        self._stores.settle_soon(str(held.res_id), held.store, plan.refs, held.amounts, actual, done_until)

    # ---- visibility and lifecycle -------------------------------------------------------------

    async def status(self) -> list[dict[str, object]]:
        """Every tracked counter with its use read now (the shared store when it answers, else local)."""
        now = self._clock()
        rows = self.tracker.rows(now, self._planner.clocks)
        uses, source = await self._stores.read([row.ref for row in rows], now)
        return [row.as_dict(used, now, source) for row, used in zip(rows, uses, strict=True)]

    def gauges(self) -> list[Gauge]:
        """Per limit and label (named values, "other"): use as last seen by this pod; no I/O."""
        now = self._clock()
        if self._local_only:  # the fast path leaves the last-seen uses alone: read the counters
            local = self._stores.local
            return self.tracker.gauges(now, lambda ref: local.read_now((ref,), now)[0])
        return self.tracker.gauges(now)

    async def sync_clock(self) -> None:
        """Measure the pod's clock against the shared store's again (its windows follow the store's
        clock: ``server_clock``); a store that does not answer keeps the last offset. Never raises."""
        if self._shared is not None:
            try:
                await self._shared.sync_clock()
            except Exception as exc:  # the pod's last measured offset serves meanwhile
                log.debug("budget store clock not measured: %s", exc)

    async def flush(self) -> None:
        """Send settlements queued during a store outage now (the background task does it every 0.5 s)."""
        await self._stores.flush()

    async def close(self, drain_s: float = 5.0) -> None:
        """Wait for settlements in flight, flush the queue (for up to ``drain_s`` while the store is
        down), close the shared store."""
        await self._stores.close(drain_s)


def _names(chain: Sequence[TargetInfo]) -> tuple[str, ...]:
    """The models of ``chain``, in order (a decision's ``targets``)."""
    return (chain[0].model,) if len(chain) == 1 else tuple([target.model for target in chain])
