"""A bulkhead's queue time in /metrics (``llm_sidecar_bulkhead_wait_seconds{target,outcome}``), with a
real sidecar and fake providers, read with prometheus_client's own parser: a call that queued and got a
slot (``slot``), one that queued in vain (``timeout``); nothing for a call that found a free slot or was
turned away at once (it did not queue)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, SidecarFactory
from ..waiting import until
from .bulkheads import held_chain, policy, queue_behind_a_held_call, queued
from .chain import calls, metrics_of, post

WAIT = "llm_sidecar_bulkhead_wait_seconds"


def waits(metrics: str) -> dict[tuple[str, str], tuple[float, float]]:
    """The wait histogram's (count, sum) per (target, outcome), parsed by prometheus_client."""
    found: dict[tuple[str, str], list[float]] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name != WAIT:
            continue
        for sample in family.samples:
            key = (sample.labels["target"], sample.labels["outcome"])
            entry = found.setdefault(key, [0.0, 0.0])
            if sample.name == f"{WAIT}_count":
                entry[0] = sample.value
            elif sample.name == f"{WAIT}_sum":
                entry[1] = sample.value
    return {key: (count, total) for key, (count, total) in found.items()}


async def one_queued_call(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, *, queue_timeout_s: float, hold_s: float | None
) -> tuple[str, float, float]:
    """Route [m0, m1], m0's bulkhead of one slot with ``queue_timeout_s``; a call that m0's provider holds
    and a second one queued behind it (``queue_behind_a_held_call``, ``hold_s``): the one wait series of
    p0/up0 (outcome, count, sum)."""
    urls, answer = await held_chain(aiohttp_server, fake)
    running = await sidecar(policy(urls, f"{{max_concurrent: 1, queue_timeout_s: {queue_timeout_s}}}"))
    await queue_behind_a_held_call(running, urls, answer, hold_s)
    [((target, outcome), (count, total))] = waits(await metrics_of(running)).items()
    assert target == "p0/up0"
    return outcome, count, total


async def test_a_call_that_got_a_slot_after_queueing_is_observed_as_slot(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1, queue_timeout_s 5: a call held at its provider holds m0's slot; a second request
    queues until the first is let go 0.5 s later: one observation `slot` for p0/up0 of about 0.5 s; the
    first call, which found its slot free, is not observed."""
    (outcome, count, total) = await one_queued_call(aiohttp_server, fake, sidecar, queue_timeout_s=5, hold_s=0.5)
    assert (outcome, count) == ("slot", 1) and 0.49 < total < 4.5


async def test_a_call_that_queued_in_vain_is_observed_as_timeout(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1, queue_timeout_s 0.3: a call held at its provider holds m0's slot; a second request
    queues for 0.3 s, gets none and is served by m1: one observation `timeout` for p0/up0 of the queue
    timeout."""
    (outcome, count, total) = await one_queued_call(aiohttp_server, fake, sidecar, queue_timeout_s=0.3, hold_s=None)
    assert (outcome, count) == ("timeout", 1) and 0.29 <= total < 3.0  # never the 10 s deadline


async def test_a_call_turned_away_at_once_is_not_observed(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1, queue_timeout_s 0 (never queue): a second call while the slot is held is skipped
    at once (bulkhead_full) and served by m1; it did not queue, so the wait histogram has no series."""
    urls, answer = await held_chain(aiohttp_server, fake)
    running = await sidecar(policy(urls, "{max_concurrent: 1, queue_timeout_s: 0}"))
    await queue_behind_a_held_call(running, urls, answer, None)
    metrics = await metrics_of(running)
    assert 'llm_sidecar_skips_total{reason="bulkhead_full",target="p0/up0"} 1.0' in metrics
    assert waits(metrics) == {}


async def test_a_caller_gone_while_queued_is_observed_as_cancelled(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1, queue_timeout_s 5: while a call held at its provider holds m0's slot, a second
    caller queues and hangs up after 0.3 s: one observation `cancelled` for p0/up0, of about the time it
    waited."""
    urls, answer = await held_chain(aiohttp_server, fake)
    running = await sidecar(policy(urls, "{max_concurrent: 1, queue_timeout_s: 5}"))
    body = {"model": "chain", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, aiohttp.ClientSession() as impatient:
        held = post(session, running, 0.0)
        await until(lambda: calls(urls[0]), lambda seen: seen == 1)  # it holds the slot from here on
        leaving = asyncio.ensure_future(impatient.post(f"{running.url}/v1/chat/completions", json=body))
        await until(lambda: queued(running), lambda waiting: waiting == 1)
        await asyncio.sleep(0.3)  # the time it waits queued: the quantity its observation must carry
        leaving.cancel()  # the caller hangs up: its connection is closed
        await asyncio.gather(leaving, return_exceptions=True)
        found = waits(await until(lambda: metrics_of(running), waits))  # once the sidecar has seen it leave
        answer.set()
        assert await held == 200
    assert list(found) == [("p0/up0", "cancelled")]
    count, total = found["p0/up0", "cancelled"]
    assert count == 1 and 0.29 <= total < 3.0
