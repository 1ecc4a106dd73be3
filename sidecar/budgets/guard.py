"""The stores as the ledger sees them: the configured one behind a breaker, local counting when it fails.

``GuardedStore`` answers every operation, whatever happens to Redis:

    reserve  shared store (breaker permitting, bounded by its timeout), carrying the settlements
             waiting there (``settle_soon``) in the same script call
             -> StoreError or breaker open: a limit with on_store_error: closed -> None (the ledger denies)
                                            otherwise -> the local store ("fallback", counted loudly)
             A reservation whose reply was lost (error, cancel) is queued for release: it may exist;
             the settlements it carried are queued again (each counts once in the store).
    settle_soon  the request path's settlement, without waiting: the store the reservation lives in.
             Shared: kept for the next reservation to carry, or sent alone (with every other one
             waiting) ``CARRY_S`` (20 ms) later if none comes, and at ``close``. So a pod serving a
             steady flow makes one round trip per request, and a settlement is at most ~20 ms later
             than the answer (its hold is released that much later: never an overshoot; a killed pod's
             holds expire by their TTL as before). A fallback reservation settles locally and its
             use is queued as a charge to the shared store.
    settle   the same, now: the shared store's call is awaited (with what was waiting to be carried).
    read     shared when it answers, else local.

The queue (at most 10,000 settlements; the oldest is dropped and counted beyond that) is sent by a
background task every half second once the breaker lets calls through; settlements are idempotent in
the store (per reservation id), so a retry never counts twice. Shared settlements run in tasks of their
own, so a caller's cancellation cannot cut one in half (``close`` waits for them).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from sidecar.resilience.breaker import BreakerConfig, CircuitBreaker
from sidecar.telemetry.failure_log import FailureLog
from sidecar.telemetry.logging import get_logger

from .decision import StoreUse
from .spec import StoreSpec
from .store import CounterRef, LocalStore, ReserveResult, Settlement, Store, StoreError

_log = get_logger("sidecar.budgets")

MAX_PENDING = 10_000
FLUSH_EVERY_S = 0.5
CARRY_S = 0.02
"""How long a settlement waits for the next reservation to carry it before it is sent alone."""
USED_SUFFIX = "+used"
"""A fallback reservation's use, queued for the shared store, is settled under ``res_id + USED_SUFFIX``."""


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


