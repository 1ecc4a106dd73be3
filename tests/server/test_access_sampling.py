"""The policy's ``access_log`` block on a real sidecar (fake providers, the official OpenAI SDK): a share of
the plain successes' access lines is written, with ``sample_rate``; the lines that matter are always
written; the lines left out are counted; metrics and spans do not change; a reload changes the rate."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..routing.policies import MODELS, routing_policy
from ..sdk_clients import openai_client
from .budget_policies import close_after_a_few_words
from .metric_samples import sampled_out

LONG_REPLY = " ".join(f"word{i}" for i in range(400))
HI = [{"role": "user", "content": "hi"}]


def policy(one: str, two: str, access_log: str = "", solo_log: str = "") -> str:
    """Models ``a`` (fake ``one``) and ``b`` (fake ``two``); route ``solo`` (model ``solo``: ``a`` alone)
    and ``chain`` (``[a, b]``)."""
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", one, "openai")
        + provider_block("two", two, "openai")
        + "models:\n  a: {provider: one, model: up-a}\n  b: {provider: two, model: up-b}\n"
        + f"routes:\n  - {{name: solo, match: {{model: solo}}, target: a{solo_log}}}\n"
        + "  - {name: chain, target: [a, b]}\n"
        + access_log
    )


async def started(
    fake: FakeFactory, sidecar: SidecarFactory, access_log: str, solo_log: str = "", **one: Any
) -> RunningSidecar:
    return await sidecar(policy(await fake("one", **one), await fake("two"), access_log, solo_log))


def access_lines(running: RunningSidecar) -> list[dict[str, Any]]:
    return [line for line in running.log_lines() if line.get("event") == "access"]


async def chat(running: RunningSidecar, model: str = "chain", **headers: str) -> None:
    async with openai_client(running, **headers) as client:
        await client.chat.completions.create(model=model, messages=HI)  # type: ignore[arg-type]


def traceparent(low64: int, flags: str = "01") -> str:
    return f"00-{'ab' * 4}{low64:024x}-{'cd' * 8}-{flags}"


SAMPLE_0 = "access_log: {sample: 0}\n"


async def test_without_the_block_every_line_is_written_as_before(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """No ``access_log`` block and ``sample: 1``: every request's line, no ``sample_rate``, the same fields in
    the same order; the policy compiles to no sampling (nothing more per request)."""
    keys = []
    for block in ("", "access_log: {sample: 1, by: trace_id}\n"):
        running = await started(fake, sidecar, block)
        assert running.state.holder.policy.access_sampling is None
        for _ in range(3):
            await chat(running)
        lines = access_lines(running)
        assert len(lines) == 3 and all("sample_rate" not in line for line in lines)
        keys.append([list(line) for line in lines])
    assert keys[0] == keys[1]


async def test_sample_0_writes_no_plain_success_and_counts_it(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``sample: 0``: a plain success writes no line; it is counted by route, and its span and request
    metrics are as without the block."""
    running = await started(fake, sidecar, SAMPLE_0)
    await chat(running)
    await chat(running, model="solo")
    assert access_lines(running) == []
    assert await sampled_out(running) == {"chain": 1.0, "solo": 1.0}
    servers = [span for span in running.spans.get_finished_spans() if span.kind.name == "SERVER"]
    assert len(servers) == 2


