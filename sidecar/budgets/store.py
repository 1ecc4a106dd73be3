"""Where counters live, and the three atomic operations every store performs the same way.

A *counter* is one (limit, scope value, window) and lives under its own key, which names the window's
start: a new window is a new key, never an old one reset. Each counter has

    used   settled units (actual costs of finished calls)
    held   units reserved by calls in flight, each hold with its own expiry (``hold_until``)

and its use is ``used + held``. The operations (``Store``):

- ``reserve(res_id, counters, amounts, now, hold_until)``: first drop the holds that expired by ``now``
  (a killed pod's reservations vanish by themselves; the shared store uses its own clock, the one all
  pods share, and keeps a hold ``hold_until - now`` seconds by it), then, all or nothing: if some counter with a cap
  would pass it (``used + held + amount > cap``), refuse and change nothing; else add every amount as
  a hold. Returns the uses (after the reservation, or as found when refused) and the refusing index.
- ``settle(res_id, counters, reserved, actual, done_until)``: drop this reservation's holds (if they
  have not expired already) and add the actual units to ``used``. Idempotent per ``res_id`` (a retried
  settlement after a lost reply counts once). Release is a settlement of zeros.
- ``read(counters, now)``: the uses, expired holds dropped.

``reserve`` may carry settlements (``Settlement``) applied first, atomically with it, and
``settle_many`` applies several at once: the shared store's one round trip does both (``guard``).

``LocalStore`` is the in-process store (the default; its plain admissions take their reservations from
a plan's lease, ``take`` and ``sidecar.budgets.lease``, given back before anything reads or judges the
counters); ``sidecar.budgets.redis_store.RedisStore`` does the same in Redis with one server-side
script per operation. A store raises ``StoreError`` (and only
that) when it cannot answer; the ledger decides what follows (``on_store_error``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from .lease import Lease, give_back, settle_hold, top_up

NO_CAP = -1
KEY_GRACE_S = 60
"""A counter outlives its window by the reservation TTL plus this, so late settlements still land."""


class StoreError(Exception):
    """The store could not perform an operation (unreachable, timed out, refused the script)."""


@dataclass(frozen=True, slots=True)
class CounterRef:
    """One counter of one window: its key, when the store may forget it, and its cap (``NO_CAP``: none)."""

    key: str
    expires_at: int
    cap: int


class ReserveResult(NamedTuple):
    """``refused``: index of the counter that refused, or -1. ``uses``: used + held per counter."""

    refused: int
    uses: tuple[int, ...]


@dataclass(slots=True)
class Settlement:
    """One ``settle`` as data: queued, carried by a later call, or retried."""

    res_id: str
    refs: Sequence[CounterRef]
    reserved: Sequence[int]
    actual: Sequence[int]
    done_until: float


class Store(Protocol):
    remote: bool

    async def reserve(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        amounts: Sequence[int],
        now: float,
        hold_until: float,
        carried: Sequence[Settlement] = (),
    ) -> ReserveResult:
        """``carried``: settlements to apply first, in the same atomic operation (the shared store: the
        same round trip)."""
        ...

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """Every settlement of ``settlements`` in one atomic operation (one round trip)."""
        ...

    async def settle(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        reserved: Sequence[int],
        actual: Sequence[int],
        done_until: float,
    ) -> None: ...

    async def read(self, counters: Sequence[CounterRef], now: float) -> tuple[int, ...]: ...

    async def sync_clock(self) -> None:
        """Measure again how far the pod's clock is from the store's (``server_clock``; raises
        ``StoreError``): the shared store's windows follow its clock, not each pod's."""
        ...

    async def close(self) -> None: ...


class LocalCounter:
    """One counter of the local store: its ``use``, used + held in one number (the local store never
    needs them apart: a settlement adds ``actual - reserved``, an expired hold subtracts its amount)."""

    __slots__ = ("expires_at", "use")

    def __init__(self, expires_at: int) -> None:
        self.use = 0
        self.expires_at = expires_at


_Hold = tuple[Sequence[LocalCounter] | Lease, Sequence[int] | None, Sequence[int], float]
"""One reservation: its counters, where each one's amount is in its units, the units, and its expiry (a
plain tuple: the cheapest). The general path's units are the per-counter amounts (``_IDENTITY`` places);
the fast path's the (usd, tokens, requests) triple with the plan's measure indices (``hold``), or, taken
from a lease (``take``), the lease and None."""

_NOTHING = (0, 0, 0)

_IDENTITY = tuple(range(64))
"""Places 0, 1, 2...: a reservation whose units are already one amount per counter (``reserve_now``)."""


class LocalStore:
    """Counters in this process. The sync methods are the fast path; the async ones satisfy ``Store``.

    The holds are kept per reservation (one entry each, whatever its number of counters), in insertion
    order, which is expiry order because every hold of one store gets the same TTL (a wall-clock step
    back, or a reload that shortens the TTL, only delays a purge). Counters whose window (plus grace) is
    over are swept at most every ``sweep_every_s`` seconds of the clock passed in, so memory holds the
    live windows only.
    """

    remote = False

    def __init__(self, sweep_every_s: float = 10.0) -> None:
        self._counters: dict[str, LocalCounter] = {}
        self._holds: dict[Hashable, _Hold] = {}  # by reservation id: a string, or an int (``hold``)
        self._sweep_every_s = sweep_every_s
        self._next_sweep = 0.0
        self._purge_at = math.inf
        """No hold expires before this (the earliest expiry of a live hold, or earlier): the fast path's
        one comparison instead of a look at the oldest hold."""
        self.generation = 0
        """Moves whenever counters are forgotten (swept, cleared): a holder of ``cells`` resolves again."""
        self._leases: set[Lease] = set()
        """The leases whose room may be counted in the counters (``sidecar.budgets.lease``)."""

    def __len__(self) -> int:
        return len(self._counters)

    def reserve_now(
        self, res_id: str, counters: Sequence[CounterRef], amounts: Sequence[int], now: float, hold_until: float
    ) -> ReserveResult:
        if now >= self._next_sweep:
            self._sweep(now)
        if now >= self._purge_at:
            self._purge(now)
        if self._leases:  # a decision on the counters: on the true use, without the leases' room
            self.give_back_leases()
        table = self._counters
        found: list[LocalCounter] = []
        uses: list[int] = []
        refused = -1
        for ref, amount in zip(counters, amounts, strict=True):
            counter = table.get(ref.key)
            if counter is None:
                counter = table[ref.key] = LocalCounter(ref.expires_at)
            use = counter.use
            if refused < 0 and ref.cap >= 0 and use + amount > ref.cap:
                refused = len(found)
            found.append(counter)
            uses.append(use)
        if refused >= 0:
            return ReserveResult(refused, tuple(uses))
        for i, counter in enumerate(found):
            amount = amounts[i]
            counter.use += amount
            uses[i] += amount
        self._holds[res_id] = (found, _places(len(found)), amounts, hold_until)
        if hold_until < self._purge_at:
            self._purge_at = hold_until
        return ReserveResult(-1, tuple(uses))

    def cells(self, counters: Sequence[CounterRef]) -> list[LocalCounter]:
        """The counters of ``counters`` (created when new), for ``hold``. A caller may keep them while
        ``generation`` stays the same (the sweep forgets a counter only after its window and grace, so
        in practice until their window is over; a wall clock stepped back past a window is the exception)."""
        table = self._counters
        found = []
        for ref in counters:
            counter = table.get(ref.key)
            if counter is None:
                counter = table[ref.key] = LocalCounter(ref.expires_at)
            found.append(counter)
        return found

    def hold(
        self,
        res_id: Hashable,
        cells: Sequence[LocalCounter],
        measures: Sequence[int],
        units: Sequence[int],
        stop_at: Sequence[int],
        now: float,
        hold_until: float,
    ) -> bool:
        """``reserve_now`` over counters already resolved (``cells``), for the fast path: counter ``i``
        takes ``units[measures[i]]`` (``units``: the (usd, tokens, requests) triple of ``pricing``).
        Holds them and returns True, or changes nothing and returns False when some counter's use would
        pass its ``stop_at`` (a cap, or the level where a limit flags: the caller then takes the general
        path, ``reserve_now``)."""
        if now >= self._purge_at:
            self._purge(now)
        if now >= self._next_sweep:
            self._sweep(now)
        for cell, measure, stop in zip(cells, measures, stop_at, strict=True):
            use = cell.use + units[measure]
            if use > stop:
                for undo, undo_measure in zip(cells, measures, strict=False):
                    if undo is cell:
                        return False
                    undo.use -= units[undo_measure]
            cell.use = use
        self._holds[res_id] = (cells, measures, units, hold_until)
        if hold_until < self._purge_at:
            self._purge_at = hold_until
        return True

    def take(self, res_id: Hashable, lease: Lease, units: Sequence[int], now: float, hold_until: float) -> bool:
        """``hold`` from a lease (``sidecar.budgets.lease``): ``units`` (the (usd, tokens, requests)
        triple) taken from the lease's room, topped up on its counters when short. False: the room could
        not be taken (some counter near its ``stop_at``): nothing held, the lease given back (the caller
        then holds per counter, ``hold``)."""
        if now >= self._purge_at:
            self._purge(now)
        if now >= self._next_sweep:
            self._sweep(now)
        room = lease.room
        usd, tokens, requests = units
        if not lease.live or usd > room[0] or tokens > room[1] or requests > room[2]:
            if lease.live:
                give_back(lease)
            if not top_up(lease, units):
                return False
            self._leases.add(lease)
        room[0] -= usd
        room[1] -= tokens
        room[2] -= requests
        self._holds[res_id] = (lease, None, units, hold_until)
        if hold_until < self._purge_at:
            self._purge_at = hold_until
        return True

    def give_back_leases(self) -> None:
        """Every live lease's room back to the counters: they hold the true use (settled + held)."""
        for lease in self._leases:
            if lease.live:
                give_back(lease)
        self._leases.clear()

    def settle_held(self, res_id: Hashable, units: Sequence[int]) -> bool:
        """Settle a reservation of ``hold`` with the actual ``units`` (the same triple form) in place of
        those held. False: it is no longer held (expired, or settled already): nothing changed."""
        hold = self._holds.pop(res_id, None)
        if hold is None:
            return False
        cells, measures, held, _ = hold
        if measures is None:  # taken from a lease
            settle_hold(cells, held, units)  # type: ignore[arg-type]
            return True
        for cell, measure in zip(cells, measures, strict=True):  # type: ignore[arg-type]
            cell.use += units[measure] - held[measure]
        return True

    def settle_now(self, res_id: Hashable, counters: Sequence[CounterRef], actual: Sequence[int]) -> None:
        """Settle reservation ``res_id`` with ``actual``, one amount per counter of ``counters``."""
        hold = self._holds.pop(res_id, None)
        if hold is not None:
            cells, measures, held, _ = hold
            if measures is None:  # taken from a lease: the counters directly (the room stays as it is)
                lease: Lease = cells  # type: ignore[assignment]
                cells, measures = lease.cells, lease.measures
            for i, cell in enumerate(cells):  # type: ignore[arg-type]
                cell.use += actual[i] - held[measures[i]]
            return
        table = self._counters  # no live hold (expired, or a fallback charge): the use alone
        for i, ref in enumerate(counters):
            found = table.get(ref.key)
            if found is None:
                if not actual[i]:
                    continue
                found = table[ref.key] = LocalCounter(ref.expires_at)
            found.use += actual[i]

    def read_now(self, counters: Sequence[CounterRef], now: float) -> tuple[int, ...]:
        if now >= self._purge_at:
            self._purge(now)
        if self._leases:
            self.give_back_leases()
        uses = []
        for ref in counters:
            counter = self._counters.get(ref.key)
            uses.append(0 if counter is None else counter.use)
        return tuple(uses)

    async def reserve(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        amounts: Sequence[int],
        now: float,
        hold_until: float,
        carried: Sequence[Settlement] = (),
    ) -> ReserveResult:
        for op in carried:
            self.settle_now(op.res_id, op.refs, op.actual)
        return self.reserve_now(res_id, counters, amounts, now, hold_until)

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        for op in settlements:
            self.settle_now(op.res_id, op.refs, op.actual)

    async def settle(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        reserved: Sequence[int],
        actual: Sequence[int],
        done_until: float,
    ) -> None:
        self.settle_now(res_id, counters, actual)

    async def read(self, counters: Sequence[CounterRef], now: float) -> tuple[int, ...]:
        return self.read_now(counters, now)

    async def sync_clock(self) -> None:
        """One pod, one clock: nothing to agree on."""

    async def close(self) -> None:
        self._leases.clear()
        self._counters.clear()
        self._holds.clear()
        self._purge_at = math.inf
        self.generation += 1

    def _purge(self, now: float) -> None:
        """Drop the holds that expired by ``now`` (the oldest first; stop at the first live one)."""
        holds = self._holds
        while holds:
            res_id = next(iter(holds))
            found, measures, units, until = holds[res_id]
            if until > now:
                self._purge_at = until
                return
            del holds[res_id]
            if measures is None:  # taken from a lease
                settle_hold(found, units, _NOTHING)  # type: ignore[arg-type]
                continue
            for counter, measure in zip(found, measures, strict=False):  # type: ignore[arg-type]
                counter.use -= units[measure]
        self._purge_at = math.inf

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_every_s
        if self._leases:  # the room of a plan no longer used stays at most until the next sweep
            self.give_back_leases()
        stale = [key for key, counter in self._counters.items() if counter.expires_at <= now]
        if stale:
            self.generation += 1
        for key in stale:
            del self._counters[key]


def _places(count: int) -> Sequence[int]:
    """The places 0..count-1 (a reservation whose units are one amount per counter)."""
    return _IDENTITY if count <= len(_IDENTITY) else range(count)
