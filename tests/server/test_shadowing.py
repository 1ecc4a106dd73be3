"""Shadow evaluation through the real sidecar: the caller's answer never changes, whatever the shadow
candidates do; agreement, cost and latency are published in /status and /metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, SidecarFactory
from .ensemble_policies import ensemble_route, models_policy
from .provider_quotas import usage_less
from .shadow_calls import ask, shadowed, status_rows


async def test_agreement_is_counted_in_status_and_metrics(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Two sampled requests whose candidate answers alike: agreement 1.0 per task class in /status, and
    the agreed results in /metrics; the caller's answer is the served model's, marked sampled."""
    urls = [await fake("f0", reply="Billing"), await fake("f1", reply="billing")]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    text, headers = await ask(running)
    await ask(running, extra_headers={"x-sidecar-task": "classification"})
    assert text == "Billing" and headers["x-sidecar-shadow"] == "sampled" and headers["x-sidecar-model"] == "m0"
    rows = await status_rows(running, 2)
    assert [(r["task"], r["candidate"], r["compared"], r["agreement"]) for r in rows] == [
        ("any", "m1", 1, 1.0),
        ("classification", "m1", 1, 1.0),
    ]
    assert rows[0]["cost_ratio"] is not None and rows[0]["cost_ratio"] > 1  # m1 costs twice m0
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        metrics = await response.text()
    assert 'llm_sidecar_shadow_results_total{candidate="m1",result="agreed",route="served",task="any"} 1.0' in metrics


