"""An ensemble's reservation, call by call: admitted on every target it calls at once, settled per call.

``admit_calls(ledger, request, chain)`` (``Ledger._admit`` for a request with ``calls``): each call (a
member's first target, the judge's) priced at its own model (``calls.call_units``), summed per distinct
target, and reserved as one joint reservation (``joint``) over the counters of all those targets: one
store call, all or nothing. A request limit that refuses denies; a model or provider quota that refuses
drops the targets it covers (skipped: never called) and every call is reserved again, each on the first
target of its chain not dropped (``shares_of``: a member's fallback, as a chain route walks its own at
admission; a call with none left holds nothing: the member fails and the vote goes on, the judge's
leaves it to majority); fewer members left than ``min_members`` is a denial ("every target is over its
quota", or "too few ensemble members within their quotas").

``CallHolds`` is the admission's side of it: each call's share of the joint reservation, the holds of
the calls that moved on (``Admission.switch_call``: a fallback, a retry after a billed call) or race a
hedge (``reserve_call``: one request held on each ``requests`` counter the request had not reached,
``reached``), what each call's failures were charged, the target each call is held on (``last``) and
the hedge that won a call's race (``won``). ``call_race_over`` is a race's end: what it cost (the cut
call's prompt) charged at once on the loser's target. ``charge_calls(admission, costs)`` is the end:
each call's cost (its exchange's, the request path's ``Exchange.call_costs``), less what its switches
and races charged, on the counters of the target it is held on: its share's target's counters of the
joint reservation, or its own hold's, or the hedge's that won its race; and the request counted once
on each ``requests`` counter of a target a call billed on (``CallHolds.billed``, ``_count_request``):
none on a model or provider whose calls were all refused, as on a plain route.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sidecar.translate import Usage

from .decision import Decision, LimitState
from .joint import JointPlan, joint_plan, spread_on
from .plans import REQUESTS
from .pricing import NANO_USD
from .verdicts import ALL_OVER, downgrade_targets

if TYPE_CHECKING:
    from .admission import Admission, Held
    from .compiled import BudgetRequest, TargetInfo
    from .ledger import Ledger
    from .plans import Plan
    from .store import ReserveResult


class CallCost(NamedTuple):
    """What one call of an ensemble cost (its exchange's answer and everything it had rejected or cut):
    ``unmetered`` when its answer reported no usage (then its estimate is charged besides, as for any
    answer without usage)."""

    call: int  # its index: a member's in the policy's order, the judge's last
    usd: float
    tokens: int
    unmetered: bool = False


Share = tuple["TargetInfo | None", int, int]
"""A call's share of the joint reservation: its first target (None once it moved on or was dropped),
nano-dollars and tokens."""


@dataclass(slots=True)
class CallHolds:
    """An ensemble's calls' side of its reservation (see the module docstring)."""

    shares: list[Share]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one call's switch at a time
    own: dict[int, Held] = field(default_factory=dict)
    races: list[Held] = field(default_factory=list)
    charged: dict[int, tuple[int, int]] = field(default_factory=dict)
    last: dict[int, TargetInfo] = field(default_factory=dict)  # the target each call is held on, or was last
    won: dict[int, TargetInfo] = field(default_factory=dict)  # a hedge that won a call's race: its answer's target
    # The ``requests`` counters the request holds one on, by key: the joint reservation's (None), and those
    # a call's own hold reached first (a fallback or hedge on another model or provider: ``reserve_call``)
    reached: dict[str, tuple[Plan, int] | None] = field(default_factory=dict)
    # The targets a call billed on before the end (a failed call its switch charged, a race's cut call), by
    # model: with those the end charges, the request counts once on each of their ``requests`` counters
    billed: dict[str, TargetInfo] = field(default_factory=dict)

    def bill(self, index: int) -> None:
        """Call ``index`` billed something on the target it is held on now (or was last)."""
        own = self.own.get(index)
        target = own.plan.target if own is not None else self.shares[index][0] or self.last.get(index)
        if target is not None:
            self.billed[target.model] = target


def shares_of(ledger: Ledger, request: BudgetRequest, dropped: frozenset[str] = frozenset()) -> list[Share]:
    """Each call's estimate on the first target of its chain not on a ``dropped`` model (its first, when
    none is dropped); a call whose every target is dropped holds nothing. The judge's prompt counts the
    members' answers at the output maximum of the targets they hold (``calls.call_units``)."""
    shares: list[Share] = []
    for index, call in enumerate(request.calls):
        target = next((target for target in call.chain if target.model not in dropped), None)
        if target is None:
            shares.append((None, 0, 0))
            continue
        members = [share[0] for share in shares] if call.judge_output is not None else None
        units = ledger.call_units(request, index, target, members)
        shares.append((target, units[0], units[1]))
    return shares


