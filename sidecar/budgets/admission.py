"""One request's side of the budgets: its decision and its reservation until settled or released.

``Ledger.admit`` (and ``admit_plain``) return an ``Admission``; the request path then calls

    await admission.switch(target, spent)  the fallback loop moves to another target, or calls the same
                                     one again after a billed call: the reservation
                                     settled first at what the calls so far cost beyond an answer
                                     (``spent``: calls accepted and then failed, answers a gate rejected,
                                     a hedge's cut call), then ``target`` reserved against what is left
                                     (False: refused there; nothing held until a later switch reserves)
    await admission.switch_call(i, target, spent)  the same for call ``i`` of an ensemble (a member's or the
                                     judge's fallback, retry, re-ask): that call's failures settled, then
                                     ``target`` reserved for it alone, at its own price (False: refused;
                                     these and the calls' races: ``call_moves.CallMoves``, the base class)
    await admission.hold_race(target)  a hedge's second call: held too, while both run (False: refused);
                                     in an ensemble's call ``hold_call_race``, and ``call_race_over`` at
                                     its end: each racer's cost on its own target
    admission.race_over(winner, spent)  the race ended: the other call's hold settled at its cost
    await admission.settle(usage)    the answer ended (None: charge the estimate); ``release()``: nothing billable
    admission.charge(usage) / drop() the same without a coroutine (local store: done at once; a shared
                                     one: carried by the next admission's round trip)
    admission.charge_plain(usage, lane)  the common end of a plain admission: an answer from the lane's
                                     first target with nothing else billed, priced with the lane's prices

The first settlement or release counts; later ones are no-ops (``finally: await admission.release()`` is
always safe). What a switch or a race's end charged of ``spent`` is remembered: the end's ``unserved`` (the
request's whole ``spent``) charges only the rest, so nothing counts twice; and a request counts once on each
``requests`` counter of a target one of its calls billed on (a counter that targets share, once), in
the settlement of that call's reservation (``plans.uncounted``, ``_counted_on``). An ensemble's
reservation holds every call it may make at once (``BudgetRequest.calls``), each at its own price (``calls``);
when one of them moves on (a fallback, or another call after a billed one), what it cost is settled and its
share taken out of that reservation, then its next target reserved for it alone (``CallHolds``). That
reservation is joint (``call_holds``): every call's share on its own target's counters, so the end
(``charge_calls``) settles each call's cost on the target it is held on, its share or its own hold. A
plain admission (``plain_admission.PlainAdmission``, from ``Ledger.admit_plain``) keeps its reservation
as three fields and settles through ``LocalStore.settle_held``; any other end builds the general form
(``Held``) first.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sidecar.translate import Usage

from .call_holds import CallCost, CallHolds, charge_calls
from .call_moves import CallMoves
from .decision import Decision, StoreUse
from .plans import Plan, uncounted
from .pricing import NANO_USD, actual_units

if TYPE_CHECKING:
    from .compiled import BudgetRequest, Budgets, TargetInfo
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


class Admission(CallMoves):
    """The budget side of one request (see the module docstring)."""

    __slots__ = ("_counted_on", "_owed", "_racer", "decision", "reserved")  # and ``CallMoves``' six

    def __init__(self, ledger: Ledger, request: BudgetRequest | None, decision: Decision, held: Held | None) -> None:
        self._ledger = ledger
        self._request = request
        self.decision = decision
        self._held = held
        self.reserved = held is not None
        """Whether admission reserved (still True once settled)."""
        self._racer: Held | None = None  # a hedge's second call's hold, while the race runs
        self._spent = (0, 0)  # the nano-dollars and tokens of ``spent`` already charged (switches, races)
        self._counted = False  # the request is counted in the ``requests`` measure already (a switch did)
        self._owed = False  # the held target's call billed in a race: its settlement counts the request there
        self._counted_on: frozenset[str] | None = None  # a chain's: the ``requests`` counters it is counted on
        self._calls: CallHolds | None = None  # an ensemble's calls, once one of them moved on or raced

    def _hold(self) -> Held | None:
        """The reservation not yet settled or released (left in place)."""
        return self._held

    def with_request(self, request: BudgetRequest) -> Budgets:
        """``request`` for a plain admission made without one, before a retry (``switch`` needs it); the budgets."""
        self._request = self._request or request
        return self._ledger.budgets

    async def switch(self, target: TargetInfo, spent: tuple[float, int] = (0.0, 0)) -> bool:
        """A call of ``target`` is next (a fallback, or another call of the same target: a retry, a
        gate's re-ask): first the reservation (and a race's other hold) settled at what the request's
        calls so far cost beyond an answer, ``spent`` (dollars and tokens, the request's total: what
        earlier settlements charged is not charged again), then ``target`` reserved against what is
        left. The same target with nothing spent since: the reservation stays, as it is. False: refused
        there: nothing is held until a later switch reserves again."""
        held = self._hold()
        request = self._request
        same = held is not None and held.plan.target == target
        if request is None or request.calls:  # none: a plain admission of a one-target chain; an ensemble's
            return held is not None or self.decision.verdict != "deny"  # calls move by ``switch_call``
        if same and (spent == (0.0, 0) or (round(spent[0] * NANO_USD), spent[1]) == self._spent):
            return True  # the same target, nothing charged since: the reservation holds its next call
        ledger = self._ledger
        racer, self._racer = self._racer, None
        if racer is not None:
            ledger._finish_soon(racer, [0] * len(racer.plan.refs))
        counted = self._counted_on or frozenset()
        if held is not None:  # a call billed on held's target: the request counts on its counters now
            extra = self._unspent(spent)
            count = extra != (0, 0) or (not self._counted and spent != (0.0, 0)) or self._owed
            self._owed = False
            amounts, counted = uncounted(held.plan, held.plan.pick((*extra, 1 if count else 0)), counted)
            self._counted, self._counted_on = self._counted or count, counted
            ledger._finish_soon(held, amounts)
            self._held = None
        self._held = await ledger._reserve_on(request, target, counted=False, counted_on=counted)
        return self._held is not None

    async def hold_race(self, target: TargetInfo) -> bool:
        """A hedge's second call, to ``target``, starts while the first runs: hold its estimate too, and a
        request on its ``requests`` counters the request is not held or counted on yet (its model's, its
        provider's: its prompt is sent, so it bills). False: the budget cannot hold both (nothing more
        held): the hedge is not made. An ensemble's reservation is moved instead (``switch``)."""
        request = self._request
        held = self._hold()
        if request is None or held is None or held.plan.target == target:
            return held is not None
        self._racer = await self._ledger._reserve_on(request, target, counted=False, counted_on=self._on(held))
        return self._racer is not None

    def _on(self, held: Held) -> frozenset[str]:
        """The keys of the ``requests`` counters the request is counted on (settled) or held on (``held``)."""
        return uncounted(held.plan, held.per_counter(), self._counted_on or frozenset())[1]

    def race_over(
        self, winner: TargetInfo | None, spent: tuple[float, int], billed: frozenset[str] | None = None
    ) -> None:
        """The hedged race ended, ``winner``'s result the one that counts: the other call's hold settled at
        what it cost (what ``spent`` gained since the last settlement: a cut call's prompt, a billed
        failure), and the request counted on its ``requests`` counters when it billed (not on those the
        winner's hold counts it on); ``winner``'s stays, the request's reservation from now on.
        ``billed``: the models whose calls billed during the race; the other call's among them or not
        known (None), it is charged what the race cost, else it is released and what the race cost (the
        winner's own billed failure: both calls failed) stays for the winner's hold to charge, where it
        was spent (before wave 30 a refused first call was charged, and counted, for its hedge's)."""
        racer, self._racer = self._racer, None
        held = self._hold()
        if racer is None or held is None:
            return
        hedge_won = winner is not None and racer.plan.target == winner and held.plan.target != winner
        loser, kept = (held, racer) if hedge_won else (racer, held)
        self._owed = billed is not None and kept.plan.target.model in billed  # both billed: the kept one too
        if billed is not None and loser.plan.target.model not in billed:
            self._ledger._finish_soon(loser, [0] * len(loser.plan.refs))
            self._held = racer if hedge_won else held
            return
        extra = self._unspent(spent)
        billed_now = extra != (0, 0)
        amounts = (*extra, 1 if billed_now else 0)
        if hedge_won:
            self._held = racer  # the hedge won: its hold is the request's from now on, counted where held was not
            settled, counted = uncounted(held.plan, held.plan.pick(amounts), self._counted_on or frozenset())
            self._ledger._finish_soon(held, settled)
        else:
            settled, counted = uncounted(racer.plan, racer.plan.pick(amounts), self._on(held))
            self._ledger._finish_soon(racer, settled)
            counted = (self._counted_on or frozenset()) | (counted - self._on(held))
        if billed_now:  # counted now: a later switch does not count it again on the next hold's counters
            self._counted, self._counted_on = True, counted

    def _unspent(self, spent: tuple[float, int]) -> tuple[int, int]:
        """The nano-dollars and tokens of ``spent`` (a request's total) not charged yet; now remembered charged."""
        total = (round(spent[0] * NANO_USD), spent[1])
        charged, self._spent = self._spent, total
        return total[0] - charged[0], total[1] - charged[1]

    def _close_race(self) -> None:
        """The request ended during a race (its caller left): the second call's hold released (the end's
        settlement charges what was used on the request's reservation); an ensemble's calls' own holds
        too (the end's settlement charges every call)."""
        racer, self._racer = self._racer, None
        if racer is not None:
            self._ledger._finish_soon(racer, [0] * len(racer.plan.refs))
        calls, self._calls = self._calls, None
        if calls is not None:
            for held in (*calls.own.values(), *calls.races):
                self._ledger._finish_soon(held, [0] * len(held.plan.refs))

    async def settle(
        self, usage: Usage | None, served: TargetInfo | None = None, *, unserved: tuple[float, int] = (0.0, 0)
    ) -> None:
        """The answer ended: charge ``usage`` (None: charge the estimate) instead of the reservation,
        priced as ``served`` (the target that answered, when not the one reserved for: a hedge's), plus
        ``unserved``: the dollars and tokens of the request's calls whose answer the caller did not get
        (an ensemble's other members and judge, answers a quality gate rejected), less what a switch
        already charged. Done when the store has it (``charge``: without waiting)."""
        self._close_race()
        held, self._held = self._hold(), None
        if held is not None:
            await self._ledger._finish(held, self._actual(held, usage, served, unserved))

    def charge(
        self,
        usage: Usage | None,
        served: TargetInfo | None = None,
        *,
        unserved: tuple[float, int] = (0.0, 0),
        answered: bool = True,
    ) -> None:
        """``settle`` without a coroutine: done at once on the local store; on the shared one queued for
        the next reservation's round trip (``GuardedStore.settle_soon``). ``answered`` False: the request
        ended without an answer, ``usage`` empty, after calls that billed (``unserved``): the request is
        counted on the held target's ``requests`` counters only when some of ``unserved`` is left to
        charge there (a call to it billed), never on a target whose calls were all refused (a chain's
        last target that answered 503 after an earlier target's billed failure)."""
        if self._racer is not None or self._calls is not None:
            self._close_race()
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
                extra = self._unspent(unserved)
                counts = answered or extra != (0, 0) or self._owed
                units = (units[0] + extra[0], units[1] + extra[1], units[2] if counts else 0)
            local = ledger._stores.local
            if not local.settle_held(held.res_id, units):  # expired meanwhile: the use alone
                local.settle_now(held.res_id, plan.refs, plan.pick(units))  # type: ignore[arg-type]
            return
        actual = self._actual(held, usage, served, unserved, answered)
        if ledger._local_only:
            ledger._stores.local.settle_now(held.res_id, held.plan.refs, actual)
        else:
            ledger._finish_soon(held, actual)

    def charge_plain(self, usage: Usage, lane: Lane) -> None:
        """``charge(usage)`` of an answer from the lane's first target, with nothing unserved: priced
        with the lane's prices read once (``Lane.used``)."""
        self.charge(usage, lane.target)

    def charge_calls(self, costs: Sequence[CallCost]) -> None:
        """``charge`` of an ensemble's end, call by call: each call's whole cost, on the target it is held
        on (``call_holds.charge_calls``)."""
        charge_calls(self, costs)

    def drop(self) -> None:
        """``release`` without a coroutine (as ``charge``)."""
        self._close_race()
        held, self._held = self._hold(), None
        if held is not None:
            self._ledger._finish_soon(held, [0] * len(held.plan.refs))

    async def release(self) -> None:
        """Nothing billable happened: drop the reservation (done when the store has it)."""
        self._close_race()
        held, self._held = self._hold(), None
        if held is not None:
            await self._ledger._finish(held, [0] * len(held.plan.refs))

    def _actual(
        self,
        held: Held,
        usage: Usage | None,
        served: TargetInfo | None,
        unserved: tuple[float, int],
        answered: bool = True,
    ) -> Sequence[int]:
        plan = held.plan
        extra = self._unspent(unserved) if unserved != (0.0, 0) else (0, 0)
        if usage is None:
            actual: Sequence[int] = held.per_counter()
        else:
            units = actual_units((served or plan.target).price, usage)
            if not answered and extra == (0, 0) and not self._owed:  # no answer, held's target billed nothing
                units = (units[0], units[1], 0)
            if self._counted_on is not None:  # a chain's: once on each counter of a target it billed on
                actual = uncounted(plan, plan.pick(units), self._counted_on)[0]
            else:
                actual = plan.pick((units[0], units[1], 0) if self._counted else units)
        if extra != (0, 0):
            added = (*extra, 0)
            actual = [amount + added[lim.measure_index] for amount, lim in zip(actual, plan.limits, strict=False)]
        return actual
