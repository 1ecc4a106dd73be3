"""One request's side of the budgets: its decision and its reservation until settled or released.

``Ledger.admit`` (and ``admit_plain``) return an ``Admission``; the request path then calls

    await admission.switch(target)   the fallback loop moves to another target (False: refused there)
    await admission.settle(usage)    the answer ended (None: charge the estimate)
    await admission.release()        nothing billable happened
    admission.charge(usage) / drop() the same without a coroutine (local store: done at once; a shared
                                     one: carried by the next admission's round trip)
    admission.charge_plain(usage, lane)  the common end of a plain admission: an answer from the lane's
                                     first target with nothing else billed, priced with the lane's prices

The first settlement or release counts; later ones are no-ops (``finally: await admission.release()``
is always safe). A plain admission (``PlainAdmission``, from ``Ledger.admit_plain``) keeps its
reservation as three fields and settles through ``LocalStore.settle_held``; any other end builds the
general form (``Held``) first.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sidecar.translate import Usage

from .decision import Decision, StoreUse
from .plans import Plan
from .pricing import NANO_USD, actual_units

if TYPE_CHECKING:
    from .compiled import BudgetRequest, TargetInfo
    from .lane import Lane
    from .ledger import Ledger


@dataclass(slots=True)
class Held:
    """A reservation: its id, its counters and amounts, where (``store``), and the uses the store answered.
    ``quick``: made by ``admit_plain`` (``LocalStore.take`` or ``hold``): its amounts are the (usd, tokens,
    requests) triple, one amount per measure, and it settles by ``LocalStore.settle_held``."""

    res_id: Hashable  # an int on the local store alone (``admit_plain``), else a string
    plan: Plan
    amounts: Sequence[int]
    store: StoreUse
    uses: tuple[int, ...] = field(default=())
    quick: bool = False

    def per_counter(self) -> Sequence[int]:
        """The amounts, one per counter of the plan."""
        return self.plan.pick(self.amounts) if self.quick else self.amounts  # type: ignore[arg-type]


class Admission:
    """The budget side of one request (see the module docstring)."""

    __slots__ = ("_held", "_ledger", "_request", "decision", "reserved")

    def __init__(self, ledger: Ledger, request: BudgetRequest | None, decision: Decision, held: Held | None) -> None:
        self._ledger = ledger
        self._request = request
        self.decision = decision
        self._held = held
        self.reserved = held is not None
        """Whether admission reserved (still True once settled)."""

    def _hold(self) -> Held | None:
        """The reservation not yet settled or released (left in place)."""
        return self._held

    async def switch(self, target: TargetInfo) -> bool:
        """Move the reservation to ``target`` (a fallback). False: refused there; the old one stays."""
        held = self._hold()
        if held is None or held.plan.target == target:
            return held is not None or self.decision.verdict != "deny"
        if self._request is None:  # a plain admission made without one: its chain has one target only
            return True
        moved = await self._ledger._switch(self._request, held, target)
        if moved is None:
            return False
        self._held = moved
        return True

    async def settle(
        self, usage: Usage | None, served: TargetInfo | None = None, *, unserved: tuple[float, int] = (0.0, 0)
    ) -> None:
        """The answer ended: charge ``usage`` (None: charge the estimate) instead of the reservation,
        priced as ``served`` (the target that answered, when not the one reserved for: a hedge's), plus
        ``unserved``: the dollars and tokens of the request's calls whose answer the caller did not get
        (an ensemble's other members and judge, answers a quality gate rejected). Done when the store
        has it (``charge``: without waiting)."""
        held, self._held = self._hold(), None
        if held is not None:
            await self._ledger._finish(held, self._actual(held, usage, served, unserved))

    def charge(
        self, usage: Usage | None, served: TargetInfo | None = None, *, unserved: tuple[float, int] = (0.0, 0)
    ) -> None:
        """``settle`` without a coroutine: done at once on the local store; on the shared one queued for
        the next reservation's round trip (``GuardedStore.settle_soon``)."""
        held, self._held = self._hold(), None
        if held is None:
            return
        ledger = self._ledger
        if held.quick:  # the fast path's: settled in the (usd, tokens, requests) form, no per-counter list
            plan = held.plan
            if usage is None:
                units: Sequence[int] = held.amounts
            else:
                units = actual_units((served or plan.target).price, usage)
            if unserved != (0.0, 0):
                units = (units[0] + round(unserved[0] * NANO_USD), units[1] + unserved[1], units[2])
            local = ledger._stores.local
            if not local.settle_held(held.res_id, units):  # expired meanwhile: the use alone
                local.settle_now(held.res_id, plan.refs, plan.pick(units))  # type: ignore[arg-type]
            return
        actual = self._actual(held, usage, served, unserved)
        if ledger._local_only:
            ledger._stores.local.settle_now(held.res_id, held.plan.refs, actual)
        else:
            ledger._finish_soon(held, actual)

    def charge_plain(self, usage: Usage, lane: Lane) -> None:
        """``charge(usage)`` of an answer from the lane's first target, with nothing unserved: priced
        with the lane's prices read once (``Lane.used``)."""
        self.charge(usage, lane.target)

    def drop(self) -> None:
        """``release`` without a coroutine (as ``charge``)."""
        held, self._held = self._hold(), None
        if held is not None:
            self._ledger._finish_soon(held, [0] * len(held.plan.refs))

    async def release(self) -> None:
        """Nothing billable happened: drop the reservation (done when the store has it)."""
        held, self._held = self._hold(), None
        if held is not None:
            await self._ledger._finish(held, [0] * len(held.plan.refs))

    @staticmethod
    def _actual(
        held: Held, usage: Usage | None, served: TargetInfo | None, unserved: tuple[float, int]
    ) -> Sequence[int]:
        plan = held.plan
        if usage is None:
            actual: Sequence[int] = held.per_counter()
        else:
            actual = plan.pick(actual_units((served or plan.target).price, usage))
        if unserved != (0.0, 0):
            extra = (round(unserved[0] * NANO_USD), unserved[1], 0)
            actual = [amount + extra[lim.measure_index] for amount, lim in zip(actual, plan.limits, strict=False)]
        return actual


class PlainAdmission(Admission):
    """An admission of ``Ledger.admit_plain``: the plain "allow", its reservation on the local store as
    its id, plan and (usd, tokens, requests) units. ``charge_plain`` settles it as it is; every other
    end makes the general form (``Held``) first."""

    __slots__ = ("_plan", "_res_id", "_units")

    def __init__(
        self,
        ledger: Ledger,
        request: BudgetRequest | None,
        decision: Decision,
        res_id: int,
        plan: Plan,
        units: tuple[int, int, int],
    ) -> None:
        self._ledger = ledger
        self._request = request
        self.decision = decision
        self._held = None
        self.reserved = True
        self._res_id: int | None = res_id
        self._plan = plan
        self._units = units

    def _hold(self) -> Held | None:
        res_id = self._res_id
        if res_id is not None:
            self._res_id = None
            self._held = Held(res_id, self._plan, self._units, "ok", (), True)
        return self._held

    def charge_plain(self, usage: Usage, lane: Lane) -> None:
        res_id = self._res_id
        if res_id is None:
            self.charge(usage, lane.target)
            return
        self._res_id = None
        units = lane.used(usage)
        local = self._ledger._stores.local
        if not local.settle_held(res_id, units):  # expired meanwhile: the use alone
            local.settle_now(res_id, self._plan.refs, self._plan.pick(units))
