"""A caller that hangs up on the strategies ``test_feature_cancel`` does not cover: while a hedge waits
to start its race and during the race, during a 429's ``Retry-After`` wait, during a fallback to a
target of another dialect, during a stream's wait for its first byte, and around a shadow call. Each
time the fake sees its connection closed, no task is left behind, and the access line says 499
``client_closed``. Real sidecar on a real port, fakes that stall, a client that drops its connection."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import RunningSidecar, SidecarFactory
from .ensemble_policies import models_policy, watched_fake

MESSAGES: Any = [{"role": "user", "content": "Which queue does this ticket go to?"}]


async def leave_after(running: RunningSidecar, body: dict[str, Any], seconds: float) -> None:
    """Send ``body`` and drop the connection after ``seconds`` (the caller goes away)."""
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def settled(baseline: int, timeout_s: float = 2.0) -> int:
    """The number of tasks on the loop once it falls back to ``baseline`` (or after ``timeout_s``)."""
    for _ in range(int(timeout_s / 0.02)):
        count = len(asyncio.all_tasks())
        if count <= baseline:
            return count
        await asyncio.sleep(0.02)
    return len(asyncio.all_tasks())


def last_access(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


def chain_policy(urls: list[str], resilience: str, speaks: tuple[str, ...] = ("openai",)) -> str:
    route = f"  - name: chain\n    match: {{model: chain}}\n    target: [m0, m1]\n    resilience: {resilience}\n"
    return models_policy(urls, route, speaks=speaks)


async def test_leaving_before_a_hedge_starts_its_race_closes_the_first_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """A hedge waiting 2 s for the first call's first byte: the caller leaves after 0.3 s, the first
    call's connection is closed and the hedge is never called."""
    first_url, first = await watched_fake(aiohttp_server, name="f0", latency_ms=5000)
    second_url, second = await watched_fake(aiohttp_server, name="f1")
    running = await sidecar(chain_policy([first_url, second_url], "{hedge: {after_s: 2}}"))
    baseline = len(asyncio.all_tasks())
    await leave_after(running, {"model": "chain", "messages": MESSAGES}, 0.3)
    assert await first.closed()
    assert await settled(baseline) <= baseline
    await asyncio.sleep(2.0)  # past after_s: a first call left running would have started the race
    assert second.requests == []
    access = last_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")


async def test_leaving_during_a_hedged_race_closes_both_calls(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """Both racers stalled: the caller leaves once the race runs, both connections are closed."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", latency_ms=5000) for i in range(2)]
    running = await sidecar(chain_policy([u for u, _ in watched], "{hedge: {after_s: 0.1}}"))
    baseline = len(asyncio.all_tasks())
    await leave_after(running, {"model": "chain", "messages": MESSAGES}, 0.5)
    for _, fake in watched:
        assert await fake.closed()
    assert await settled(baseline) <= baseline
    assert last_access(running)["status"] == 499