async def test_sample_0_keeps_an_error_status(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A 400 from the provider, relayed to the app: written (``error``), without ``sample_rate``."""
    running = await started(fake, sidecar, SAMPLE_0)
    with pytest.raises(openai.BadRequestError):
        await chat(running, model="solo", **{"x-fake-fault": "status=400"})
    [line] = access_lines(running)
    assert (line["status"], line["outcome"]) == (400, "failed") and "sample_rate" not in line


async def test_sample_0_keeps_a_fallback(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The first target answers 503, the second answers: the ``fallback`` line is written."""
    running = await started(fake, sidecar, SAMPLE_0)
    await chat(running, **{"x-fake-fault": "one:status=503"})
    [line] = access_lines(running)
    assert (line["status"], line["outcome"], line["served_model"]) == (200, "fallback", "b")


async def test_sample_0_keeps_a_retry_of_the_same_target(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: [retry]``: a single-target route whose first try fails and second answers is written."""
    running = await started(fake, sidecar, "access_log: {sample: 0, always: [retry]}\n")
    await chat(running, model="solo", **{"x-fake-fault": "status=503;times=1"})
    await chat(running, model="solo")
    [line] = access_lines(running)
    assert line["attempt_log"] == ["a:overloaded", "a:ok"]


async def test_sample_0_keeps_a_stream_the_provider_cut(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream cut by the provider after its commit point: the ``stream_error`` line is written."""
    running = await started(fake, sidecar, SAMPLE_0, reply=LONG_REPLY)
    async with openai_client(running, **{"x-fake-fault": "cut=5"}) as client:
        stream = await client.chat.completions.create(model="solo", messages=HI, stream=True)  # type: ignore[arg-type]
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
    [line] = await eventually_lines(running, 1)
    assert line["outcome"] == "stream_error"


async def test_sample_0_keeps_a_client_that_left(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The app closes a slow stream after a few words: the ``client_closed`` line is written."""
    running = await started(fake, sidecar, SAMPLE_0, reply=LONG_REPLY, tokens_per_s=40)
    async with openai_client(running) as client:
        await close_after_a_few_words(client)
    [line] = await eventually_lines(running, 1)
    assert (line["status"], line["outcome"]) == (499, "client_closed")


async def test_sample_0_keeps_a_slow_answer(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``slower_than_s: 0.3``: an answer that took 0.5 s is written, a fast one is not."""
    running = await started(fake, sidecar, "access_log: {sample: 0, slower_than_s: 0.3}\n")
    await chat(running, model="solo")
    await chat(running, model="solo", **{"x-fake-fault": "stall=0.5"})
    [line] = access_lines(running)
    assert line["latency_ms"] > 300


async def test_an_empty_always_list_samples_errors_too(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: []``: an error status is sampled like any line."""
    running = await started(fake, sidecar, "access_log: {sample: 0, always: []}\n")
    with pytest.raises(openai.BadRequestError):
        await chat(running, model="solo", **{"x-fake-fault": "status=400"})
    assert access_lines(running) == []


async def test_by_trace_id_keeps_the_share_drawn_from_the_trace_ids(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``sample: 0.25, by: trace_id``: of 40 traces whose ids' low 64 bits spread evenly, exactly the 10
    below a quarter of the range are written, each with ``sample_rate: 0.25``."""
    running = await started(fake, sidecar, "access_log: {sample: 0.25, by: trace_id}\n")
    ids = [int((i + 0.5) / 40 * 2**64) for i in range(40)]
    for low in ids:
        await chat(running, traceparent=traceparent(low, "00"))
    lines = access_lines(running)
    assert sorted(int(line["trace_id"][-16:], 16) for line in lines if "trace_id" in line) in ([], sorted(ids[:10]))
    assert len(lines) == 10 and {line["sample_rate"] for line in lines} == {0.25}


async def test_random_draws_keep_about_the_share(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``sample: 0.5`` (random): of 100 requests between 20 and 80 lines (6 standard deviations)."""
    running = await started(fake, sidecar, "access_log: {sample: 0.5}\n")
    async with openai_client(running) as client:
        for _ in range(100):
            await client.chat.completions.create(model="chain", messages=HI)  # type: ignore[arg-type]
    lines = access_lines(running)
    assert 20 <= len(lines) <= 80 and {line["sample_rate"] for line in lines} == {0.5}
    assert await sampled_out(running) == {"chain": 100.0 - len(lines)}


async def test_the_apps_sampled_flag_forces_a_line(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: [app_sampled]``: a traceparent with its sampled flag is written, one without is not."""
    running = await started(fake, sidecar, "access_log: {sample: 0, always: [app_sampled]}\n")
    await chat(running, traceparent=traceparent(7, "00"))
    await chat(running, traceparent=traceparent(9, "01"))
    [line] = access_lines(running)
    assert line["trace_id"].endswith(f"{9:016x}")


async def test_a_route_sets_its_own_rate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``sample: 0`` with ``solo``'s ``access_log: {sample: 1}``: solo's lines, without ``sample_rate``."""
    running = await started(fake, sidecar, SAMPLE_0, solo_log=", access_log: {sample: 1}")
    await chat(running, model="solo")
    await chat(running)
    [line] = access_lines(running)
    assert line["route"] == "solo" and "sample_rate" not in line


async def test_a_reload_changes_the_rate_of_the_next_request(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Written, then ``sample: 0`` reloaded: the next request's line is left out; back to 1: written."""
    one, two = await fake("one"), await fake("two")
    running = await sidecar(policy(one, two))
    await chat(running)
    await running.reload(policy(one, two, SAMPLE_0))
    await chat(running)
    assert len(access_lines(running)) == 1
    await running.reload(policy(one, two, "access_log: {sample: 1}\n"))
    await chat(running)
    assert len(access_lines(running)) == 2


async def routing_costs(running: RunningSidecar) -> dict[str, float]:
    """The routing savings counters' samples (served and requested cost by route and task), from ``/metrics``."""
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("llm_sidecar_routing_") and sample.name.endswith("_cost_usd_total")
    }


async def test_a_routing_request_sampled_out_counts_its_savings(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A routing policy (``model: big`` sent to the cheapest capable model) at ``sample: 0``: the request
    writes no line, yet routing's savings counters and its span's estimated cost are those of the same
    request whose line is written (the line's fields are built only for a line written)."""
    urls = {name: await fake(name) for name in MODELS}
    routes = "  - name: auto\n    match: {model: big}\n    target: {select: cheapest}\n"
    seen = []
    for block in ("", SAMPLE_0):
        running = await sidecar(routing_policy(urls, routes) + block)
        async with openai_client(running) as client:
            messages = [{"role": "user", "content": "Extract the city: Paris."}]
            await client.chat.completions.create(model="big", messages=messages)  # type: ignore[arg-type]
        [span] = [span for span in running.spans.get_finished_spans() if span.kind.name == "SERVER"]
        costs = await routing_costs(running)
        seen.append((costs, span.attributes["sidecar.routing.estimated_cost_usd"], len(access_lines(running))))
    (written_costs, written_estimate, lines), (sampled_costs, sampled_estimate, no_lines) = seen
    assert (lines, no_lines) == (1, 0) and len(written_costs) == 2 and all(written_costs.values())
    assert (sampled_costs, sampled_estimate) == (written_costs, written_estimate)


async def eventually_lines(running: RunningSidecar, count: int) -> list[dict[str, Any]]:
    """The access lines once there are ``count`` (a cut stream's line follows its answer)."""
    for _ in range(200):
        lines = access_lines(running)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} access lines")
