"""A target's health state (breaker, retry budget, bulkhead) across a policy reload, with a real sidecar
and fake providers: a reload changes only the parts whose settings it changes, and requests still on
the older policy use the target's state as the new policy set it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until
from .chain import (
    breaker_series,
    calls,
    chain_policy,
    chat,
    fakes,
    held_fake,
    metrics_of,
    post,
    resilience_line,
    set_fault,
)

BREAKER = "  breaker: {window_size: 10, minimum_calls: 3, failure_rate: 0.5, open_s: 20, half_open_probes: 1}\n"
ONE_TRY = resilience_line("max_attempts_per_target: 1, ")
BACK = "  - name: back\n    match: {model: back}\n    target: [m1, m0]\n"


def policy(urls: list[str], defaults: str) -> str:
    """Route ``chain`` = [m0, m1] and route ``back`` = [m1, m0], one try per target."""
    return chain_policy(urls, extra_defaults=defaults, route_extra=BACK, resilience=ONE_TRY)


# Route ``back``'s request that m1's provider holds (``held_second``) until the test lets it go, then refuses.
HELD_BODY = {"model": "back", "messages": [{"role": "user", "content": "[held] [fault:f1:status=503] hi"}]}


async def held_second(aiohttp_server: Any, fake: FakeFactory) -> tuple[list[str], asyncio.Event]:
    """The URLs of m0's provider and of m1's, which holds the calls marked ``[held]`` (``HELD_BODY``) until
    the event returned is set: a request on the older policy stays at m1 however long the reload takes on
    a loaded machine (a stall of 1.5 s could end before it)."""
    let_go = asyncio.Event()
    return [await fake("f0"), await held_fake(aiohttp_server, "f1", let_go, marked="[held]")], let_go


def breaker_of(running: RunningSidecar, target: str) -> str:
    return str(running.state.targets.snapshot()[target]["breaker"]["state"])


async def open_first(running: RunningSidecar, url: str) -> None:
    """m0's provider answers 503 until m0's breaker opens (3 calls)."""
    await set_fault(url, {"fault": "status=503"})
    for _ in range(3):
        assert (await chat(running))[0] == 200
    assert breaker_of(running, "p0/up0") == "open"


@pytest.mark.parametrize(
    "changed",
    [
        "  bulkhead: {max_concurrent: 64}\n",
        "  retry_budget: {ratio: 0.5}\n",
    ],
)
async def test_a_reload_that_changes_another_part_keeps_an_open_breaker(
    fake: FakeFactory, sidecar: SidecarFactory, changed: str
) -> None:
    """A reload changing only the bulkhead or the retry budget keeps the target's breaker: an open one
    stays open, and the next request skips the target without a call (it did close it, and the failing
    provider was called again)."""
    urls = await fakes(fake, 2)
    running = await sidecar(policy(urls, BREAKER))
    await open_first(running, urls[0])
    await running.reload(policy(urls, BREAKER + changed))
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "breaker_open"
    assert await calls(urls[0]) == 3 and breaker_of(running, "p0/up0") == "open"


async def test_a_request_on_the_older_policy_does_not_restart_a_breaker_the_new_one_opened(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A request that started before a reload changing the breaker settings reaches a target after the
    new policy's requests opened its breaker: it is skipped like them, and the breaker stays open (the
    old request's settings made the target a new, closed breaker, and the next new request another)."""
    urls, let_go = await held_second(aiohttp_server, fake)
    running = await sidecar(policy(urls, BREAKER))
    async with aiohttp.ClientSession() as session:
        old = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=HELD_BODY))
        await reach(urls[1], 1)  # on m1 (held there), under the first policy
        await running.reload(policy(urls, BREAKER.replace("open_s: 20", "open_s: 30")))
        await open_first(running, urls[0])
        let_go.set()
        response = await old  # m1 failed: m0 next, whose breaker is open
        assert response.status == 503
        response.release()
    assert await calls(urls[0]) == 3
    assert breaker_of(running, "p0/up0") == "open"
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "breaker_open"
    assert await calls(urls[0]) == 3


