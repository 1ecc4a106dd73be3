"""A target's bulkhead in /metrics (``llm_sidecar_bulkhead_in_flight``, ``_queued``, ``_max_concurrent``),
with a real sidecar and fake providers: read when metrics are collected, true across reloads (a new
limit at once, a removed target's series gone), and a call that found it full counted once, as a skip."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import FakeFactory, SidecarFactory
from ..waiting import until
from .bulkheads import held_chain, policy, queue_behind_a_held_call
from .chain import calls, chat, fakes, held_fake, metrics_of, post


def series(metrics: str, target: str) -> dict[str, float]:
    """``target``'s bulkhead gauges and its skip counters in /metrics text, by short name."""
    found = {}
    for line in metrics.splitlines():
        name, _, value = line.rpartition(" ")
        if f'target="{target}"' not in name:
            continue
        if name.startswith("llm_sidecar_bulkhead_") and not name.startswith("llm_sidecar_bulkhead_wait_"):
            found[name.split("{", 1)[0].removeprefix("llm_sidecar_bulkhead_")] = float(value)
        elif name.startswith("llm_sidecar_skips_total{"):
            found["skip:" + name.split('reason="', 1)[1].split('"', 1)[0]] = float(value)
        elif name.startswith("llm_sidecar_upstream_attempts_total{"):
            found["attempts:" + name.split('outcome="', 1)[1].split('"', 1)[0]] = float(value)
        elif name.startswith("llm_sidecar_upstream_errors_total{"):
            found["errors:" + name.split('error_type="', 1)[1].split('"', 1)[0]] = float(value)
    return found


async def test_metrics_show_calls_in_flight_queued_and_the_limit(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1: one call to m0 (its provider holds it) holds the slot and two more queue
    (queue_timeout_s 3); /metrics then reads 1 in flight, 2 queued, limit 1 for p0/up0. The queued calls
    time out and move on to m1: each is counted once, as a skip bulkhead_full, and not as an upstream
    attempt or error as well (no call was made: it was counted both ways); the gauges read 0 at the end."""
    answer = asyncio.Event()
    urls = [await held_fake(aiohttp_server, "f0", answer), await fake("f1")]
    running = await sidecar(policy(urls, "{max_concurrent: 1, queue_timeout_s: 3}"))
    async with aiohttp.ClientSession() as session:
        slow = post(session, running, 0.0)
        await until(lambda: calls(urls[0]), lambda seen: seen == 1)  # held there until ``answer`` is set
        queued = [post(session, running, 0.0) for _ in range(2)]
        # both queued: read before the first leaves the queue (3 s after it came), else this fails
        text = await until(lambda: metrics_of(running), lambda page: series(page, "p0/up0").get("queued") == 2)
        during = series(text, "p0/up0")
        assert await asyncio.gather(*queued) == [200] * 2  # from m1, once their 3 s in the queue are over
        answer.set()
        assert await slow == 200
    assert during == {"in_flight": 1, "queued": 2, "max_concurrent": 1}
    after = series(await metrics_of(running), "p0/up0")
    assert after == {
        "in_flight": 0,
        "queued": 0,
        "max_concurrent": 1,
        "skip:bulkhead_full": 2,
        "attempts:ok": 1,
    }
    assert await calls(urls[0]) == 1 and await calls(urls[1]) == 2


async def test_a_reload_shows_the_new_limit_and_drops_a_removed_targets_series(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A reload raising max_concurrent shows the new limit in the next scrape without any call; a
    reload that takes m0 out of the policy removes its bulkhead series (m1's stay), and they do not
    come back (a gauge nothing updates would keep an alert firing)."""
    urls = await fakes(fake, 2)
    running = await sidecar(policy(urls, "{max_concurrent: 4}"))
    assert (await chat(running))[0] == 200
    assert series(await metrics_of(running), "p0/up0")["max_concurrent"] == 4
    await running.reload(policy(urls, "{max_concurrent: 9}"))
    assert series(await metrics_of(running), "p0/up0") == {
        "in_flight": 0,
        "queued": 0,
        "max_concurrent": 9,
        "attempts:ok": 1,
    }
    without_m0 = policy(urls, "{max_concurrent: 9}", chain="[m1]").replace("  m0: {provider: p0, model: up0}\n", "")
    await running.reload(without_m0)
    assert (await chat(running))[0] == 200
    metrics = await metrics_of(running)
    assert "llm_sidecar_bulkhead_in_flight{" in metrics
    assert 'llm_sidecar_bulkhead_in_flight{target="p0/up0"}' not in metrics
    assert series(metrics, "p1/up1")["max_concurrent"] == 9


async def test_a_call_that_waited_for_a_slot_shows_its_wait_on_the_server_span(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1: a call held at its provider holds m0's slot and a second request queues for it
    (queue_timeout_s 5) until the first ends 0.5 s later: the second's SERVER span has one
    `sidecar.bulkhead.waited` event for p0/up0 with the seconds it waited (its CLIENT span starts with the
    slot, so the wait shows only there); the first, which waited for nothing, has none."""
    urls, answer = await held_chain(aiohttp_server, fake)
    running = await sidecar(policy(urls, "{max_concurrent: 1, queue_timeout_s: 5}"))
    await queue_behind_a_held_call(running, urls, answer, 0.5)
    servers = await until(
        lambda: [span for span in running.spans.get_finished_spans() if span.kind.name == "SERVER"],
        lambda ended: len(ended) == 2,  # a span ends once its answer is written: maybe after the caller read it
    )
    waits = [[dict(e.attributes or {}) for e in span.events if e.name == "sidecar.bulkhead.waited"] for span in servers]
    assert [] in waits
    [[event]] = [w for w in waits if w]
    assert event["sidecar.target"] == "p0/up0" and 0.49 < float(event["sidecar.bulkhead.wait_s"]) < 4.5