def judge_share(ledger: Ledger, request: BudgetRequest, calls: CallHolds, moved: int, to: TargetInfo) -> bool:
    """The judge's share of the joint reservation estimated again, while it holds one, with the targets the
    members are held on now, member ``moved``'s answer at ``to``'s output maximum (its fallback's). True
    when the share changed."""
    judge = len(request.calls) - 1
    target = calls.shares[judge][0] if request.calls[judge].judge_output is not None else None
    if target is None:
        return False
    members = [to if index == moved else calls.last.get(index) for index in range(judge)]
    units = ledger.call_units(request, judge, target, members)
    share = (target, units[0], units[1])
    changed, calls.shares[judge] = calls.shares[judge] != share, share
    return changed


async def reserve_joint(
    ledger: Ledger, request: BudgetRequest, shares: Sequence[Share], *, counted: bool
) -> tuple[Held | None, ReserveResult, JointPlan, list[int]] | None:
    """The shares held at once on their targets' counters (``counted``: the request counts already, no
    request held): the hold (None: the store is down and a limit fails closed), the store's answer, the
    joint plan and its amounts. None: no share holds anything."""
    per_target: dict[str, tuple[int, int]] = {}
    targets: list[TargetInfo] = []
    for target, usd, tokens in shares:
        if target is None:
            continue
        before = per_target.get(target.model)
        if before is None:
            targets.append(target)
            before = (0, 0)
        per_target[target.model] = (before[0] + usd, before[1] + tokens)
    if not targets:
        return None
    now = ledger._clock()
    joint = joint_plan([ledger._planner.plan(request, target, now) for target in targets])
    amounts = joint.spread(per_target, 0 if counted else 1)
    held, result = await ledger._reserve(joint, amounts, now)
    return held, result, joint, amounts


async def admit_calls(
    ledger: Ledger, request: BudgetRequest, names: tuple[str, ...], downgraded_by: LimitState | None
) -> Admission:
    """The joint admission of an ensemble ``request`` (see the module docstring); a downgrade walks the
    cheaper list as a chain: one call."""
    from .admission import Admission

    decided = await _admit_joint(ledger, request, names, downgraded_by)
    if isinstance(decided, Admission):
        return decided
    if decided.verdict != "downgrade" or decided.acted is None:
        return Admission(ledger, request, decided, None)
    cheaper = [ledger.budgets.target(name) for name in downgrade_targets(decided.acted)]
    return await ledger._admit(dataclasses.replace(request, calls=()), cheaper, decided.acted)


async def _admit_joint(
    ledger: Ledger, request: BudgetRequest, names: tuple[str, ...], downgraded_by: LimitState | None
) -> Admission | Decision:
    """``admit_calls``' reservation: an ``Admission`` holding it, or the ``Decision`` of a denial or of a
    downgrade to admit again (its ``acted`` limit set)."""
    from .admission import Admission

    dropped: frozenset[str] = frozenset()
    skipped: list[tuple[LimitState, int, str]] = []
    needed = request.calls[0].min_members
    while True:
        shares = shares_of(ledger, request, dropped)
        members = [share[0] for share, call in zip(shares, request.calls, strict=True) if call.judge_output is None]
        left = len(members) - members.count(None)
        if left < needed:  # too few members for the vote, nothing called (``min_members`` >= 1: none, else)
            few = f"too few ensemble members within their quotas (min_members is {needed})" if left else ALL_OVER
            return ledger._all_skipped(skipped, names, ledger._clock(), few)
        reserved = await reserve_joint(ledger, request, shares, counted=False)
        assert reserved is not None  # a member holds a share
        held, result, joint, amounts = reserved
        if held is None:
            return ledger._unavailable(joint)
        at = result.refused
        if at < 0:
            break
        limit = joint.limits[at]
        state = LimitState(limit, joint.values[at], result.uses[at], joint.counters[at].end)
        amount = amounts[at]
        if not limit.is_target_limit:
            return ledger._deny(state, amount, ledger._clock(), held.store)
        over = joint.targets_at(at)
        dropped = dropped | {target.model for target in over}
        skipped.extend((state, amount, target.model) for target in over)
        ledger.stats.skipped_targets += len(over)
    decision = ledger._judge(held, names, skipped, downgraded_by)
    if decision.verdict == "downgrade" and downgraded_by is None and decision.acted is not None:
        ledger._finish_soon(held, [0] * len(joint.refs))  # carried by the admission of the cheaper list
        return decision
    ledger._count(decision)
    admission = Admission(ledger, request, decision, held)
    calls = admission._calls = CallHolds(shares)
    calls.reached.update((ref.key, None) for at, ref in enumerate(joint.refs) if joint.measures[at] == REQUESTS)
    calls.last.update((index, share[0]) for index, share in enumerate(shares) if share[0] is not None)
    return admission


