"""Hedging: a target's first call that has no first byte after ``hedge.after_s`` races the next target.

The first racer to answer, or to commit a stream, wins; the other is cancelled at once (a committing
racer cancels the other through ``exchange.on_commit``). A racer that fails does not end the race: the
other may still answer. The next target, called in the race, is not called again by the chain. A
caller that leaves (the request's task cancelled) cancels every call of the race, before it starts too.

A racer cut after its call started (it lost the race) had its prompt sent, which the provider may bill:
its prompt estimate at its own model's price is added to the request's unserved cost and tokens (the
budgets charge them, the access line's ``cost_usd`` counts them), as the budgets charge the prompt of a
call whose caller left (``budget_use.used_when_cancelled``); ``exchange.hedge_cut`` names it for the access
line, and ``exchange.hedge_cuts`` keeps its attempt (an ensemble's end does not charge it again as a call
cut in flight: ``children.charge_in_flight``). When the caller leaves during the race, every call it cut
in flight is charged its prompt on its own target (``_left_during``): if one racer had ended already
(failed), the race is over first, with the call the leaving cut as the one that counts; if both were in
flight, the hedge's call is charged as a cut racer (``hedge_cut``) and the race is over with the first
call as the one that counts; the budget stage then charges that call's prompt (its cancel rule).

The hooks are asked about the next target with ``exchange.racing`` set (the first call is in flight): a
hook that holds something per call (the budgets: a reservation for each racer) holds it for the second
call too and sets ``exchange.on_race_end``, which the race calls once it is over (the cut racers charged)
with the target whose result counts, so that the other's hold is settled at what it cost. A hook that
refuses the second call (a budget that cannot hold both) keeps the hedge from starting: the first call
goes on alone, the refusal recorded as a skip (the access line's ``attempt_log``, the span), and the
target stays in the chain: it is asked again, as a fallback, if the first call fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..policy.compiled import Target
from ..policy.resilience_plan import Tries
from .attempt import AttemptResult
from .billed import charge_cut
from .budget_use import in_flight
from .calls import Calls, Candidate
from .exchange import AttemptRecord, Exchange


@dataclass(slots=True)
class Race:
    """How a hedged call ended: the candidate whose result counts, that result (None: it was skipped),
    and whether the next target took part (so the chain does not call it again)."""

    winner: Candidate
    result: AttemptResult | None
    hedged: bool


async def hedged_call(
    calls: Calls,
    exchange: Exchange,
    first: Candidate,
    rest: list[Target],
    settings: Tries,
    deadline: float,
    untranslatable: list[str],
    cleared: Callable[[Exchange, Target], Awaitable[bool]],
) -> Race:
    """Call ``first``; if it has no first byte after ``hedge.after_s``, race ``rest[0]`` (see the module);
    ``cleared``: whether the hooks let ``rest[0]`` be called (refused: it stays in the chain; skipped
    afterwards, rate-limited or untranslatable: spent)."""
    assert settings.hedge is not None
    first_byte = asyncio.Event()
    primary = asyncio.ensure_future(calls.call(exchange, first, deadline - time.monotonic(), first_byte))
    try:
        if await _first_byte_in_time(primary, first_byte, settings.hedge.after_s):
            return Race(first, await primary, False)
        exchange.racing = True
        try:
            allowed = await cleared(exchange, rest[0])
        finally:
            exchange.racing = False
        if not allowed:  # a hook refused the second call (a budget cannot hold both): the first goes on alone
            return Race(first, await primary, False)
        second = calls.candidate(exchange, rest[0], settings, len(rest) == 1, untranslatable)
        if second is None:  # skipped and recorded so: spent
            _race_over(exchange, first.target)
            return Race(first, await primary, True)
    except BaseException:  # the caller left while the race waited (asyncio.wait does not cancel what it waits on)
        exchange.on_race_end = None
        primary.cancel()
        await asyncio.gather(primary, return_exceptions=True)
        raise
    exchange.trace.fallback(from_target=first.target.key, reason="hedged")
    second.state.budget.record_request()
    hedge = asyncio.ensure_future(calls.call(exchange, second, deadline - time.monotonic()))
    return await _race(exchange, {primary: first, hedge: second}, second)


async def _first_byte_in_time(
    primary: asyncio.Task[AttemptResult | None], first_byte: asyncio.Event, after_s: float
) -> bool:
    """Wait up to ``after_s`` for the first call's first byte; True when it came (or the call ended)."""
    waiter = asyncio.ensure_future(first_byte.wait())
    try:
        await asyncio.wait({primary, waiter}, timeout=after_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    return primary.done() or first_byte.is_set()


async def _race(
    exchange: Exchange, racers: dict[asyncio.Task[AttemptResult | None], Candidate], second: Candidate
) -> Race:
    """Run the race (``_run``); once it is over (a stream's: as soon as a racer committed and the other was
    cut), charge the prompt of the racer it cut (``_charge_cut``) and tell the hook that held for both
    calls (``_race_over``)."""
    racing = {candidate.target.name: candidate.target for candidate in racers.values()}
    recorded = len(exchange.attempts)

    def over(winner: Target) -> None:
        nonlocal recorded
        _charge_cut(exchange, recorded, racing)
        recorded = len(exchange.attempts)
        _race_over(exchange, winner)

    try:
        race = await _run(exchange, racers, second, over)
    except BaseException:  # the caller left: the race's calls cut in flight charged (``_left_during``)
        _left_during(exchange, recorded, racing, next(iter(racers.values())).target)
        raise
    over(race.winner.target)
    return race


async def _run(
    exchange: Exchange,
    racers: dict[asyncio.Task[AttemptResult | None], Candidate],
    second: Candidate,
    over: Callable[[Target], None],
) -> Race:
    """Run the race: the first racer with an answer (or a committed stream) wins, the other is cancelled;
    when neither answers, the result of one that was not skipped (the later, if both failed). ``over``:
    called with the winner when a racer's committed stream cut the other (the stream goes on)."""

    def cancel_others() -> None:  # a racer committed its stream: the other must stop now
        current = asyncio.current_task()
        for task in racers:
            if task is not current:
                task.cancel()

    exchange.on_commit = cancel_others
    best: Race | None = None
    try:
        while racers:
            done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                candidate = racers.pop(task)
                if task.cancelled():  # cut by the other's commit: the race is over, the stream goes on
                    if racers:
                        over(next(iter(racers.values())).target)
                    continue
                result = task.result()
                if result is not None and (result.response is not None or result.held is not None):
                    if candidate is second:
                        exchange.fallback_reason = "hedged"
                    return Race(candidate, result, True)
                if best is None or best.result is None:
                    best = Race(candidate, result, True)
    finally:
        exchange.on_commit = None
        for task in racers:
            task.cancel()
        if racers:
            await asyncio.gather(*racers, return_exceptions=True)
    assert best is not None
    return best


def _charge_cut(exchange: Exchange, recorded: int, racing: dict[str, Target]) -> None:
    """The racers cut after their call started (recorded ``cancelled`` since attempt ``recorded``): their
    prompt estimate, at their own price, added to the request's unserved cost and tokens (see the module)."""
    _charge_racers(exchange, [a for a in exchange.attempts[recorded:] if a.outcome == "cancelled"], racing)


def _charge_racers(exchange: Exchange, attempts: list[AttemptRecord], racing: dict[str, Target]) -> None:
    """``attempts`` of the race's calls, cut in flight: each one's prompt estimate at its own target's price
    in the request's unserved cost and tokens, named by ``hedge_cut``, kept in ``hedge_cuts``."""
    attempts = [a for a in attempts if a.target in racing]
    if not attempts:
        return
    cut = [racing[a.target] for a in attempts]
    charge_cut(exchange, cut)
    exchange.hedge_cut = cut[-1].name
    exchange.hedge_cuts = (*exchange.hedge_cuts, *attempts)


def _left_during(exchange: Exchange, recorded: int, racing: dict[str, Target], first: Target) -> None:
    """The caller left during the race (the racers still running cut: recorded ``cancelled`` since attempt
    ``recorded``); each call cut in flight had its prompt sent, and its provider bills it. One call cut,
    the other ended before (it failed): the race is over with the cut call as the one that counts, so the
    hook settles the ended call's hold at what it cost and the budget stage charges the cut call's prompt
    on its own hold (before 2026-12-06 on the first call's, whichever was cut: the soak's seed 407). Both
    cut: the hedge's call is charged as a cut racer (its prompt at its own price, ``hedge_cut``) and the
    race is over with the ``first`` call as the one that counts: the hook settles the hedge's hold at that
    prompt, on its own target, and the budget stage charges the first call's prompt on the request's
    reservation (before 2026-12-06 one prompt was charged, and the hedge's hold released uncharged)."""
    cut = [a for a in exchange.attempts[recorded:] if in_flight(a)]
    if len(cut) == 2:  # the hedge's attempt (either, when both called the same target: one price)
        hedge = next((a for a in cut if a.target != first.name), cut[-1])
        _charge_racers(exchange, [hedge], racing)
        _race_over(exchange, first)
    elif len(cut) == 1 and cut[0].target in racing:
        _race_over(exchange, racing[cut[0].target])
    exchange.on_race_end = None


def _race_over(exchange: Exchange, winner: Target) -> None:
    """The race is over, ``winner``'s result the one that counts: the hook that held for both calls settles
    the other's hold (``exchange.on_race_end``, called once)."""
    ended, exchange.on_race_end = exchange.on_race_end, None
    if ended is not None:
        ended(winner)
