"""An ensemble's calls moving on in the budgets: ``Admission``'s methods for call ``i`` of a request that
makes several at once (``BudgetRequest.calls``), kept apart from the chain's and the race's
(``admission``), whose ``Admission`` has them as a base class (its slots and its other methods are its own).

    await admission.switch_call(i, target, spent)   call i's failures settled, then target reserved for it alone
    await admission.hold_call_race(i, target)       a hedge's second call in call i, held besides the rest
    admission.call_race_over(i, hedge, won, cut)    call i's race ended: each racer's cost on its own target

The joint reservation and each call's share are ``call_holds``' (``CallHolds``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from . import call_holds
from .call_holds import CallHolds, charge_on, reserve_joint, shares_of
from .joint import spread_on
from .pricing import NANO_USD

if TYPE_CHECKING:
    from .admission import Admission, Held
    from .compiled import BudgetRequest, TargetInfo
    from .ledger import Ledger


class CallMoves:
    """The ensemble calls' part of ``Admission`` (see the module docstring)."""

    __slots__ = ("_calls", "_counted", "_held", "_ledger", "_request", "_spent")  # set by ``Admission``

    _ledger: Ledger
    _request: BudgetRequest | None
    _held: Held | None
    _calls: CallHolds | None
    _spent: tuple[int, int]
    _counted: bool

    if TYPE_CHECKING:  # ``Admission``'s own

        def _hold(self) -> Held | None: ...

        async def switch(self, target: TargetInfo, spent: tuple[float, int] = (0.0, 0)) -> bool: ...

        async def hold_race(self, target: TargetInfo) -> bool: ...

    async def switch_call(self, index: int, target: TargetInfo, spent: tuple[float, int]) -> bool:
        """Call ``index`` of an ensemble (a member, the judge last) is about to call ``target``; ``spent``:
        what that call's exchange cost so far beyond an answer (its billed failures, rejected answers).
        Its first target, or another call with nothing billed since: what it holds holds it. Else what it
        cost since is charged, its share of the request's reservation taken out of it (settled, the rest
        reserved again: with Redis in the same script call as the settlement), or its own hold settled,
        and then ``target`` reserved for it alone at its own price, checked against every ``deny`` limit;
        at each move the judge's share is estimated again for ``target``'s answer (``judge_share``), and
        the joint reservation held again when it changed.
        False: refused there, nothing held for it (the member's chain goes on, or it fails). The calls'
        switches run one at a time (members run at once), and a member cancelled during one (early
        quorum) leaves nothing held past the request's end (``_rehold``, ``_hold_call``)."""
        request = self._request
        if request is None or not request.calls:
            return await self.switch(target, spent)
        ledger = self._ledger
        calls = self._call_holds(request)
        async with calls.lock:
            first = calls.shares[index][0]
            own = calls.own.get(index)
            total = (round(spent[0] * NANO_USD), spent[1])
            before = calls.charged.get(index, (0, 0))
            if total == before and (own.plan.target if own is not None else first) == target:
                return True
            delta = (total[0] - before[0], total[1] - before[1])
            calls.charged[index] = total
            self._spent = (self._spent[0] + delta[0], self._spent[1] + delta[1])
            if delta != (0, 0):  # a call was billed: the request counts on its target's counters (the end)
                self._counted = True
                calls.bill(index)
            held = self._hold()
            if own is not None:
                del calls.own[index]
                ledger._finish_soon(own, call_holds.uncounted(calls, own, own.plan.pick((*delta, 0))))
                if held is not None and call_holds.judge_share(ledger, request, calls, index, target):
                    ledger._finish_soon(held, [0] * len(held.plan.refs))  # another move: the judge's share
                    tab = self._held = ledger._tab(held)  # held again too, the rest with it (as below)
                    await asyncio.shield(self._rehold(request, calls, tab))
            elif held is not None and first is not None:  # its share of the joint reservation, on its target's
                calls.shares[index] = (None, 0, 0)  # counters: settled, the rest held again (the judge's
                call_holds.judge_share(ledger, request, calls, index, target)  # with this answer at target's)
                ledger._finish_soon(held, spread_on(held.plan, first.model, delta, 0))
                tab = self._held = ledger._tab(held)  # what the end settles until the rest is held again
                await asyncio.shield(self._rehold(request, calls, tab))
            elif held is not None and delta != (0, 0):  # nothing held for it (a fallback refused): charged
                charge_on(ledger, request, held, calls.last.get(index, held.plan.target), delta)
            units = ledger.call_units(request, index, target)
            return await asyncio.shield(self._hold_call(calls, calls.own, index, request, target, units))

    async def _rehold(self, request: BudgetRequest, calls: CallHolds, tab: Held) -> None:
        """The rest of an ensemble's reservation (the calls' shares left) held again on their targets, in
        place of ``tab``; refused: ``tab`` stays (the end charges through it all the same). The request
        ended meanwhile: released at once."""
        reserved = await reserve_joint(self._ledger, request, calls.shares, counted=self._counted)
        moved = reserved[0] if reserved is not None and reserved[1].refused < 0 else None  # refused: none held
        if moved is None:
            return
        if self._held is tab:
            self._held = moved
        else:
            self._ledger._finish_soon(moved, [0] * len(moved.plan.refs))

    async def _hold_call(
        self,
        calls: CallHolds,
        holds: dict[int, Held] | list[Held],
        index: int,
        request: BudgetRequest,
        target: TargetInfo,
        units: tuple[int, int, int],
    ) -> bool:
        """``units`` reserved on ``target`` for call ``index`` (in ``holds``: its own, or a race's); the
        request ended meanwhile: released at once. False: refused."""
        ledger = self._ledger
        mine = await call_holds.reserve_call(ledger, request, calls, target, units)
        if mine is None:
            return False
        if self._calls is not calls:
            ledger._finish_soon(mine, [0] * len(mine.plan.refs))
        elif isinstance(holds, dict):
            holds[index] = mine
            calls.last[index] = target
        else:
            holds.append(mine)
        return True

    def _call_holds(self, request: BudgetRequest) -> CallHolds:
        """The ensemble's ``CallHolds``, made at its first use: each call's share, its first target's estimate."""
        calls = self._calls
        if calls is None:
            calls = self._calls = CallHolds(shares_of(self._ledger, request))
        return calls

    async def hold_call_race(self, index: int, target: TargetInfo) -> bool:
        """A hedge's second call, to ``target``, in call ``index`` of an ensemble: held besides the rest until
        the request ends (its cost, a cut call's prompt, is charged then). False: refused: no hedge."""
        request = self._request
        if request is None or not request.calls:
            return await self.hold_race(target)
        calls = self._call_holds(request)
        units = self._ledger.call_units(request, index, target)
        return await asyncio.shield(self._hold_call(calls, calls.races, index, request, target, units))

    def call_race_over(self, index: int, hedge: TargetInfo, hedge_won: bool, cut: tuple[float, int]) -> None:
        """Call ``index``'s hedged race ended: each racer's cost on its own target (``call_holds``)."""
        call_holds.call_race_over(cast("Admission", self), index, hedge, hedge_won, cut)
