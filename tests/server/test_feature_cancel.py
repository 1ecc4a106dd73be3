"""A caller that goes away while a feature has upstream calls in flight: every one of them is cancelled
(the fake sees its connection closed), the budget's reservation is settled, and the single-flight
followers of a leader whose caller left do not wait on it: one of them leads a new call for all.
Real sidecar, fakes that stall."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until
from .callers import leave_once
from .ensemble_policies import ensemble_route, models_policy, watched_fake

MESSAGES: Any = [{"role": "user", "content": "Which queue does this ticket go to?"}]


async def leave_after(running: RunningSidecar, body: dict[str, Any], seconds: float) -> None:
    """Send ``body`` and drop the connection after ``seconds`` (the caller goes away)."""
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await asyncio.sleep(seconds)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("stream", [False, True])
async def test_leaving_during_an_ensemble_closes_every_member_call(
    aiohttp_server: Any, sidecar: SidecarFactory, stream: bool
) -> None:
    """Three members stalled 5 s: the caller leaves after 0.3 s, every member's connection is closed."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", reply="bug", latency_ms=5000) for i in range(3)]
    running = await sidecar(models_policy([u for u, _ in watched], ensemble_route("m0, m1, m2"), speaks=("openai",)))
    body = {"model": "vote", "messages": MESSAGES, "stream": stream}
    await leave_once(running, body, lambda: all(fake.requests for _, fake in watched))
    for _, fake in watched:
        assert await fake.closed()


async def test_leaving_during_the_judges_call_closes_it(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The members answered, the judge is stalled: the caller leaves, the judge's connection is closed."""
    urls = [await fake("f0", reply="alpha"), await fake("f1", reply="beta")]
    judge_url, judge = await watched_fake(aiohttp_server, name="judge", reply='{"best": 1}', latency_ms=5000)
    route = ensemble_route("m0, m1", "strategy: judge\njudge: {target: m2}")
    running = await sidecar(models_policy([*urls, judge_url], route, speaks=("openai",)))
    await leave_once(running, {"model": "vote", "messages": MESSAGES}, lambda: judge.requests)
    assert await judge.closed()


async def test_leaving_during_a_gates_reask_closes_it(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """A gated route whose re-ask (the second call) stalls: the caller leaves, its connection is closed.
    (The answer carries a fault marker, so only the re-ask, which quotes it, stalls.)"""
    url, watched = await watched_fake(aiohttp_server, name="f0", reply="no [fault:stall=5]")
    route = (
        "  - name: vote\n    match: {model: vote}\n    target: [m0]\n"
        "    gates: {regex: {pattern: '^[0-9]+$'}, on_fail: reask, max_reasks: 1}\n"
    )
    running = await sidecar(models_policy([url], route, speaks=("openai",)))
    await leave_once(running, {"model": "vote", "messages": MESSAGES}, lambda: len(watched.requests) == 2)
    assert await watched.closed()


async def test_leaving_an_ensemble_settles_the_budget_reservation(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """While a stalled ensemble runs, /status counts its reservation (4096 output tokens a call); after
    its caller leaves, the members' prompts are charged and the reserved output is released."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", reply="bug", latency_ms=2000) for i in range(2)]
    policy = models_policy([u for u, _ in watched], ensemble_route("m0, m1"), speaks=("openai",))
    policy += (
        "budgets:\n  limits:\n"
        "    - {name: tokens, measure: tokens, amount: 100000000, window: month, scope: {by: global}}\n"
    )
    running = await sidecar(policy)

    async def used() -> float:
        async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
            return float((await answer.json())["budgets"][0]["used"])

    async def holding() -> bool:  # while the calls run (2 s), their reserved output (4096 tokens each) counts
        return all(fake.requests for _, fake in watched) and await used() > 8192

    await leave_once(running, {"model": "vote", "messages": MESSAGES}, holding)
    for _, fake in watched:
        assert await fake.closed()
    settled = await until(used, lambda spent: spent < 1000)  # the reserved output (4096 per call) is not charged
    assert settled > 0  # the prompts the members received are charged, not released


async def test_followers_of_a_leader_whose_caller_left_share_one_new_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """Single flight: the leader's caller leaves while its call is stalled; of the three identical
    requests waiting on it, one leads a new call and the other two are served its answer: two upstream
    calls in all, not one per waiting request, answered in about the stall's time (not after the 30 s
    follower wait)."""
    url, watched = await watched_fake(aiohttp_server, name="f0", reply="bug", fault="stall=1;times=2", fault_rate=1)
    route = "  - {name: vote, match: {model: vote}, target: [m0], cache: {enabled: true, cacheable: always}}\n"
    running = await sidecar(models_policy([url], route, speaks=("openai",)))
    body = {"model": "vote", "messages": MESSAGES}
    leaving = asyncio.ensure_future(leave_after(running, body, 0.5))
    await asyncio.sleep(0.2)
    started = time.monotonic()

    async def follow() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{running.url}/v1/chat/completions", json=body) as r,
        ):
            await r.read()
            return r.status, r.headers["x-sidecar-cache"]

    answers = await asyncio.gather(follow(), follow(), follow())
    await leaving
    assert time.monotonic() - started < 5
    assert [status for status, _ in answers] == [200, 200, 200]
    assert sorted(cache for _, cache in answers) == ["hit", "hit", "miss"]
    assert len(watched.requests) == 2  # the leader's call, then one for the three followers
