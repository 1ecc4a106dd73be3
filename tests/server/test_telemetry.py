"""Traces, metrics and logs of real requests through the sidecar (in-memory span exporter)."""

from __future__ import annotations

from typing import Any

import aiohttp
from opentelemetry.trace import SpanKind

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .chain import CONNECT
from .metric_samples import metric_samples

APP_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{APP_TRACE}-00f067aa0ba902b7-01"


def policy(urls: list[str]) -> str:
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, " + CONNECT + "}\nproviders:\n"
    text += "".join(provider_block(f"p{i}", u, "openai") for i, u in enumerate(urls))
    text += "models:\n" + "".join(
        f"  m{i}: {{provider: p{i}, model: up{i}, price: {{input_per_mtok: 1000, output_per_mtok: 2000}}}}\n"
        for i in range(len(urls))
    )
    text += "routes:\n  - {name: chain, match: {model: chain}, target: [m0, m1]}\n"
    return text


async def post(running: RunningSidecar, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/chat/completions", json=body, headers={"traceparent": TRACEPARENT, **(headers or {})}
        ) as response,
    ):
        await response.read()
        return response.status


def spans_by_kind(running: RunningSidecar) -> tuple[list[Any], list[Any]]:
    spans = running.spans.get_finished_spans()
    return [s for s in spans if s.kind is SpanKind.SERVER], [s for s in spans if s.kind is SpanKind.CLIENT]


CHAT = {"model": "chain", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 20, "temperature": 0.5}


async def test_success_gives_a_server_span_with_one_genai_client_span(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """One SERVER span joined to the app's trace, one CLIENT span with GenAI attributes, context sent upstream."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    assert await post(running, CHAT) == 200
    servers, clients = spans_by_kind(running)
    assert len(servers) == 1 and len(clients) == 1
    server, client = servers[0], clients[0]
    assert format(server.context.trace_id, "032x") == APP_TRACE
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    attrs = client.attributes
    assert client.name == "chat up0"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "up0"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["server.address"] == "127.0.0.1"
    upstream = (await running.fake_requests(urls[0]))[-1]
    assert APP_TRACE in upstream["headers"]["traceparent"]
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert access["trace_id"] == APP_TRACE


async def test_fallback_gives_two_client_spans(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A fallback shows as two CLIENT spans, the first with error.type, the second with resend_count 1."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    assert await post(running, CHAT, {"x-fake-fault": "f0:status=500"}) == 200
    _, clients = spans_by_kind(running)
    clients.sort(key=lambda s: s.start_time)
    assert [c.attributes["gen_ai.request.model"] for c in clients] == ["up0", "up1"]
    assert clients[0].attributes["error.type"] == "http_500"
    assert clients[1].attributes["http.request.resend_count"] == 1


async def test_stream_records_time_to_first_chunk(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streamed request is marked as a stream and feeds the time-to-first-chunk histogram."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    client = openai_client(running)
    stream = await client.chat.completions.create(
        model="chain", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for _ in stream:
        pass
    await client.close()
    metrics = await metric_samples(running)
    assert metrics.get("gen_ai_client_operation_time_to_first_chunk_seconds_count", 0) >= 1


async def test_upstream_error_and_rejection_are_recorded(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An upstream 400 sets error.type on the CLIENT span; a rejected request has no CLIENT span."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    assert await post(running, CHAT, {"x-fake-fault": "status=400"}) == 400
    assert await post(running, {"model": 5}) == 400
    servers, clients = spans_by_kind(running)
    assert len(servers) == 2 and len(clients) == 1
    assert clients[0].attributes["error.type"] == "http_400"


async def test_metrics_move_as_requests_flow(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """/metrics parses as Prometheus text; requests, attempts, fallbacks, tokens and cost counters move."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    before = await metric_samples(running)
    assert await post(running, CHAT) == 200
    assert await post(running, CHAT, {"x-fake-fault": "f0:status=503"}) == 200
    after = await metric_samples(running)
    assert after["llm_sidecar_requests_total"] - before.get("llm_sidecar_requests_total", 0) == 2
    assert after["llm_sidecar_upstream_attempts_total"] - before.get("llm_sidecar_upstream_attempts_total", 0) == 3
    assert after["llm_sidecar_fallbacks_total"] >= 1
    assert after["llm_sidecar_cost_usd_total"] > 0
    assert after["gen_ai_client_token_usage_count"] >= 2


async def test_an_unsampled_app_trace_reaches_the_provider_as_it_came(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python sending a traceparent marked not sampled (flag 00) and a tracestate: the provider gets
    that traceparent as it came and the tracestate as the SDK's propagator reads it (blanks and empty
    entries left out); no span is recorded (the default sampler follows the app's flag)."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    unsampled = f"00-{APP_TRACE}-00f067aa0ba902b7-00"
    async with openai_client(running, traceparent=unsampled, tracestate="a=1 , b=2,,") as client:
        await client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "hi"}])
    upstream = (await running.fake_requests(urls[0]))[-1]["headers"]
    assert (upstream["traceparent"], upstream["tracestate"]) == (unsampled, "a=1,b=2")
    assert running.spans.get_finished_spans() == ()


async def test_an_invalid_traceparent_starts_the_trace_sent_upstream(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python sending a traceparent that is not valid (an all-zero trace id): the SERVER span starts
    a new trace (no parent) and the provider gets that trace's CLIENT span, sampled, in place of the app's."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls))
    async with openai_client(running, traceparent=f"00-{'0' * 32}-00f067aa0ba902b7-01") as client:
        await client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "hi"}])
    [server], [client_span] = spans_by_kind(running)
    assert server.parent is None
    upstream = (await running.fake_requests(urls[0]))[-1]["headers"]
    version, trace_id, span_id, flags = upstream["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{server.context.trace_id:032x}",
        f"{client_span.context.span_id:016x}",
    )
    assert int(flags, 16) & 1