def charge_calls(admission: Admission, costs: Sequence[CallCost]) -> None:
    """The end of an ensemble request: each call's whole cost charged, less what its switches charged, on
    the target it is held on (see the module docstring; an unmetered answer: its estimate besides);
    every other hold released. The request counts in a ``requests`` limit here, once on each counter of
    a target a call billed on (its answer, a failed call accepted, a cut prompt: ``CallHolds.billed``
    and the targets charged here); not on a model or provider whose calls billed nothing (refused, never
    connected), as a plain route's fallback leaves its refused call's provider uncounted."""
    ledger = admission._ledger
    request = admission._request
    calls = admission._calls
    if calls is None and request is not None and request.calls:
        calls = CallHolds(shares_of(ledger, request))
    if calls is None:  # not an ensemble's admission (none is made without calls): charged as one
        admission.charge(Usage(), unserved=(sum(cost.usd for cost in costs), sum(cost.tokens for cost in costs)))
        return
    racers, calls.races = calls.races, []
    own, calls.own = calls.own, {}
    admission._calls = None
    admission._close_race()
    for held in racers:
        ledger._finish_soon(held, [0] * len(held.plan.refs))
    joint, admission._held = admission._hold(), None
    on_joint: dict[str, tuple[int, int]] = {}
    where = joint or next(iter(own.values()), None) or next(iter(racers), None)
    billed = dict(calls.billed)
    for cost in costs:
        charged = _charge_call(ledger, request, calls, own, joint, on_joint, cost)
        if charged is not None:
            billed[charged.model] = charged
    for held in own.values():
        ledger._finish_soon(held, [0] * len(held.plan.refs))
    if joint is not None:
        plan = joint.plan
        amounts = plan.spread(on_joint, 0) if isinstance(plan, JointPlan) else plan.pick((0, 0, 0))
        ledger._finish_soon(joint, amounts)
    admission._counted = admission._counted or bool(billed)
    if where is not None and request is not None:  # after the holds' release: never counted twice at once
        _count_request(ledger, request, where, billed.values())


def _count_request(ledger: Ledger, request: BudgetRequest, where: Held, billed: Iterable[TargetInfo]) -> None:
    """The request counted once on each ``requests`` counter of the ``billed`` targets (each counter
    once, whichever targets share it), by reservations of nothing never made in ``where``'s store."""
    counted: set[str] = set()
    now = ledger._clock()
    for target in billed:
        plan = ledger._planner.plan(request, target, now)
        amounts = [0] * len(plan.refs)
        for at, ref in enumerate(plan.refs):
            if plan.measures[at] == REQUESTS and ref.key not in counted:
                counted.add(ref.key)
                amounts[at] = 1
        if any(amounts):
            ledger._finish_soon(ledger._tab(where, plan), amounts)


