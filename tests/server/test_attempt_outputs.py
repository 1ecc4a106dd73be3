"""What a call that failed once and then answered leaves behind, read through openai-python (its own retries
off) against a real sidecar and a fake OpenAI provider on loopback: the answer and its usage as the SDK
parses them, the ``x-sidecar-*`` headers, the access line's attempts, tokens and cost. The path the
request runs (``Calls.call``, ``TargetTries.run``, ``Attempt.run``, ``usage_from``) is the one every plain
request runs; this is its outputs kept whole, spans included."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.trace import SpanKind

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client

PRICE = "{input_per_mtok: 1000, output_per_mtok: 2000}"
APP_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{APP_TRACE}-00f067aa0ba902b7-01"


def one_target_policy(url: str) -> str:
    """A route ``one`` whose one target ``m0`` (model ``up0``, priced) is the fake provider at ``url``."""
    return (
        "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}}\nproviders:\n"
        + provider_block("p0", url, "openai")
        + f"models:\n  m0: {{provider: p0, model: up0, price: {PRICE}}}\n"
        + "routes:\n  - name: one\n    match: {model: one}\n    target: [m0]\n"
    )


async def test_a_call_that_failed_once_then_answered_reports_both_calls_and_the_answers_usage(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A 500 then an answer from the route's one target: the SDK gets the answer and its usage; the headers
    say two attempts, the model and the reason; the access line lists the failed call and the answered one,
    the answer's tokens, and ``cost_usd`` equal to ``x-sidecar-cost``."""
    running = await sidecar(one_target_policy(await fake("f0")))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="one",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-fake-fault": "f0:status=500;times=1"},
        )
    answer = raw.parse()
    assert answer.choices[0].message.content and answer.usage is not None
    usage = answer.usage
    assert (raw.headers["x-sidecar-attempts"], raw.headers["x-sidecar-model"]) == ("2", "m0")
    assert raw.headers["x-sidecar-fallback-reason"] == "http_500"
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    assert (line["attempts"], line["attempt_log"]) == (2, ["m0:http_500", "m0:ok"])
    assert (line["input_tokens"], line["output_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
    expected = (usage.prompt_tokens * 1000 + usage.completion_tokens * 2000) / 1e6
    assert abs(line["cost_usd"] - expected) < 1e-9
    assert float(raw.headers["x-sidecar-cost"]) == line["cost_usd"]


async def test_a_call_retried_on_its_one_target_makes_a_client_span_for_each_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A 500 then an answer from the route's one target, the app's trace sampled: two CLIENT spans of that
    target in the app's trace, the first with the 500's ``error.type``, the second a resend (``resend_count``
    1) without one."""
    running = await sidecar(one_target_policy(await fake("f0")))
    async with openai_client(running) as client:
        await client.chat.completions.create(
            model="one",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-fake-fault": "f0:status=500;times=1", "traceparent": TRACEPARENT},
        )
    calls = sorted(
        (span for span in running.spans.get_finished_spans() if span.kind is SpanKind.CLIENT),
        key=lambda span: span.start_time,
    )
    assert [format(span.context.trace_id, "032x") for span in calls] == [APP_TRACE, APP_TRACE]
    assert [span.attributes["gen_ai.request.model"] for span in calls] == ["up0", "up0"]
    assert calls[0].attributes["error.type"] == "http_500"
    assert "error.type" not in calls[1].attributes
    assert calls[1].attributes["http.request.resend_count"] == 1


async def test_a_providers_own_first_byte_timeout_cuts_a_stalled_call_and_is_named(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A provider whose own ``timeouts`` give ``first_byte_s: 0.2`` (the route sets none) stalls its head: the
    SDK gets the 504 naming that limit, and the access line's attempt error says the same."""
    url = await fake("f0")
    policy = (
        one_target_policy(url)
        .replace("resilience: {backoff:", "resilience: {max_attempts_per_target: 1, backoff:")
        .replace("    dialect: fake\n", "    dialect: fake\n    timeouts: {first_byte_s: 0.2}\n")
    )
    running = await sidecar(policy)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as failed:
            await client.chat.completions.create(
                model="one", messages=[{"role": "user", "content": "hello"}], extra_headers={"x-fake-fault": "stall=3"}
            )
    why = "no response headers within first_byte_s (0.2 s)"
    assert failed.value.status_code == 504
    assert failed.value.message.endswith(f"upstream m0 failed: timeout_first_byte ({why})")
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    assert line["attempt_errors"] == [f"m0:timeout_first_byte: {why}"]
