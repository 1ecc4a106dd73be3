"""The budget's hook on the walk (``hooks.ChainHook``), which the budget stage (``budget``) puts on a
request it admitted: before each target of the chain (and before another call of the same target:
``Exchange.again``), a target a model/provider quota refused at admission is skipped; any other is reserved
against what is left once the calls so far are settled (``Admission.switch``), a hedge's second call held
besides until the race is over (``Admission.hold_race``, ``race_over``). In an ensemble each call's walk (a
member's, the judge's) has its own, ``CallBudgetHook`` (``BudgetHook.for_call``): its target reserved for
that call alone (``Admission.switch_call``; ``call_hooks`` makes them, ``with_again`` asks one before a
retry), a hedge's second call held besides and, when the race ends, each racer's cost put on its own target
(``Admission.call_race_over``). Refused: the target is skipped (attempt ``<target>:budget``).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from ..budgets import Admission, Budgets
from .billed import billed_targets
from .hooks import Verdict

if TYPE_CHECKING:
    from ..budgets import TargetInfo
    from ..policy.compiled import Target
    from .exchange import Exchange
    from .hooks import ChainHook
    from .stream_answer import HeldStream

SKIP_REASON = "budget"
"""The attempt outcome (and ``skips_total`` reason) of a target a budget limit refused."""


class BudgetHook:
    """The budget's say in the walk (``hooks.ChainHook``): skip a target its quota refused; before a
    fallback's call, settle what the calls so far cost and reserve for the target about to be called;
    before a hedge's second call, hold for it too until the race is over (refused: skip it)."""

    __slots__ = ("_admission", "_budgets", "_skipped")

    def __init__(self, admission: Admission, budgets: Budgets, skipped: frozenset[str]) -> None:
        self._admission = admission
        self._budgets = budgets
        self._skipped = skipped

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        if target.name in self._skipped:
            return SKIP_REASON
        info = self._budgets.targets.get(target.name)
        if info is None:
            return None
        return None if await self._hold(exchange, info) else SKIP_REASON

    async def _hold(self, exchange: Exchange, info: TargetInfo) -> bool:
        """Reserve for ``info``'s call (False: refused, the target is skipped)."""
        admission = self._admission
        if exchange.racing:  # a hedge: both calls held while they race
            if not await admission.hold_race(info):
                return False
            before = (len(exchange.billed_failures), len(exchange.hedge_cuts))
            exchange.on_race_end = partial(self._race_over, exchange, before)
            return True
        return await admission.switch(info, (exchange.unserved_cost_usd, exchange.unserved_tokens))

    def for_call(self, index: int) -> CallBudgetHook:
        """This hook for call ``index`` of an ensemble (a member's walk, the judge's last)."""
        return CallBudgetHook(self._admission, self._budgets, self._skipped, index)

    def _race_over(self, exchange: Exchange, before: tuple[int, int], winner: Target) -> None:
        """The hedged race is over (``hedge``): the other call's hold settled at what it cost, when it
        billed (the models of the billed failures and cut calls recorded since the race began: ``before``
        holds how many there were then)."""
        spent = (exchange.unserved_cost_usd, exchange.unserved_tokens)
        billed = billed_targets(exchange.billed_failures[before[0] :])
        billed.update(attempt.target for attempt in exchange.hedge_cuts[before[1] :])
        self._admission.race_over(self._budgets.targets.get(winner.name), spent, frozenset(billed))

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        return Verdict.ACCEPT


class CallBudgetHook(BudgetHook):
    """``BudgetHook`` in one call of an ensemble (``for_call``): before each target of that call's chain
    (a member's, the judge's), its failures so far settled and the target reserved for it alone, at its
    own price (``Admission.switch_call``); a hedge's second call held besides (``hold_call_race``).
    Refused: the target is skipped (the member's chain goes on, or it fails: the vote goes on)."""

    __slots__ = ("_index",)

    def __init__(self, admission: Admission, budgets: Budgets, skipped: frozenset[str], index: int) -> None:
        super().__init__(admission, budgets, skipped)
        self._index = index

    async def _hold(self, exchange: Exchange, info: TargetInfo) -> bool:
        spent = (exchange.unserved_cost_usd, exchange.unserved_tokens)
        if exchange.racing:
            if not await self._admission.hold_call_race(self._index, info):
                return False
            exchange.on_race_end = partial(self._call_race_over, exchange, info, spent)
            return True
        return await self._admission.switch_call(self._index, info, spent)

    def _call_race_over(self, exchange: Exchange, hedge: TargetInfo, before: tuple[float, int], winner: Target) -> None:
        """The member's hedged race is over: what it cost since the hedge started (the cut call's prompt)
        charged on the target of the call that lost, the rest of the call's cost on the winner's
        (``Admission.call_race_over``)."""
        cut = (exchange.unserved_cost_usd - before[0], exchange.unserved_tokens - before[1])
        self._admission.call_race_over(self._index, hedge, winner.name == hedge.model, cut)


def call_hooks(exchange: Exchange, index: int) -> list[ChainHook]:
    """The request's budget hook for call ``index`` (the judge's), if it has one."""
    return [hook.for_call(index) for hook in exchange.hooks if isinstance(hook, BudgetHook)]


def with_again(child: Exchange) -> Exchange:
    """``child`` with its budget hook asked before another call of the same target (a retry, a re-ask),
    as ``budget._hook`` does for a request's own walk."""
    for hook in child.hooks:
        if isinstance(hook, CallBudgetHook):
            child.again = hook.before_target
    return child
