"""The ledger: admission (check + reserve), settlement and release, over a local or shared store.

The request path, after routing, calls ``admission = await ledger.admit(request, chain)`` and reads
``admission.decision`` (``sidecar.budgets.decision``). Admission walks the chain:

    for each target: counters = request limits (app, route, header, key, global) + that target's quotas
        reserve the estimate on all of them at once (one store call, all or nothing)
        refused by a model/provider quota -> skip the target, try the next
        refused by a request limit        -> deny
        reserved -> judge the uses: a downgrade limit (or soft threshold) passed -> release, and admit
                    again on its downgrade_to list (no second downgrade); warn -> flag; else allow
    every target skipped -> deny (Retry-After: the earliest quota reset)

The caller then serves ``decision.targets`` and, when its fallback loop moves to another target,
``await admission.switch(target)`` (False: that target's quota or the budget refuses it: skip it).
When the answer ends it calls ``await admission.settle(usage)`` (streams and cancels: the usage seen so
far; ``settle(None)`` charges the estimate when nothing is known), or ``await admission.release()`` when
nothing billable happened. The first of the two counts; later calls are no-ops, so ``finally:
await admission.release()`` is always safe. Settlement runs in a task the caller's cancellation cannot
interrupt (``asyncio.shield``).

The shared store sits behind a breaker (``sidecar.resilience.breaker``) and a timeout. When it fails:
limits with ``on_store_error: closed`` deny (429, "cannot be checked"); otherwise counting goes on in
this pod's local store (``decision.store == "fallback"``, ``stats.fallback_reservations``), and the
settlement is queued to be charged to the shared store when it answers again (``stats.pending``). A
reservation the shared store may have made before its reply was lost is queued for release.

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
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields

from sidecar.resilience.breaker import BreakerConfig, CircuitBreaker
from sidecar.translate import Usage

from .compiled import BudgetRequest, Budgets, Limit, TargetInfo
from .decision import Decision, LimitState, StoreUse, Verdict, deny_message, retry_after
from .pricing import actual_units, estimate_units
from .spec import Action
from .store import KEY_GRACE_S, CounterRef, LocalStore, ReserveResult, Store, StoreError
from .visibility import Tracker
from .windows import WindowClock

log = logging.getLogger(__name__)

_MAX_PENDING = 10_000
_FLUSH_EVERY_S = 0.5


@dataclass
class LedgerStats:
    """Counters for metrics (monotonic, except ``pending``)."""

    admissions: int = 0
    denied: int = 0
    downgraded: int = 0
    warned: int = 0
    skipped_targets: int = 0
    store_errors: int = 0
    fallback_reservations: int = 0
    closed_denials: int = 0
    pending: int = 0
    settlements_dropped: int = 0
    internal_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class _Plan:
    """One reservation: the target, and per counter its limit, scope value, ref and amount."""

    target: TargetInfo
    limits: list[Limit]
    values: list[str]
    refs: list[CounterRef]
    amounts: list[int]
    resets: list[int]


@dataclass(slots=True)
class _Settle:
    res_id: str
    refs: list[CounterRef]
    reserved: list[int]
    actual: list[int]
    done_until: float


@dataclass(slots=True)
class _Held:
    """A reservation in a store (``store is None``: nothing held)."""

    res_id: str
    plan: _Plan
    store: StoreUse
    uses: tuple[int, ...] = field(default=())


class Admission:
    """The budget side of one request: its decision and its reservation until settled or released."""

    __slots__ = ("_held", "_ledger", "_request", "decision")

    def __init__(self, ledger: Ledger, request: BudgetRequest, decision: Decision, held: _Held | None) -> None:
        self._ledger = ledger
        self._request = request
        self.decision = decision
        self._held = held

    @property
    def reserved(self) -> bool:
        return self._held is not None

    async def switch(self, target: TargetInfo) -> bool:
        """Move the reservation to ``target`` (a fallback). False: refused there; the old one stays."""
        held = self._held
        if held is None or held.plan.target == target:
            return held is not None or self.decision.verdict != "deny"
        moved = await self._ledger._switch(self._request, held, target)
        if moved is None:
            return False
        self._held = moved
        return True

    async def settle(self, usage: Usage | None) -> None:
        """The answer ended: charge ``usage`` (None: charge the estimate) instead of the reservation."""
        held, self._held = self._held, None
        if held is not None:
            plan = held.plan
            if usage is None:
                actual = plan.amounts
            else:
                units = actual_units(plan.target.price, usage)
                actual = [limit.amount_of(*units) for limit in plan.limits]
            await self._ledger._finish(held, actual)

    async def release(self) -> None:
        """Nothing billable happened: drop the reservation."""
        held, self._held = self._held, None
        if held is not None:
            await self._ledger._finish(held, [0] * len(held.plan.amounts))


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
        self._local = LocalStore()
        self._shared = shared
        breaker = budgets.store.breaker
        config = BreakerConfig(
            window_size=2 * breaker.failures,
            minimum_calls=breaker.failures,
            open_duration_s=breaker.open_s,
            open_duration_max_s=breaker.open_max_s,
            probe_timeout_s=max(1.0, budgets.store.timeout_ms / 250),
        )
        self._breaker = CircuitBreaker("budget-store", config, clock=monotonic)
        self._ids = itertools.count()
        self._id_prefix = os.urandom(6).hex()
        self._pending: deque[_Settle] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.update(budgets)

    @property
    def budgets(self) -> Budgets:
        return self._budgets

    def update(self, budgets: Budgets) -> None:
        """A new policy: new limits and windows; counters (local and shared) carry on under the same keys."""
        self._budgets = budgets
        self._clocks = [WindowClock(limit.window) for limit in budgets.limits]
        self._hold_s = budgets.reservation_ttl_s
        self._grace = int(budgets.reservation_ttl_s) + KEY_GRACE_S
        self.tracker = Tracker(budgets)

    # ---- admission ----------------------------------------------------------------------------

    async def admit(self, request: BudgetRequest, chain: Sequence[TargetInfo]) -> Admission:
        """Check and reserve ``request`` on ``chain`` (the route's targets, in order)."""
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
        budgets = self._budgets
        names = tuple(target.model for target in chain)
        if not budgets.limits or not chain:
            verdict: Verdict = "downgrade" if downgraded_by is not None else "allow"
            return Admission(self, request, Decision(verdict, downgraded_by, names), None)
        now = self._clock()
        skipped: list[tuple[LimitState, int, str]] = []
        for position, target in enumerate(chain):
            plan = self._plan(request, target, now)
            held, result = await self._reserve(plan, now)
            if held is None:
                return Admission(self, request, self._unavailable(plan, now), None)
            at = result.refused
            if at >= 0:
                limit = plan.limits[at]
                state = LimitState(limit, plan.values[at], result.uses[at], plan.resets[at])
                if limit.is_target_limit:
                    skipped.append((state, plan.amounts[at], target.model))
                    self.stats.skipped_targets += 1
                    continue
                return Admission(self, request, self._deny(state, plan.amounts[at], now, held.store), None)
            decision = self._judge(held, names[position:], skipped, downgraded_by)
            if decision.verdict == "downgrade" and downgraded_by is None and decision.acted is not None:
                await self._finish(held, [0] * len(plan.amounts))
                targets = self._downgrade_targets(decision.acted)
                return await self._admit(request, [budgets.target(name) for name in targets], decision.acted)
            self._count(decision)
            return Admission(self, request, decision, held)
        state, requested, _ = min(skipped, key=lambda entry: entry[0].resets_at)
        decision = self._deny(state, requested, now, "ok")
        flags = tuple(entry[0] for entry in skipped)
        message = f"every target is over its quota; {decision.message}"
        denied = Decision(
            "deny", state, flags=flags, status=429, retry_after_s=decision.retry_after_s, message=message, skipped=names
        )
        return Admission(self, request, denied, None)

    def _plan(self, request: BudgetRequest, target: TargetInfo, now: float) -> _Plan:
        budgets = self._budgets
        output = request.max_output_tokens or target.max_output_tokens or budgets.default_max_output_tokens
        units = estimate_units(target.price, request.input_tokens, output)
        plan = _Plan(target, [], [], [], [], [])
        for group in (budgets.request_limits, budgets.target_limits):
            for limit in group:
                value = limit.scope_value(request, target)
                if value is None:
                    continue
                start, end = self._clocks[limit.index].at(now)
                plan.limits.append(limit)
                plan.values.append(value)
                plan.refs.append(self.tracker.ref(limit, value, start, end))
                plan.amounts.append(limit.amount_of(*units))
                plan.resets.append(end)
        return plan

    def _judge(
        self,
        held: _Held,
        targets: tuple[str, ...],
        skipped: list[tuple[LimitState, int, str]],
        downgraded_by: LimitState | None,
    ) -> Decision:
        plan, uses = held.plan, held.uses
        flags: list[LimitState] = []
        for i, limit in enumerate(plan.limits):
            used = uses[i]
            self.tracker.saw(limit, plan.values[i], used)
            if used > limit.units and limit.action is not Action.DENY:
                flags.append(LimitState(limit, plan.values[i], used, plan.resets[i]))
            elif limit.soft_units is not None and used > limit.soft_units:
                flags.append(LimitState(limit, plan.values[i], used, plan.resets[i], soft=True))
        tightest = self._tightest(plan, uses) if self._budgets.headers else None
        skipped_names = tuple(model for _, _, model in skipped)
        if downgraded_by is not None:
            return Decision(
                "downgrade", downgraded_by, targets, tuple(flags), tightest, held.store, skipped=skipped_names
            )
        acted = next((s for s in flags if _action(s) is Action.DOWNGRADE), None)
        if acted is None:
            acted = next((s for s in flags if _action(s) is Action.WARN), None)
        verdict: Verdict = "allow" if acted is None else "downgrade" if _action(acted) is Action.DOWNGRADE else "warn"
        return Decision(verdict, acted, targets, tuple(flags), tightest, held.store, skipped=skipped_names)

    @staticmethod
    def _tightest(plan: _Plan, uses: tuple[int, ...]) -> LimitState | None:
        best, room = -1, 2.0
        for i, limit in enumerate(plan.limits):
            left = (limit.units - uses[i]) / limit.units
            if left < room:
                best, room = i, left
        if best < 0:
            return None
        return LimitState(plan.limits[best], plan.values[best], uses[best], plan.resets[best])

    @staticmethod
    def _downgrade_targets(state: LimitState) -> tuple[str, ...]:
        return state.limit.soft_downgrade_to if state.soft else state.limit.downgrade_to

    def _deny(self, state: LimitState, requested: int, now: float, store: StoreUse) -> Decision:
        self.stats.denied += 1
        message = deny_message(state, requested)
        wait = retry_after(state.resets_at, now)
        return Decision("deny", state, flags=(state,), store=store, status=429, retry_after_s=wait, message=message)

    def _unavailable(self, plan: _Plan, now: float) -> Decision:
        self.stats.denied += 1
        self.stats.closed_denials += 1
        limit = next(limit for limit in plan.limits if limit.fail_closed)
        message = (
            f"budget limit {limit.name!r} cannot be checked: the budget store is unavailable and the limit "
            "is set to on_store_error: closed; retry later"
        )
        wait = math.ceil(self._breaker.snapshot()["open_remaining_s"] or 1)
        return Decision("deny", store="unavailable", status=429, retry_after_s=wait, message=message)

    def _count(self, decision: Decision) -> None:
        if decision.verdict == "downgrade":
            self.stats.downgraded += 1
        elif decision.verdict == "warn":
            self.stats.warned += 1

    # ---- the stores ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    async def _reserve(self, plan: _Plan, now: float) -> tuple[_Held | None, ReserveResult]:
        """Reserve in the shared store, else (failing open) locally; (None, _) when a limit fails closed."""
        res_id = self._new_id()
        hold_until = now + self._hold_s
        shared = self._shared
        if shared is None:
            result = self._local.reserve_now(res_id, plan.refs, plan.amounts, now, hold_until)
            return _Held(res_id, plan, "ok", result.uses), result
        permit = self._breaker.try_acquire()
        if permit is not None:
            try:
                result = await shared.reserve(res_id, plan.refs, plan.amounts, now, hold_until)
            except StoreError as exc:
                permit.record_failure()
                self._store_failed("reserve", exc)
                self._enqueue(_Settle(res_id, plan.refs, plan.amounts, [0] * len(plan.refs), hold_until))
            except asyncio.CancelledError:
                permit.release()
                self._enqueue(_Settle(res_id, plan.refs, plan.amounts, [0] * len(plan.refs), hold_until))
                raise
            else:
                permit.record_success()
                return _Held(res_id, plan, "ok", result.uses), result
        if any(limit.fail_closed for limit in plan.limits):
            return None, ReserveResult(-1, ())
        self.stats.fallback_reservations += 1
        result = self._local.reserve_now(res_id, plan.refs, plan.amounts, now, hold_until)
        return _Held(res_id, plan, "fallback", result.uses), result

    async def _switch(self, request: BudgetRequest, held: _Held, target: TargetInfo) -> _Held | None:
        now = self._clock()
        plan = self._plan(request, target, now)
        moved, result = await self._reserve(plan, now)
        if moved is None or result.refused >= 0:
            return None
        await self._finish(held, [0] * len(held.plan.amounts))
        return moved

    async def _finish(self, held: _Held, actual: list[int]) -> None:
        plan = held.plan
        if held.store == "fallback" or self._shared is None:
            self._local.settle_now(held.res_id, plan.refs, actual)
            if held.store == "fallback" and any(actual):
                self._enqueue(_Settle(held.res_id, plan.refs, [0] * len(actual), actual, self._done_until()))
            return
        op = _Settle(held.res_id, plan.refs, plan.amounts, actual, self._done_until())
        task = asyncio.get_running_loop().create_task(self._settle_shared(op))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)

    def _done_until(self) -> float:
        return self._clock() + self._grace

    async def _settle_shared(self, op: _Settle) -> None:
        shared = self._shared
        permit = self._breaker.try_acquire()
        if shared is None or permit is None:
            self._enqueue(op)
            return
        try:
            await shared.settle(op.res_id, op.refs, op.reserved, op.actual, op.done_until)
        except StoreError as exc:
            permit.record_failure()
            self._store_failed("settle", exc)
            self._enqueue(op)
        else:
            permit.record_success()

    def _store_failed(self, operation: str, exc: StoreError) -> None:
        self.stats.store_errors += 1
        log.warning("budget store %s failed: %s", operation, exc)

    def _enqueue(self, op: _Settle) -> None:
        if len(self._pending) >= _MAX_PENDING:
            self._pending.popleft()
            self.stats.settlements_dropped += 1
        self._pending.append(op)
        self.stats.pending = len(self._pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending:
            await asyncio.sleep(_FLUSH_EVERY_S)
            await self.flush()

    async def flush(self) -> None:
        """Send queued settlements to the shared store, oldest first, until one fails."""
        shared = self._shared
        while self._pending and shared is not None:
            permit = self._breaker.try_acquire()
            if permit is None:
                return
            op = self._pending[0]
            try:
                await shared.settle(op.res_id, op.refs, op.reserved, op.actual, op.done_until)
            except StoreError as exc:
                permit.record_failure()
                self._store_failed("settle (retry)", exc)
                return
            permit.record_success()
            self._pending.popleft()
            self.stats.pending = len(self._pending)

    # ---- visibility and lifecycle -------------------------------------------------------------

    async def status(self) -> list[dict[str, object]]:
        """Every tracked counter with its use read now (the shared store when it answers, else local)."""
        now = self._clock()
        rows = self.tracker.rows(now, self._clocks)
        refs = [row.ref for row in rows]
        uses: Sequence[int] | None = None
        source = "local"
        if self._shared is not None and refs:
            try:
                uses = await self._shared.read(refs, now)
                source = "shared"
            except StoreError as exc:
                self._store_failed("read", exc)
        if uses is None:
            uses = self._local.read_now(refs, now)
        return [row.as_dict(used, now, source) for row, used in zip(rows, uses, strict=True)]

    def gauges(self) -> list[dict[str, object]]:
        """Per limit and label (named values, "other"): use as last seen by this pod; no I/O."""
        return self.tracker.gauges(self._clock())

    async def close(self) -> None:
        """Flush what can be flushed, wait for settlements in flight, close the shared store."""
        if self._flusher is not None:
            self._flusher.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        if self._shared is not None:
            await self._shared.close()


def _action(state: LimitState) -> Action | None:
    return state.limit.soft_action if state.soft else state.limit.action


def open_ledger(budgets: Budgets, *, env: Mapping[str, str] | None = None, **options: object) -> Ledger:
    """A ledger on the store the policy names (a Redis client is created only for a redis:// store)."""
    shared: Store | None = None
    if budgets.store.is_redis:
        from .redis_store import RedisStore

        shared = RedisStore(budgets.store, env=env)
    return Ledger(budgets, shared=shared, **options)  # type: ignore[arg-type]
