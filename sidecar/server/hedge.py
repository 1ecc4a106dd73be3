"""Hedging: a target's first call that has no first byte after ``hedge.after_s`` races the next target.

The first racer to answer, or to commit a stream, wins; the other is cancelled at once (a committing
racer cancels the other through ``exchange.on_commit``). A racer that fails does not end the race: the
other may still answer. The next target, called in the race, is not called again by the chain. A
caller that leaves (the request's task cancelled) cancels every call of the race, before it starts too.

A racer cut after its call started (it lost the race) had its prompt sent, which the provider may bill:
its prompt estimate at its own model's price is added to the request's unserved cost and tokens (the
budgets charge them, the access line's ``cost_usd`` counts them), as the budgets charge the prompt of a
call whose caller left (``budget_use.used_when_cancelled``); ``exchange.hedge_cut`` names it for the access
line. When the caller leaves during the race, the budget stage charges what was used instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..policy.compiled import Target
from ..policy.spec import ResilienceSpec
from .attempt import AttemptResult
from .billed import charge_cut
from .calls import Calls, Candidate
from .exchange import Exchange


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
    settings: ResilienceSpec,
    deadline: float,
    untranslatable: list[str],
    cleared: Callable[[Exchange, Target], Awaitable[bool]],
) -> Race:
    """Call ``first``; if it has no first byte after ``hedge.after_s``, race ``rest[0]`` (see the module);
    ``cleared``: whether the hooks let ``rest[0]`` be called (it is spent either way)."""
    assert settings.hedge is not None
    first_byte = asyncio.Event()
    primary = asyncio.ensure_future(calls.call(exchange, first, deadline - time.monotonic(), first_byte))
    try:
        if await _first_byte_in_time(primary, first_byte, settings.hedge.after_s):
            return Race(first, await primary, False)
        allowed = await cleared(exchange, rest[0])
    except BaseException:  # the caller left while the race waited (asyncio.wait does not cancel what it waits on)
        primary.cancel()
        await asyncio.gather(primary, return_exceptions=True)
        raise
    second = calls.candidate(exchange, rest[0], settings, len(rest) == 1, untranslatable) if allowed else None
    if second is None:  # not cleared, or skipped and recorded so: spent
        return Race(first, await primary, True)
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
    """Run the race (``_run``), then charge the prompt of a racer it cut (``_charge_cut``)."""
    racing = {candidate.target.name: candidate.target for candidate in racers.values()}
    recorded = len(exchange.attempts)
    race = await _run(exchange, racers, second)
    _charge_cut(exchange, recorded, racing)
    return race


async def _run(
    exchange: Exchange, racers: dict[asyncio.Task[AttemptResult | None], Candidate], second: Candidate
) -> Race:
    """Run the race: the first racer with an answer (or a committed stream) wins, the other is cancelled;
    when neither answers, the result of one that was not skipped (the later, if both failed)."""

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
                if task.cancelled():
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
    cut = [racing[a.target] for a in exchange.attempts[recorded:] if a.outcome == "cancelled" and a.target in racing]
    if not cut:
        return
    charge_cut(exchange, cut)
    exchange.hedge_cut = cut[-1].name
