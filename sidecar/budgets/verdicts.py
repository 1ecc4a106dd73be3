"""The verdict of an admission that did not go the plain way: a limit passed, refused, or headers asked.

``Ledger`` decides the plain case itself (nothing flagged: one shared "allow"); the rest is here, pure
functions of a plan and the uses the store answered (counter units):

    judged(plan, uses, targets, store, skipped, downgraded_by, headers)
        flags: every warn/downgrade limit past its amount, every soft threshold passed
        verdict: a downgrade flag first, else a warn flag, else allow (a request already downgraded
                 stays "downgrade", naming the limit that moved it); ``tightest`` for the headers
    denial(state, requested, now, store, headers)   a deny limit refused: 429, the message, Retry-After
    unavailable(plan, wait_s)              the store is down and a limit fails closed
    downgrade_targets(state)               where a downgrade (or soft downgrade) limit sends the request
"""

from __future__ import annotations

from collections.abc import Sequence

from .decision import Decision, LimitState, StoreUse, Verdict, deny_message, retry_after
from .plans import Plan
from .spec import Action

ALL_OVER = "every target is over its quota"
"""The reason of a denial when a model or provider quota refused every target (``Ledger._all_skipped``)."""


def judged(
    plan: Plan,
    uses: Sequence[int],
    targets: tuple[str, ...],
    store: StoreUse,
    skipped: tuple[str, ...],
    downgraded_by: LimitState | None,
    headers: bool,
) -> Decision:
    """The decision on a reservation's ``uses`` (after it) when the plain "allow" does not apply."""
    flags: list[LimitState] = []
    for i, limit in enumerate(plan.limits):
        used = uses[i]
        counter = plan.counters[i]
        if used > limit.units and limit.action is not Action.DENY:
            flags.append(LimitState(limit, plan.values[i], used, counter.end))
        elif limit.soft_units is not None and used > limit.soft_units:
            flags.append(LimitState(limit, plan.values[i], used, counter.end, soft=True))
    tight = tightest(plan, uses) if headers else None
    if not flags and downgraded_by is None:
        return Decision("allow", None, targets, (), tight, store, skipped=skipped)
    if downgraded_by is not None:
        return Decision("downgrade", downgraded_by, targets, tuple(flags), tight, store, skipped=skipped)
    acted = next((s for s in flags if _action(s) is Action.DOWNGRADE), None)
    if acted is None:
        acted = next((s for s in flags if _action(s) is Action.WARN), None)
    verdict: Verdict = "allow" if acted is None else "downgrade" if _action(acted) is Action.DOWNGRADE else "warn"
    return Decision(verdict, acted, targets, tuple(flags), tight, store, skipped=skipped)


def tightest(plan: Plan, uses: Sequence[int]) -> LimitState | None:
    """The counter with the least room left, as a share of its limit (what the opt-in headers show)."""
    best, room = -1, 2.0
    for i, limit in enumerate(plan.limits):
        left = (limit.units - uses[i]) / limit.units
        if left < room:
            best, room = i, left
    if best < 0:
        return None
    return LimitState(plan.limits[best], plan.values[best], uses[best], plan.counters[best].end)


def downgrade_targets(state: LimitState) -> tuple[str, ...]:
    return state.limit.soft_downgrade_to if state.soft else state.limit.downgrade_to


def denial(state: LimitState, requested: int, now: float, store: StoreUse, *, headers: bool) -> Decision:
    """A deny limit refused ``requested`` units: 429 until its window resets, the limit named; with the
    opt-in ``headers``, its ``tightest`` is that limit (the request used no counter), so that its 429 says
    how much is left and when."""
    message = deny_message(state, requested)
    wait = retry_after(state.resets_at, now)
    tight = state if headers else None
    return Decision(
        "deny", state, flags=(state,), tightest=tight, store=store, status=429, retry_after_s=wait, message=message
    )


def unavailable(plan: Plan, wait_s: int) -> Decision:
    """The store cannot be reached and a limit of ``plan`` fails closed: 429, retry in ``wait_s``."""
    limit = next(limit for limit in plan.limits if limit.fail_closed)
    message = (
        f"budget limit {limit.name!r} cannot be checked: the budget store is unavailable and the limit "
        "is set to on_store_error: closed; retry later"
    )
    return Decision("deny", store="unavailable", status=429, retry_after_s=wait_s, message=message)


def _action(state: LimitState) -> Action | None:
    return state.limit.soft_action if state.soft else state.limit.action