async def test_a_request_on_the_older_policy_does_not_bring_back_a_removed_target(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A reload takes m0 out of the policy while a request that started before it still runs; that
    request's fallback to m0 is made (its policy has m0), but m0's target does not come back in /status
    nor its breaker series in /metrics (a series nothing updates would keep any alert on it firing)."""
    urls, let_go = await held_second(aiohttp_server, fake)
    running = await sidecar(policy(urls, BREAKER))
    assert (await chat(running))[0] == 200  # p0/up0 known
    async with aiohttp.ClientSession() as session:
        old = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=HELD_BODY))
        await reach(urls[1], 1)  # on m1 (held there), under the first policy
        without_m0 = policy(urls, BREAKER).replace("target: [m0, m1]", "target: [m1]").replace("[m1, m0]", "[m1]")
        await running.reload(without_m0.replace("  m0: {provider: p0, model: up0}\n", ""))
        assert "p0/up0" not in running.state.targets.snapshot()
        let_go.set()
        response = await old  # m1 failed: m0 next, as the request's policy says
        assert response.status == 200, await response.text()
        assert response.headers["x-sidecar-model"] == "m0"
        response.release()
    assert "p0/up0" not in running.state.targets.snapshot()
    assert "state" not in breaker_series(await metrics_of(running), "p0/up0")


BULKHEAD = "  bulkhead: {max_concurrent: %d, queue_timeout_s: 8}\n"


async def reach(url: str, count: int) -> None:
    """Wait (at most 10 s, else fail) until the fake provider at ``url`` has seen ``count`` requests."""
    await until(lambda: calls(url), lambda seen: seen >= count)


def bulkhead_of(running: RunningSidecar) -> object:
    return running.state.targets.snapshot().get("p0/up0", {}).get("bulkhead")


async def arrivals(url: str) -> list[int]:
    """How many requests the fake provider at ``url`` was answering as each one arrived (itself too)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/requests") as response:
        return [record["in_flight"] for record in await response.json()]


async def test_a_reload_lowering_max_concurrent_counts_the_calls_already_in_flight(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Four calls in flight to m0 (max_concurrent 4; its provider holds them) when a reload lowers it
    to 2; four more calls then: none reaches the provider while two or more are in flight there (the
    new limit counts the four old calls; it did start from zero and let two through at once, six in
    flight), /status shows the four old in flight and the four new queued, and once the provider
    answers every call is answered, nothing left behind."""
    answer = asyncio.Event()
    urls = [await held_fake(aiohttp_server, "f0", answer), await fake("f1")]
    running = await sidecar(policy(urls, BULKHEAD % 4))
    async with aiohttp.ClientSession() as session:
        old = [post(session, running, 0.1) for _ in range(4)]
        await reach(urls[0], 4)  # held there until ``answer`` is set
        await running.reload(policy(urls, BULKHEAD % 2))
        new = [post(session, running, 0.1) for _ in range(4)]
        await until(lambda: bulkhead_of(running), lambda seen: seen == {"in_flight": 4, "queued": 4})
        assert await calls(urls[0]) == 4
        answer.set()
        assert await asyncio.gather(*old, *new) == [200] * 8
    records = await arrivals(urls[0])
    assert records[:4] == [1, 2, 3, 4]
    assert len(records) == 8 and all(count <= 2 for count in records[4:]), records
    assert running.state.targets.snapshot()["p0/up0"]["bulkhead"] == {"in_flight": 0, "queued": 0}


async def test_a_target_removed_and_brought_back_counts_its_calls_still_in_flight(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Two calls in flight to m0 (max_concurrent 2; its provider holds them) when a reload takes m0 out
    of the policy and the next brings it back: two more calls wait for the old ones in m0's queue (the
    target came back with a fresh bulkhead, counting from zero: four in flight at the provider), and
    once the provider answers all four are answered."""
    answer = asyncio.Event()
    urls = [await held_fake(aiohttp_server, "f0", answer), await fake("f1")]
    running = await sidecar(policy(urls, BULKHEAD % 2))
    without_m0 = policy(urls, BULKHEAD % 2).replace("target: [m0, m1]", "target: [m1]").replace("[m1, m0]", "[m1]")
    async with aiohttp.ClientSession() as session:
        old = [post(session, running, 0.1) for _ in range(2)]
        await reach(urls[0], 2)  # held there until ``answer`` is set
        await running.reload(without_m0.replace("  m0: {provider: p0, model: up0}\n", ""))
        await running.reload(policy(urls, BULKHEAD % 2))
        new = [post(session, running, 0.1) for _ in range(2)]
        await until(lambda: bulkhead_of(running), lambda seen: seen == {"in_flight": 2, "queued": 2})
        assert await calls(urls[0]) == 2
        answer.set()
        assert await asyncio.gather(*old, *new) == [200] * 4
    records = await arrivals(urls[0])
    assert records[:2] == [1, 2] and len(records) == 4 and all(count <= 2 for count in records[2:]), records


async def test_requests_on_the_older_policy_share_the_removed_targets_bulkhead(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Four requests on route ``back`` = [m1, m0] (max_concurrent 2: two on m1 at a time, 0.5 s each)
    when a reload takes m0 out of the policy; m1 fails them and they fall back to m0 (1.5 s), as their
    policy says: never more than two at m0's provider (each call had a bulkhead of its own, so the
    second pair joined the first: four at once), all answered."""
    urls = await fakes(fake, 2)
    running = await sidecar(policy(urls, BULKHEAD % 2))
    faults = "[fault:f1:stall=0.5,f1:status=503,f0:stall=1.5] hi"
    body = {"model": "back", "messages": [{"role": "user", "content": faults}]}
    without_m0 = policy(urls, BULKHEAD % 2).replace("target: [m0, m1]", "target: [m1]").replace("[m1, m0]", "[m1]")

    async def status(session: aiohttp.ClientSession) -> int:
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            await response.read()
            return response.status

    async with aiohttp.ClientSession() as session:
        old = [asyncio.ensure_future(status(session)) for _ in range(4)]
        await reach(urls[1], 2)  # the first two on m1 (stalled), under the first policy
        await running.reload(without_m0.replace("  m0: {provider: p0, model: up0}\n", ""))
        assert await asyncio.gather(*old) == [200] * 4
    records = await arrivals(urls[0])
    assert len(records) == 4 and max(records) == 2, records
    assert "p0/up0" not in running.state.targets.snapshot()


async def test_a_reload_lowering_queue_timeout_moves_the_queued_calls_on(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """One call in flight to m0 (max_concurrent 1, queue_timeout_s 8; its provider holds it) and one
    queued behind it when a reload lowers queue_timeout_s to 0.2: the queued one has waited longer,
    leaves the queue at once (not 8 s after it came) and is answered by m1 (bulkhead_full) while the
    first call still runs (it waits for m0), and m0's provider sees one call."""
    answer = asyncio.Event()
    urls = [await held_fake(aiohttp_server, "f0", answer), await fake("f1")]
    running = await sidecar(policy(urls, "  bulkhead: {max_concurrent: 1, queue_timeout_s: 8}\n"))
    body = {"model": "chain", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        slow = post(session, running, 0.1)
        await reach(urls[0], 1)  # held there until ``answer`` is set
        queued = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await until(lambda: bulkhead_of(running), lambda seen: seen == {"in_flight": 1, "queued": 1})
        await running.reload(policy(urls, "  bulkhead: {max_concurrent: 1, queue_timeout_s: 0.2}\n"))
        response = await asyncio.wait_for(queued, 5.0)  # its old 8 s would end 6 s or more from now
        assert response.status == 200 and response.headers["x-sidecar-fallback-reason"] == "bulkhead_full"
        response.release()
        assert not slow.done()
        answer.set()
        assert await slow == 200
    assert await calls(urls[0]) == 1 and await calls(urls[1]) == 1