def _charge_call(
    ledger: Ledger,
    request: BudgetRequest | None,
    calls: CallHolds,
    own: dict[int, Held],
    joint: Held | None,
    on_joint: dict[str, tuple[int, int]],
    cost: CallCost,
) -> TargetInfo | None:
    """``charge_calls`` of one call: the rest of its cost on its own hold, or added to ``on_joint`` (its
    share's target), or charged on the target it was last held on, or its hedge's when that won a race.
    The target charged when the rest is something (None: nothing billed there)."""
    index, usd, tokens, unmetered = cost
    before = calls.charged.get(index, (0, 0))
    rest = (round(usd * NANO_USD) - before[0], tokens - before[1])
    share = calls.shares[index] if index < len(calls.shares) else (None, 0, 0)
    target = share[0]
    mine = own.get(index)
    won = calls.won.get(index)
    billed = rest != (0, 0) or unmetered
    if won is not None and request is not None and (where := joint or mine) is not None:
        extra = ledger.call_units(request, index, won) if unmetered else (0, 0)  # no usage: its estimate
        charge_on(ledger, request, where, won, (rest[0] + extra[0], rest[1] + extra[1]))
        return won if billed else None
    if mine is not None:
        del own[index]
        actual = spread_on(mine.plan, mine.plan.target.model, rest, 0)
        if unmetered:  # no usage reported: its estimate, as the hold has it
            actual = [a + b for a, b in zip(actual, mine.per_counter(), strict=True)]
        ledger._finish_soon(mine, uncounted(calls, mine, actual))
        return mine.plan.target if billed else None
    if target is not None and joint is not None:
        extra = share[1:] if unmetered else (0, 0)
        was = on_joint.get(target.model, (0, 0))
        on_joint[target.model] = (was[0] + rest[0] + extra[0], was[1] + rest[1] + extra[1])
        return target if billed else None
    last = calls.last.get(index)  # held nowhere now: charged on the target it was last held on
    if rest != (0, 0) and joint is not None and request is not None and last is not None:
        charge_on(ledger, request, joint, last, rest)
        return last
    return None


async def reserve_call(
    ledger: Ledger, request: BudgetRequest, calls: CallHolds, target: TargetInfo, units: tuple[int, int, int]
) -> Held | None:
    """``units`` held on ``target`` for one call (a fallback's, a hedge's), and one request on each of its
    ``requests`` counters the request had not reached (``CallHolds.reached``: a model or provider none of
    its calls was held on: the request counts there once, at the end, when it billed anything; refused
    when that counter is full). None: refused, nothing held."""
    now = ledger._clock()
    plan = ledger._planner.plan(request, target, now)
    amounts = list(plan.pick((units[0], units[1], 0)))
    new = [at for at, ref in enumerate(plan.refs) if plan.measures[at] == REQUESTS and ref.key not in calls.reached]
    for at in new:
        amounts[at] = 1
    held, result = await ledger._reserve(plan, amounts, now)
    if held is None or result.refused >= 0:
        return None
    for at in new:
        calls.reached.setdefault(plan.refs[at].key, (plan, at))
    return held


def uncounted(calls: CallHolds, held: Held, amounts: Sequence[int]) -> list[int]:
    """``amounts`` to settle ``held`` with, 0 on the ``requests`` counters the end counts (``reached``)."""
    return [0 if calls.reached.get(ref.key) else amount for ref, amount in zip(held.plan.refs, amounts, strict=True)]


def call_race_over(
    admission: Admission, index: int, hedge: TargetInfo, hedge_won: bool, cut: tuple[float, int]
) -> None:
    """Call ``index``'s hedged race (its current target against ``hedge``) ended: ``cut`` (what its exchange
    was charged during the race: the loser's prompt) charged at once on the loser's target and counted as
    charged for that call; when the hedge won, the rest of the call's cost goes on the hedge's target at the
    end (``CallHolds.won``)."""
    calls = admission._calls
    request = admission._request
    if calls is None or request is None:  # the request ended meanwhile: its end charged every call
        return
    loser = calls.last.get(index) if hedge_won else hedge
    where = admission._hold() or (calls.races[-1] if calls.races else None)
    units = (round(cut[0] * NANO_USD), cut[1])
    if loser is not None and where is not None and units != (0, 0):
        charge_on(admission._ledger, request, where, loser, units)
        calls.billed[loser.model] = loser  # its prompt: the request counts on its requests counters
        before = calls.charged.get(index, (0, 0))
        calls.charged[index] = (before[0] + units[0], before[1] + units[1])
    if hedge_won:
        calls.won[index] = calls.last[index] = hedge


def charge_on(
    ledger: Ledger, request: BudgetRequest, where: Held, target: TargetInfo, units: tuple[int, int], requests: int = 0
) -> None:
    """``units`` of a call charged on ``target``'s counters directly (nothing of its own held to settle),
    by a reservation of nothing never made (``Ledger._tab``) on its plan, in the store ``where`` lives in."""
    plan = ledger._planner.plan(request, target, ledger._clock())
    ledger._finish_soon(ledger._tab(where, plan), spread_on(plan, target.model, units, requests))
