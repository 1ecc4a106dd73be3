"""Calls the provider accepted (a 2xx answer) that then failed, so that the sidecar moved on (server.billed):
charged to the request at their own model's price, in the budgets, the access line's ``cost_usd`` (which
names them, ``billed_failures``) and the cost metric; calls the provider refused or never answered are not.
A real sidecar, real fake providers (faults: docs/fake-provider.md), the official SDKs."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from ..upstream.raw import UpstreamFactory, response, serve_forever
from .budget_policies import (
    BIG,
    LIMITS,
    SMALL,
    access_line,
    answered_whole,
    budget_rows,
    chat,
    openai_sdk,
    policy,
    streamed_usage,
)
from .ensemble_policies import models_policy

# A gated route (the answer must be JSON of this schema) and its request.
SCHEMA: Any = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
FORMAT: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": SCHEMA}}
MESSAGES: Any = [{"role": "user", "content": "Label this ticket."}]
GATED = "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {}\n"


async def cost_metric(running: RunningSidecar) -> float:
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    families = text_string_to_metric_families(text)
    return sum(s.value for f in families for s in f.samples if s.name == "llm_sidecar_cost_usd_total")


@pytest.mark.parametrize(
    "fault", ["cut=1", "error-event=1", "malformed=1"], ids=["cut", "error-event", "malformed-event"]
)
async def test_a_stream_failing_before_its_commit_point_is_charged_its_prompt(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """The first target's stream sends its role-only chunk (held back) and fails; the next target serves
    the stream. The failed call's prompt (estimated) is charged at its own model's price, on top of the
    answer, in the budgets, the access line (``billed_failures`` names it) and the cost metric."""
    failing = await fake("one", fault=fault, fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), LIMITS, route="[big, small]"))
    usage = await streamed_usage(running)
    served = usage.prompt_tokens + usage.completion_tokens
    rows = await budget_rows(running)
    failed_prompt = rows["tokens-month/*"]["used"] - served
    assert 0 < failed_prompt < 50  # the estimate of "hello there" in a chat body
    line = access_line(running)
    assert line["billed_failures"] == [line["attempt_log"][0]]  # "big:<its error type>"
    expected = failed_prompt * BIG + served * SMALL
    assert line["cost_usd"] == pytest.approx(expected) == pytest.approx(rows["usd-month/*"]["used"])
    assert await cost_metric(running) == pytest.approx(expected)


async def test_an_anthropic_stream_cut_after_its_preamble_is_charged_the_providers_count(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic stream cut after ``message_start`` (the provider's input count, 1 output token),
    ``content_block_start`` and ``ping``: the caller gets the next target's stream; the cut call is
    charged the input the provider counted and its 1 output token, at its own price."""
    failing = await fake("one", fault="cut=3", fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), LIMITS, route="[big, small]"))
    client = sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key")
    async with client.messages.stream(
        model="chat", max_tokens=20, messages=[{"role": "user", "content": "hello there"}]
    ) as stream:
        message = await stream.get_final_message()
    await client.close()
    served = message.usage.input_tokens + message.usage.output_tokens
    failed = message.usage.input_tokens + 1  # the same prompt, counted by the same fake; message_start's 1
    rows = await budget_rows(running)
    assert rows["tokens-month/*"]["used"] == served + failed
    assert rows["usd-month/*"]["used"] == pytest.approx(failed * BIG + served * SMALL)
    line = access_line(running)
    assert line["billed_failures"] == [line["attempt_log"][0]]  # the cut call: "big:reset"


@pytest.mark.parametrize("fault", ["reset-body", "malformed"])
async def test_a_whole_answer_failing_after_its_2xx_head_is_charged_its_prompt_and_text(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """An unstreamed call answered 200 whose body breaks off (``reset-body``) or is not JSON: the next
    target answers, and the failed call's prompt and the text in its body are charged at its own price."""
    failing = await fake("one", fault=fault, fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), LIMITS, route="[big, small]"))
    served, rows = await answered_whole(running)
    failed_prompt = rows["tokens-month/*"]["used"] - served
    assert 0 < failed_prompt < 100  # "hello there", estimated, and the strings of half an answer
    line = access_line(running)
    assert line["billed_failures"] == [line["attempt_log"][0]]  # "big:<its error type>"
    assert line["cost_usd"] == pytest.approx(failed_prompt * BIG + served * SMALL)


@pytest.mark.parametrize("fault", ["status=503", "status=429;hint=none", "overloaded", "reset"])
async def test_a_call_refused_or_unanswered_is_not_charged(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """A call the provider refused (an error status) or closed without an answer: the next target's answer
    alone is charged, and no call is named billed."""
    failing = await fake("one", fault=fault, fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), LIMITS, route="[big, small]"))
    usage = await streamed_usage(running)
    assert (await budget_rows(running))["tokens-month/*"]["used"] == usage.prompt_tokens + usage.completion_tokens
    assert "billed_failures" not in access_line(running)


async def test_a_failed_stream_is_charged_without_budgets_too(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """On a route without budgets, the access line's ``cost_usd`` and the cost metric count a stream cut
    before its commit point as they do with budgets."""
    failing = await fake("one", fault="cut=1", fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), "", route="[big, small]").split("budgets:")[0])
    usage = await streamed_usage(running)
    line = access_line(running)
    assert line["billed_failures"] == [line["attempt_log"][0]]
    failed_cost = line["cost_usd"] - (usage.prompt_tokens + usage.completion_tokens) * SMALL
    assert 0 < failed_cost < 50 * BIG
    assert await cost_metric(running) == pytest.approx(line["cost_usd"])