class GuardedStore:
    """The local store, and the shared one (if any) behind a breaker, a timeout and a retry queue."""

    def __init__(
        self, shared: Store | None, spec: StoreSpec, stats: LedgerStats, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.local = LocalStore()
        self.shared = shared
        self._stats = stats
        settings = spec.breaker
        config = BreakerConfig(
            window_size=2 * settings.failures,
            minimum_calls=settings.failures,
            open_duration_s=settings.open_s,
            open_duration_max_s=settings.open_max_s,
            probe_timeout_s=max(1.0, spec.timeout_ms / 250),
        )
        self._breaker = CircuitBreaker("budget-store", config, clock=monotonic)
        self._url = spec.url  # for logs (a budgets store URL holds no credentials: the policy refuses them)
        self._failures = FailureLog("sidecar.budgets", "budget_store_failing", spec.log_interval_s, monotonic)
        self._pending: deque[Settlement] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()  # one flush at a time: two would send (and pop) the same oldest entry
        self._tasks: set[asyncio.Task[None]] = set()
        self._carry: list[Settlement] = []  # settlements for the next call to the shared store
        self._carry_timer: asyncio.TimerHandle | None = None

    def open_remaining_s(self) -> float:
        return float(self._breaker.snapshot()["open_remaining_s"] or 0.0)

    async def reserve(
        self,
        res_id: str,
        refs: Sequence[CounterRef],
        amounts: Sequence[int],
        fail_closed: bool,
        now: float,
        hold_until: float,
    ) -> tuple[StoreUse | None, ReserveResult]:
        """Where the reservation was made (None: nowhere, a limit fails closed) and the store's answer."""
        shared = self.shared
        if shared is None:
            return "ok", self.local.reserve_now(res_id, refs, amounts, now, hold_until)
        permit = self._breaker.try_acquire()
        if permit is not None:
            lost = Settlement(res_id, refs, amounts, [0] * len(refs), hold_until)
            carried = self._take_carried()
            try:
                result = await shared.reserve(res_id, refs, amounts, now, hold_until, carried)
            except StoreError as exc:
                permit.record_failure()
                self._failed("reserve", exc)
                self._requeue(carried)
                self._enqueue(lost)
            except asyncio.CancelledError:
                permit.release()
                self._requeue(carried)  # applied or not: a settlement counts once, so send it again
                self._enqueue(lost)
                raise
            else:
                permit.record_success()
                return "ok", result
        if fail_closed:
            return None, ReserveResult(-1, ())
        self._stats.fallback_reservations += 1
        return "fallback", self.local.reserve_now(res_id, refs, amounts, now, hold_until)

    def settle_soon(
        self,
        res_id: str,
        where: StoreUse,
        refs: Sequence[CounterRef],
        reserved: Sequence[int],
        actual: Sequence[int],
        done_until: float,
    ) -> None:
        """``settle`` without waiting: the shared store's settlement rides on the next reservation's
        round trip, or is sent alone after ``CARRY_S`` when no reservation comes (``close`` sends it too)."""
        if where == "fallback" or self.shared is None:
            self._settle_locally(res_id, where, refs, actual, done_until)
            return
        self._carry.append(Settlement(res_id, refs, reserved, actual, done_until))
        if self._carry_timer is None:
            self._carry_timer = asyncio.get_running_loop().call_later(CARRY_S, self._carry_due)

    async def settle(
        self,
        res_id: str,
        where: StoreUse,
        refs: Sequence[CounterRef],
        reserved: Sequence[int],
        actual: Sequence[int],
        done_until: float,
    ) -> None:
        """Settle now (with the settlements waiting to be carried): done when the store has answered."""
        if where == "fallback" or self.shared is None:
            self._settle_locally(res_id, where, refs, actual, done_until)
            return
        task = asyncio.get_running_loop().create_task(
            self._settle_shared(Settlement(res_id, refs, reserved, actual, done_until))
        )
        self._track(task)
        await asyncio.shield(task)

    async def read(self, refs: Sequence[CounterRef], now: float) -> tuple[tuple[int, ...], str]:
        """The uses, and where they were read: ``shared`` or ``local``."""
        if self.shared is not None and refs:
            try:
                return await self.shared.read(refs, now), "shared"
            except StoreError as exc:
                self._failed("read", exc)
        return self.local.read_now(refs, now), "local"

    async def flush(self) -> None:
        """Send queued settlements to the shared store, oldest first, until one fails."""
        shared = self.shared
        async with self._flushing:
            while self._pending and shared is not None:
                permit = self._breaker.try_acquire()
                if permit is None:
                    return
                op = self._pending[0]
                try:
                    await shared.settle(op.res_id, op.refs, op.reserved, op.actual, op.done_until)
                except StoreError as exc:
                    permit.record_failure()
                    self._failed("settle (retry)", exc)
                    return
                permit.record_success()
                self._pending.popleft()
                self._stats.pending = len(self._pending)

    async def close(self, drain_s: float = 5.0) -> None:
        """Send the settlements waiting to be carried, wait for settlements in flight, then keep flushing
        the queue for up to ``drain_s`` (the breaker may be open for a while), then close the shared
        store. What is still queued is left to expire."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._carry_timer is not None:
            self._carry_timer.cancel()
            self._carry_timer = None
        if self._carry:
            await self._send_carried()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        deadline = time.monotonic() + drain_s
        await self.flush()
        while self._pending and self.shared is not None and time.monotonic() < deadline:
            await asyncio.sleep(min(FLUSH_EVERY_S, max(0.0, deadline - time.monotonic())))
            await self.flush()
        if self._pending:
            _log.warning("budget_settlements_unsent", pending=len(self._pending))
        if self.shared is not None:
            await self.shared.close()

    async def _settle_shared(self, op: Settlement | None) -> None:
        """Send ``op`` and the settlements waiting to be carried in one call; queue them if it fails."""
        batch = self._take_carried()
        if op is not None:
            batch.append(op)
        shared = self.shared
        permit = self._breaker.try_acquire() if batch else None
        if shared is None or permit is None:
            self._requeue(batch)
            return
        try:
            await shared.settle_many(batch)
        except StoreError as exc:
            permit.record_failure()
            self._failed("settle", exc)
            self._requeue(batch)
        except asyncio.CancelledError:  # close() cancels nothing here, but a dying loop might
            permit.release()
            self._requeue(batch)
            raise
        else:
            permit.record_success()

    def _take_carried(self) -> list[Settlement]:
        """The settlements waiting to be carried, now on their way: the timer is off until the next one."""
        carried = self._carry
        if not carried:
            return []
        self._carry = []
        if self._carry_timer is not None:
            self._carry_timer.cancel()
            self._carry_timer = None
        return carried

    def _carry_due(self) -> None:
        """``CARRY_S`` after a settlement was queued: send what no reservation carried meanwhile."""
        self._carry_timer = None
        if self._carry:
            self._track(asyncio.get_running_loop().create_task(self._send_carried()))

    async def _send_carried(self) -> None:
        await self._settle_shared(None)

    def _settle_locally(
        self, res_id: str, where: StoreUse, refs: Sequence[CounterRef], actual: Sequence[int], done_until: float
    ) -> None:
        """A reservation made in this pod: settle it here; a fallback one's use is queued for the shared
        store, under its own id (``<res_id>+used``): the failed reservation's release is already queued
        under ``res_id``, and the store applies one settlement per id, so sharing it dropped the use."""
        self.local.settle_now(res_id, refs, actual)
        if where == "fallback" and any(actual):
            self._enqueue(Settlement(res_id + USED_SUFFIX, refs, [0] * len(actual), actual, done_until))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _requeue(self, settlements: Sequence[Settlement]) -> None:
        for op in settlements:
            self._enqueue(op)

    def _failed(self, operation: str, exc: StoreError) -> None:
        self._stats.store_errors += 1
        cause = exc.__cause__ or exc  # the Redis client's exception, which StoreError wraps
        self._failures.failed(
            store=self._url,
            operation=operation,
            error=type(cause).__name__,
            detail=str(cause)[:200] or "timed out",
            breaker=str(self._breaker.state),
        )

    def _enqueue(self, op: Settlement) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self._stats.settlements_dropped += 1
        self._pending.append(op)
        self._stats.pending = len(self._pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending:
            await asyncio.sleep(FLUSH_EVERY_S)
            await self.flush()
