"""A chain whose first target's bulkhead the tests fill (tests/server/test_bulkhead_metrics.py,
test_bulkhead_wait.py): ``policy`` (route ``chain`` over m0, m1, one try each, the given bulkhead),
``held_chain`` (m0's provider holds its calls until the test lets them go, m1's answers at once),
``queued`` (how many calls wait for m0's slot) and ``queue_behind_a_held_call`` (a call holding m0's
slot and a second one behind it)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import FakeFactory, RunningSidecar
from ..waiting import until
from .chain import calls, chain_policy, held_fake, post, resilience_line

ONE_TRY = resilience_line("max_attempts_per_target: 1, ")


def policy(urls: list[str], bulkhead: str, chain: str = "[m0, m1]") -> str:
    text = chain_policy(urls, extra_defaults=f"  bulkhead: {bulkhead}\n", resilience=ONE_TRY)
    return text.replace("target: [m0, m1]", f"target: {chain}")


async def held_chain(aiohttp_server: Any, fake: FakeFactory) -> tuple[list[str], asyncio.Event]:
    """The URLs of m0's provider, which holds every call until the event returned is set (a stall of a
    few tenths of a second can end before a loaded machine sends the call meant to queue behind it), and
    of m1's."""
    answer = asyncio.Event()
    return [await held_fake(aiohttp_server, "f0", answer), await fake("f1")], answer


def queued(running: RunningSidecar) -> int:
    """The calls waiting for a slot of m0's bulkhead now."""
    return int(running.state.targets.snapshot()["p0/up0"]["bulkhead"]["queued"])


async def queue_behind_a_held_call(
    running: RunningSidecar, urls: list[str], answer: asyncio.Event, hold_s: float | None
) -> None:
    """A call to m0 that its provider (``held_chain``) holds, and once it is there a second one, which finds
    m0's slot taken (with ``max_concurrent: 1``). With ``hold_s`` the first is let go ``hold_s`` after the
    second is queued (which then gets the slot); with None once the second is answered without it (turned
    away, or its queue timeout over: served by m1). Both answered 200."""
    async with aiohttp.ClientSession() as session:
        first = post(session, running, 0.0)
        await until(lambda: calls(urls[0]), lambda seen: seen == 1)  # it holds the slot from here on
        second = post(session, running, 0.0)
        if hold_s is None:
            assert await second == 200
        else:
            await until(lambda: queued(running), lambda waiting: waiting == 1)
            await asyncio.sleep(hold_s)
        answer.set()
        assert await second == 200
        assert await first == 200