async def test_a_stalled_shadow_candidate_does_not_delay_the_answer(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The candidate takes 5 s: the caller's answer comes at once and is the served model's."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="other", latency_ms=5000)]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    started = time.monotonic()
    text, headers = await ask(running)
    assert time.monotonic() - started < 2
    assert text == "bug" and headers["x-sidecar-model"] == "m0"


async def test_a_failing_shadow_candidate_does_not_fail_the_request(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The candidate answers 503, in a stream too: the caller's answers are unchanged, the failure is counted."""
    urls = [await fake("f0", reply="bug"), await fake("f1", fault="status=503", fault_rate=1.0)]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    assert (await ask(running))[0] == "bug"
    assert (await ask(running, stream=True))[0] == "bug"
    rows = await status_rows(running, 2)
    assert rows[0]["failed"] == 2 and rows[0]["compared"] == 0


async def test_a_shadow_call_that_fails_after_its_200_counts_its_prompt_and_text(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The candidate answers 200 with a body that is not JSON (the provider ran the prompt): the call is
    failed, and its prompt and the text in its body (estimated, at the candidate's prices: 2 $/Mtok in,
    20 $/Mtok out) are in the shadow's candidate cost, in /status and in
    llm_sidecar_shadow_cost_usd_total, not 0."""
    urls = [await fake("f0", reply="bug"), await fake("f1", fault="malformed", fault_rate=1.0)]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    assert (await ask(running))[0] == "bug"
    rows = await status_rows(running, 1)
    assert rows[0]["failed"] == 1
    assert 50 * 2e-6 < rows[0]["cost_usd"] < 50 * 2e-6 + 100 * 20e-6  # more than a prompt: its text too
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        metrics = await response.text()
    labels = 'candidate="m1",route="served",side="candidate",task="any"'
    assert f"llm_sidecar_shadow_cost_usd_total{{{labels}}} {rows[0]['cost_usd']}" in metrics


async def test_a_streamed_answer_is_compared_too(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streaming caller's answer, as it was streamed, is what the candidate is compared with."""
    urls = [await fake("f0", reply="the bug queue"), await fake("f1", reply="The  Bug queue")]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    assert (await ask(running, stream=True))[0] == "the bug queue"
    rows = await status_rows(running, 1)
    assert rows[0]["agreed"] == 1


async def test_shadow_calls_beyond_the_limit_are_skipped(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """max_concurrent 1 and a stalled candidate: the second sample finds no slot and is skipped."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug", latency_ms=3000)]
    running = await sidecar(models_policy(urls, shadowed("m1", ", max_concurrent: 1"), speaks=("openai",)))
    await ask(running)
    await ask(running)
    rows = await status_rows(running, 1)
    assert rows[0]["skipped"] == 1


async def test_a_reload_changing_max_concurrent_keeps_the_calls_in_flight_counted(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max_concurrent 1 and a stalled candidate with one call in flight; a reload raises it to 2: of two more
    samples one is asked and one skipped, so at most 2 calls are in flight (before 2026-12-06 the reload
    made a fresh bound that forgot the call in flight: both were asked, 3 in flight)."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug", latency_ms=3000)]
    text = models_policy(urls, shadowed("m1", ", max_concurrent: 1"), speaks=("openai",))
    running = await sidecar(text)
    await ask(running)
    await running.reload(text.replace("max_concurrent: 1", "max_concurrent: 2"))
    await ask(running)
    await ask(running)
    rows = await status_rows(running, 1)
    assert rows[0]["skipped"] == 1


async def test_a_judge_can_decide_agreement(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """shadow judge: the judge's {"same": false} counts a disagreement whatever the normalizer says."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug"), await fake("f2", reply='{"same": false}')]
    running = await sidecar(models_policy(urls, shadowed("m1", ", judge: {target: m2}"), speaks=("openai",)))
    await ask(running)
    rows = await status_rows(running, 1)
    assert rows[0]["compared"] == 1 and rows[0]["agreed"] == 0


async def test_the_agreement_judges_cost_is_not_the_candidates(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Candidate m1 (twice m0's price, the same answer) judged by m2: the cost ratio is m1's call over
    m0's, 2, and the judge's call is counted apart, in ``judge_cost_usd`` and the metric's side
    ``judge`` (before: added to the candidate's cost, which made the candidate look dearer)."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug"), await fake("f2", reply='{"same": true}')]
    running = await sidecar(models_policy(urls, shadowed("m1", ", judge: {target: m2}"), speaks=("openai",)))
    await ask(running)
    rows = await status_rows(running, 1)
    assert rows[0]["agreed"] == 1 and rows[0]["cost_ratio"] == pytest.approx(2.0)
    assert rows[0]["judge_cost_usd"] > 0
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        metrics = await response.text()
    assert 'llm_sidecar_shadow_cost_usd_total{candidate="m1",route="served",side="judge",task="any"}' in metrics


async def test_task_classes_beyond_the_tables_room_are_counted_as_other(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With the statistics full, a request's new task class is recorded as other (labels stay bounded), in
    /status too (before 2026-12-06 the other row found no room in a full table either: the outcome was in
    the metrics only)."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug")]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    running.state.shadow.max_keys = 1
    await ask(running, extra_headers={"x-sidecar-task": "first"})
    await status_rows(running, 1)
    await ask(running, extra_headers={"x-sidecar-task": "second"})
    async with aiohttp.ClientSession() as session:
        for _ in range(60):
            async with session.get(f"{running.url}/metrics") as response:
                metrics = await response.text()
            if 'task="other"' in metrics:
                break
            await asyncio.sleep(0.05)
    assert 'llm_sidecar_shadow_results_total{candidate="m1",result="agreed",route="served",task="other"} 1.0' in metrics
    assert [(row["task"], row["agreed"]) for row in await status_rows(running, 2)] == [("first", 1), ("other", 1)]


async def test_routings_task_class_keys_the_statistics(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With a routing block, the shadow statistics are kept under the task class routing decided (a
    keyword rule here), not under the app's header."""
    urls = [await fake("f0", reply="Billing"), await fake("f1", reply="billing")]
    routing = "routing:\n  classes: [{name: triage, rules: [{keywords: [queue]}]}]\n"
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)) + routing)
    await ask(running, extra_headers={"x-sidecar-task": "classification"})
    rows = await status_rows(running, 1)
    assert [(r["task"], r["agreed"]) for r in rows] == [("triage", 1)]


async def test_a_streamed_answer_past_the_upstream_limit_is_not_held(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A streamed served answer longer than SIDECAR_UPSTREAM_MAX_BODY_BYTES reaches the caller whole, but
    is not held for comparison: the candidate is not asked and no row appears (a lying upstream streaming
    a gigabyte does not make the sidecar hold a gigabyte)."""
    long_answer = "bug " * 700  # 2,800 bytes, over the 1,024-byte limit
    urls = [await fake("f0", reply=long_answer), await fake("f1", reply="bug")]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)), upstream_max_body_bytes=1024)
    text, headers = await ask(running, stream=True)
    assert text == long_answer and headers["x-sidecar-shadow"] == "sampled"
    assert await status_rows(running, 1, timeout_s=1.0) == []


async def test_the_served_cost_of_an_ensemble_is_every_members_call(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A shadow on an ensemble route of m0 and m1: the served side's cost is the request's (both members'
    calls, the access line's cost_usd), not the winning member's alone, so the cost ratio compares the
    candidate with what serving cost (before: m0's call only, a third of it here)."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug"), await fake("f2", reply="bug")]
    route = ensemble_route("m0, m1", "early_quorum: false", name="served")
    route += "    shadow: {candidates: [m2], sample: 1.0}\n"
    running = await sidecar(models_policy(urls, route, speaks=("openai",)))
    await ask(running)
    rows = await status_rows(running, 1)
    cost = running.log_lines()[-1]["cost_usd"]
    assert [(r["candidate"], r["compared"], r["agreement"]) for r in rows] == [("m2", 1, 1.0)]
    assert rows[0]["served_cost_usd"] == pytest.approx(cost)


async def test_a_streamed_ensemble_answer_is_compared(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streaming caller of an ensemble route: the vote's answer, replayed as a stream, is compared with
    the candidate's (before 2026-12-06 the replay was shown to no tap: the request was marked sampled, the
    candidate never asked, and the table stayed empty)."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug"), await fake("f2", reply="Bug")]
    route = ensemble_route("m0, m1", "early_quorum: false", name="served")
    route += "    shadow: {candidates: [m2], sample: 1.0}\n"
    running = await sidecar(models_policy(urls, route, speaks=("openai",)))
    text, headers = await ask(running, stream=True)
    assert text == "bug" and headers["x-sidecar-shadow"] == "sampled"
    rows = await status_rows(running, 1)
    assert [(r["candidate"], r["compared"], r["agreement"]) for r in rows] == [("m2", 1, 1.0)]


@pytest.mark.parametrize("side", ["served", "candidate"])
async def test_an_answer_without_usage_counts_its_estimate_on_its_side(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, side: str
) -> None:
    """When the served model's or the candidate's provider reports no usage, that side's cost is its estimate
    (the prompt estimate and max_tokens 20, at its model's price: 1 $/Mtok in and 10 out for m0, 2 and 20 for
    m1), as the access line's cost_usd counts it; before 2026-12-06 it was 0, so a candidate without usage
    looked free (a cost ratio of 0) and a served model without usage left the ratio empty."""
    quiet = await usage_less(aiohttp_server)
    reporting = await fake("f", reply="billing")
    urls = [quiet, reporting] if side == "served" else [reporting, quiet]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    assert (await ask(running, max_tokens=20))[0] == "billing"
    rows = await status_rows(running, 1)
    cost = rows[0]["served_cost_usd" if side == "served" else "cost_usd"]
    price_out = 10e-6 if side == "served" else 20e-6
    assert rows[0]["agreed"] == 1 and 20 * price_out < cost < 20 * price_out + 100 * price_out
    if side == "served":
        assert cost == pytest.approx(running.access_lines()[-1]["cost_usd"])


async def test_a_candidate_its_provider_refuses_is_failed_and_costs_nothing(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The candidate's provider refuses the request with its own 400 (a context overflow): the call is
    failed and its cost 0 (the provider billed nothing), not an answer without usage's estimate."""
    urls = [await fake("f0", reply="bug"), await fake("f1", fault="context", fault_rate=1.0)]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    assert (await ask(running, max_tokens=20))[0] == "bug"
    rows = await status_rows(running, 1)
    assert (rows[0]["failed"], rows[0]["cost_usd"]) == (1, 0.0)