async def test_a_held_stream_cut_is_charged_the_text_it_had_sent(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A gated route holds a stream whole before its gates judge it: the first target's stream, cut after
    100 events of a long reply, never reaches the caller (the next target's answer does), and is charged
    its prompt and the text it had sent (estimated), not its prompt alone."""
    long_reply = " ".join(f"word{i}" for i in range(400))
    urls = [
        await fake("f0", reply=long_reply, fault="cut=100", fault_rate=1),
        await fake("f1", reply='{"label": "bug"}'),
    ]
    limits = "budgets:\n  limits:\n    - {name: tokens-month, measure: tokens, amount: 1000000, window: month}\n"
    running = await sidecar(models_policy(urls, GATED, speaks=("openai",)) + limits)
    client = await openai_sdk(running)
    stream = await client.chat.completions.create(
        model="gated", messages=MESSAGES, response_format=FORMAT, stream=True, stream_options={"include_usage": True}
    )
    usage = [chunk.usage async for chunk in stream if chunk.usage is not None][-1]
    await client.close()
    failed = (await budget_rows(running))["tokens-month/*"]["used"] - usage.prompt_tokens - usage.completion_tokens
    assert 150 < failed < 500  # a prompt of about 100 tokens (the schema in it) and about 98 words streamed
    assert access_line(running)["billed_failures"] == ["m0:reset"]


async def test_a_retry_of_the_same_target_after_a_body_cut_charges_both_calls(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A one-target route: the first call's 200 body breaks off, the target is tried again and answers.
    Both calls are charged: the answer's usage and the first call's prompt and text, at the same price."""
    failing = await fake("one", fault="reset-body;times=1", fault_rate=1)
    running = await sidecar(policy(failing, await fake("two"), LIMITS, route="big"))
    served, rows = await answered_whole(running)
    failed_prompt = rows["tokens-month/*"]["used"] - served
    assert 0 < failed_prompt < 100  # "hello there", estimated, and the strings of half an answer
    line = access_line(running)
    assert line["attempt_log"] == ["big:reset", "big:ok"] and line["billed_failures"] == ["big:reset"]
    assert (
        line["cost_usd"] == pytest.approx((failed_prompt + served) * BIG) == pytest.approx(rows["usd-month/*"]["used"])
    )


async def test_a_request_every_target_failed_after_accepting_is_charged_each_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Both targets' streams are cut before their commit point: the caller gets the error, and each call's
    prompt is charged at its own price (the budgets charge them although no answer came)."""
    running = await sidecar(
        policy(
            await fake("one", fault="cut=1", fault_rate=1),
            await fake("two", fault="cut=1", fault_rate=1),
            LIMITS,
            route="[big, small]",
        )
    )
    client = await openai_sdk(running)
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(**chat(), stream=True)
    await client.close()
    line = access_line(running)
    calls = [entry.split(":")[0] for entry in line["attempt_log"]]  # big once, small with its retries
    assert line["billed_failures"] == line["attempt_log"] and calls[:2] == ["big", "small"]
    rows = await budget_rows(running)
    prompt = rows["tokens-month/*"]["used"] / len(calls)
    assert 0 < prompt < 50 and prompt == int(prompt)
    expected = prompt * (BIG + SMALL * (len(calls) - 1))
    assert line["cost_usd"] == pytest.approx(expected) == pytest.approx(rows["usd-month/*"]["used"])


async def test_an_answer_a_gate_rejected_without_usage_is_charged_its_estimate(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A provider whose whole answer reports no usage, rejected by a regex gate: the next target answers.
    The rejected answer was generated and billed all the same: its prompt and its text (estimated) are
    charged at its model's price (before: nothing, its cost being computed from a usage it lacked)."""
    text = " ".join(f"feature{i}" for i in range(100))
    answer = {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    unreported = await raw_upstream(
        lambda conn: serve_forever(conn, response(orjson.dumps(answer), headers="content-type: application/json\r\n"))
    )
    routes = "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {regex: {pattern: 'bug'}}\n"
    running = await sidecar(
        "version: 1\nproviders:\n"
        f"  quiet: {{dialect: openai, base_url: '{unreported.base}/v1', api_key: {{env: KEY}}}}\n"
        + provider_block("good", await fake("f1", reply="bug"), "openai")
        + "models:\n  m0: {provider: quiet, model: q, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
        + "  m1: {provider: good, model: g, price: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"
        + "routes:\n"
        + routes,
        env={"KEY": "k"},
    )
    client = await openai_sdk(running)
    served = await client.chat.completions.create(model="gated", messages=MESSAGES)
    await client.close()
    assert served.usage is not None and served.choices[0].message.content == "bug"
    line = access_line(running)
    assert line["gate_rejections"] == ["m0:regex"]
    rejected_tokens = (line["cost_usd"] - (served.usage.prompt_tokens + served.usage.completion_tokens) * BIG) / SMALL
    assert 150 < round(rejected_tokens) < 600  # a prompt of a few tokens and 100 words of 2-4 tokens
