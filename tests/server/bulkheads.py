"""A chain whose first target's bulkhead the tests fill (tests/server/test_bulkhead_metrics.py,
test_bulkhead_wait.py): ``policy`` (route ``chain`` over m0, m1, one try each, the given bulkhead) and
``queue_behind_a_slow_call`` (a slow call holding m0's slot and a second one behind it)."""

from __future__ import annotations

import asyncio

import aiohttp

from ..conftest import RunningSidecar
from .chain import chain_policy, post

ONE_TRY = "  resilience: {max_attempts_per_target: 1, backoff: {base_s: 0.01, cap_s: 0.05}, deadline_s: 10}\n"


def policy(urls: list[str], bulkhead: str, chain: str = "[m0, m1]") -> str:
    text = chain_policy(urls, extra_defaults=ONE_TRY + f"  bulkhead: {bulkhead}\n")
    text = text.replace(
        "defaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.05}, deadline_s: 10}\n", "defaults:\n"
    )
    return text.replace("target: [m0, m1]", f"target: {chain}")


async def queue_behind_a_slow_call(running: RunningSidecar, stall: float) -> None:
    """A call to m0 that its provider answers after ``stall`` seconds, and 0.3 s later a second one (which
    finds m0's slot taken, with ``max_concurrent: 1``); both answered 200."""
    async with aiohttp.ClientSession() as session:
        slow = asyncio.ensure_future(post(session, running, stall))
        await asyncio.sleep(0.3)
        assert await post(session, running, 0.0) == 200
        assert await slow == 200
