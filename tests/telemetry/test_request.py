"""The span tree the facade produces: SERVER span per request, CLIENT span per upstream attempt."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from time import time_ns
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, StatusCode, TraceState
from opentelemetry.util.types import Attributes

from sidecar.telemetry import Telemetry, Usage, current_trace_ids
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.tracing import DecidedIdGenerator, Tracing

from .helpers import APP_SPAN_ID, APP_TRACE_ID, APP_TRACEPARENT, attempt, by_kind, finish, start, value

GENAI_LABELS = {
    "gen_ai_operation_name": "chat",
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_response_model": "",
    "error_type": "",
}


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def telemetry(spans: InMemorySpanExporter) -> Telemetry:
    return Telemetry.for_tests(spans)


def test_success_is_a_server_span_with_one_client_child(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A plain success: SERVER span continuing the app's traceparent, one CLIENT child, GenAI attributes."""
    trace = start(telemetry, {"traceparent": APP_TRACEPARENT})
    trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
    call = attempt(
        trace, request_params={"max_tokens": 256, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["\n"]}
    )
    usage = Usage(input_tokens=12, output_tokens=34, cached_input_tokens=2)
    call.finish(
        status=200,
        error_type=None,
        response_model="gpt-4o-2024-08-06",
        response_id="chatcmpl-1",
        finish_reasons=["stop"],
        usage=usage,
    )
    finish(trace)

    [server] = by_kind(spans.get_finished_spans(), "SERVER")
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert server.name == "POST /v1/chat/completions"
    assert format(server.context.trace_id, "032x") == APP_TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == APP_SPAN_ID
    assert server.parent.is_remote
    assert trace.trace_id == APP_TRACE_ID and trace.span_id == format(server.context.span_id, "016x")
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["sidecar.route"] == "default"
    assert list(server.attributes["sidecar.route.targets"]) == ["openai/gpt-4o", "anthropic/claude"]
    assert client.name == "chat gpt-4o"
    assert client.kind is SpanKind.CLIENT
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    attributes = dict(client.attributes)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["server.address"] == "api.openai.com"
    assert attributes["server.port"] == 443
    assert attributes["gen_ai.request.max_tokens"] == 256
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.top_p"] == 0.9
    assert list(attributes["gen_ai.request.stop_sequences"]) == ["\n"]
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert list(attributes["gen_ai.response.finish_reasons"]) == ["stop"]
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 34
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 2
    assert attributes["sidecar.target"] == "openai/gpt-4o"
    assert attributes["sidecar.breaker.state"] == "closed"
    assert "http.request.resend_count" not in attributes
    assert "error.type" not in attributes
    assert client.status.status_code is StatusCode.UNSET


def test_without_traceparent_the_server_span_is_a_root(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """No traceparent header: the SERVER span starts a new trace."""
    trace = start(telemetry)
    finish(trace)
    [server] = spans.get_finished_spans()
    assert server.parent is None
    assert trace.trace_id == format(server.context.trace_id, "032x")


def test_invalid_traceparent_is_ignored(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A malformed traceparent starts a new trace instead of failing the request."""
    trace = start(telemetry, {"traceparent": "00-zz-not-valid"})
    finish(trace)
    assert spans.get_finished_spans()[0].parent is None


def test_fallback_gives_two_client_spans_and_an_event(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A fallback: two CLIENT spans (the second with resend_count), a fallback event on the SERVER span."""
    trace = start(telemetry)
    first = attempt(trace, "openai/gpt-4o")
    first.finish(status=503, error_type="http_503")
    trace.fallback(from_target="openai/gpt-4o", reason="http_503")
    second = attempt(trace, "anthropic/claude-sonnet", resend_count=1)
    second.finish(status=200, error_type=None, response_model="claude-sonnet")
    finish(trace, outcome="fallback", attempts=2, fallback_reason="http_503", served_model="claude-sonnet")

    clients = by_kind(spans.get_finished_spans(), "CLIENT")
    [server] = by_kind(spans.get_finished_spans(), "SERVER")
    assert [c.name for c in clients] == ["chat gpt-4o", "chat claude-sonnet"]
    assert clients[0].attributes["error.type"] == "http_503"
    assert clients[1].attributes["http.request.resend_count"] == 1
    assert clients[1].attributes["gen_ai.provider.name"] == "anthropic"
    assert all(c.parent is not None and c.parent.span_id == server.context.span_id for c in clients)
    [event] = server.events
    assert event.name == "sidecar.fallback"
    assert dict(event.attributes or {}) == {
        "sidecar.target": "openai/gpt-4o",
        "sidecar.fallback.reason": "http_503",
    }
    assert server.attributes["sidecar.fallback.reason"] == "http_503"
    assert server.attributes["sidecar.attempts"] == 2


def test_skipped_target_is_an_event(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A target skipped without a call (breaker open) is a SERVER span event and no CLIENT span."""
    trace = start(telemetry)
    trace.skipped(target="openai/gpt-4o", reason="breaker_open")
    finish(trace, status=503, outcome="failed")
    [server] = spans.get_finished_spans()
    assert [e.name for e in server.events] == ["sidecar.target.skipped"]
    assert server.events[0].attributes == {
        "sidecar.target": "openai/gpt-4o",
        "sidecar.skip.reason": "breaker_open",
    }


def test_stream_records_time_to_first_chunk(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A stream: gen_ai.request.stream on the CLIENT span and gen_ai.response.time_to_first_chunk."""
    trace = start(telemetry, stream=True)
    call = attempt(trace)
    call.first_chunk()
    for _ in range(3):
        call.chunk()
    call.finish(status=200, error_type=None, response_model="gpt-4o")
    finish(trace, streamed=True)
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert client.attributes["gen_ai.request.stream"] is True
    ttfc = client.attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float) and ttfc >= 0


def test_upstream_error_sets_error_type_and_status(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """An upstream failure: error.type and the HTTP status on the CLIENT span, ERROR status on both spans."""
    trace = start(telemetry)
    call = attempt(trace)
    call.finish(status=500, error_type="http_500")
    finish(trace, status=502, outcome="failed")
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    [server] = by_kind(spans.get_finished_spans(), "SERVER")
    assert client.attributes["error.type"] == "http_500"
    assert client.attributes["http.response.status_code"] == 500
    assert client.status.status_code is StatusCode.ERROR
    assert server.attributes["error.type"] == "502"
    assert server.attributes["http.response.status_code"] == 502
    assert server.status.status_code is StatusCode.ERROR


def test_timeout_without_status_has_error_type_only(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A call that got no response (timeout) has error.type and no http.response.status_code."""
    trace = start(telemetry)
    attempt(trace).finish(status=None, error_type="timeout_first_byte")
    finish(trace, status=504, outcome="failed")
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert client.attributes["error.type"] == "timeout_first_byte"
    assert "http.response.status_code" not in client.attributes


def test_rejected_request_has_no_client_span(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """A request refused before any call: only the SERVER span, its reason and 4xx status (not ERROR)."""
    trace = start(telemetry)
    trace.rejected(status=400, reason="invalid_json")
    finish(trace, status=400, outcome="rejected", route=None, attempts=0)
    [server] = spans.get_finished_spans()
    assert server.kind is SpanKind.SERVER
    assert server.attributes["sidecar.rejected.reason"] == "invalid_json"
    assert server.attributes["http.response.status_code"] == 400
    assert server.status.status_code is StatusCode.UNSET  # 4xx is the client's error, not the server's


def test_inject_writes_the_client_span_traceparent(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """inject() puts the CLIENT span's W3C traceparent (and the app's tracestate) into upstream headers."""
    trace = start(telemetry, {"traceparent": APP_TRACEPARENT, "tracestate": "vendor=abc"})
    call = attempt(trace)
    headers: dict[str, str] = {}
    call.inject(headers)
    call.finish(status=200, error_type=None)
    finish(trace)
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert headers["traceparent"] == f"00-{APP_TRACE_ID}-{client.context.span_id:016x}-01"
    assert headers["tracestate"] == "vendor=abc"


def test_unsampled_parent_records_no_span_but_propagates(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """An app trace sampled out (flag 00), the sampler parent-based: no spans, empty ids for logs, and the
    app's traceparent and tracestate passed upstream as they came, to every attempt."""
    app = {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-00", "tracestate": "vendor=abc,other=1"}
    trace = start(telemetry, app)
    sent = []
    for resend in (0, 1):
        call = attempt(trace, resend_count=resend)
        headers: dict[str, str] = {}
        call.inject(headers)
        call.finish(status=200, error_type=None)
        sent.append(headers)
    finish(trace)
    assert spans.get_finished_spans() == ()
    assert trace.span is None and (trace.trace_id, trace.span_id) == ("", "")
    assert sent == [app, app]


def test_unsampled_root_request_propagates_a_new_unsampled_trace() -> None:
    """No traceparent from the app and the sampler says no: no span, and the upstream still gets a W3C
    traceparent (a new trace id, the sampled flag off) made by the SDK."""
    telemetry = Telemetry.from_env(
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "always_off"},
        service_version="t",
        console=io.StringIO(),
    )
    trace = start(telemetry)
    headers: dict[str, str] = {}
    attempt(trace).inject(headers)
    finish(trace)
    assert trace.span is None
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert version == "00" and len(trace_id) == 32 and len(parent_id) == 16 and int(trace_id, 16) != 0
    assert int(flags, 16) & 1 == 0


def test_finish_is_idempotent(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """Finishing a request or an attempt twice ends each span once."""
    trace = start(telemetry)
    call = attempt(trace)
    call.finish(status=200, error_type=None)
    call.finish(status=500, error_type="late")
    finish(trace)
    finish(trace, status=500)
    assert len(spans.get_finished_spans()) == 2
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert "error.type" not in client.attributes


def test_request_finish_ends_an_attempt_left_open(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """An attempt never finished is ended (error.type unfinished) before its request's SERVER span."""
    trace = start(telemetry)
    attempt(trace)
    finish(trace, status=500, outcome="failed")
    client, server = spans.get_finished_spans()
    assert client.kind is SpanKind.CLIENT and server.kind is SpanKind.SERVER
    assert client.attributes["error.type"] == "unfinished"


def test_a_trace_in_a_with_block_makes_its_span_current(telemetry: Telemetry) -> None:
    """Inside ``with trace:`` current_trace_ids() gives the SERVER span's ids (for log lines), inside
    ``with attempt:`` the CLIENT span's; outside, none."""
    trace = start(telemetry)
    assert current_trace_ids() == ("", "")
    with trace:
        assert current_trace_ids() == (trace.trace_id, trace.span_id)
        call = attempt(trace)
        with call:
            assert current_trace_ids()[0] == trace.trace_id
            assert current_trace_ids()[1] != trace.span_id
        call.finish(status=200, error_type=None)
    assert current_trace_ids() == ("", "")
    finish(trace)


def test_responses_operation_is_named_chat(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """The OpenAI Responses API maps to gen_ai.operation.name "chat"."""
    trace = telemetry.start_request(
        method="POST",
        path="/v1/responses",
        headers={},
        dialect="openai",
        operation="responses",
        requested_model=None,
        stream=False,
    )
    attempt(trace).finish(status=200, error_type=None)
    finish(trace)
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert client.name == "chat gpt-4o" and client.attributes["gen_ai.operation.name"] == "chat"


def test_http_route_names_the_server_span(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """http_route replaces a path carrying a model name in the SERVER span's name; url.path keeps the path."""
    path = "/v1beta/models/gemini-2.0-flash:generateContent"
    trace = telemetry.start_request(
        method="POST",
        path=path,
        headers={},
        dialect="gemini",
        operation="generate_content",
        requested_model=None,
        stream=False,
        http_route="/v1beta/models/{model}:generateContent",
    )
    trace.request_parsed(requested_model="gemini-2.0-flash", stream=False)
    finish(trace)
    [server] = spans.get_finished_spans()
    assert server.name == "POST /v1beta/models/{model}:generateContent"
    assert server.attributes["url.path"] == path
    assert server.attributes["sidecar.request.model"] == "gemini-2.0-flash"


def test_resource_names_the_service(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """Spans carry a resource with service.name llm-sidecar and the instrumentation scope's schema URL."""
    finish(start(telemetry))
    [span] = spans.get_finished_spans()
    assert span.resource.attributes["service.name"] == "llm-sidecar"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.schema_url.endswith("/1.41.0")


@pytest.mark.parametrize(
    ("sampler", "flags", "recorded"),
    [
        ("always_on", None, True),
        ("always_on", "00", True),
        ("parentbased_always_on", None, True),
        ("parentbased_always_on", "01", True),
        ("parentbased_always_on", "00", False),
        ("always_off", None, False),
        ("parentbased_always_off", "01", True),
        ("parentbased_always_off", "00", False),
        ("traceidratio", None, False),  # ratio 0
        ("parentbased_traceidratio", "01", True),
        ("parentbased_traceidratio", "00", False),
    ],
)
async def test_the_sampler_decides_which_requests_are_recorded(sampler: str, flags: str | None, recorded: bool) -> None:
    """OTEL_TRACES_SAMPLER: root spans follow the sampler's root rule, children of the app's span follow
    its sampled flag when the sampler is parent-based; an unrecorded request still propagates its context
    with the sampled flag off."""
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": "0"}
    telemetry = Telemetry.from_env(env, service_version="t", console=io.StringIO())
    trace = start(telemetry, {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-{flags}"} if flags else {})
    headers: dict[str, str] = {}
    attempt(trace).inject(headers)
    finish(trace)
    await telemetry.shutdown()
    assert (trace.span is not None) is recorded and bool(trace.trace_id) is recorded
    assert int(headers["traceparent"][-2:], 16) & 1 == recorded  # the sampled flag (the SDK may add W3C's random)


def test_spans_carry_every_attribute_of_the_request(telemetry: Telemetry, spans: InMemorySpanExporter) -> None:
    """Attributes given at start, learnt during the request (request_parsed, route_decided, cache_result)
    and at finish all reach the exported spans, exactly the documented ones and no others."""
    trace = start(telemetry, {"traceparent": APP_TRACEPARENT})
    trace.request_parsed(requested_model="gpt-4o-mini", stream=True)
    trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
    trace.cache_result(result="miss")
    call = attempt(trace, request_params={"max_tokens": 256, "seed": 7})
    call.first_chunk()
    call.finish(
        status=200,
        error_type=None,
        response_model="gpt-4o-2024-08-06",
        response_id="chatcmpl-1",
        finish_reasons=["stop"],
        usage=Usage(input_tokens=12, output_tokens=34, cached_input_tokens=2),
    )
    finish(trace, streamed=True, attempts=2, fallback_reason="http_503")
    [server] = by_kind(spans.get_finished_spans(), "SERVER")
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert {key: value for key, value in server.attributes.items() if key != "sidecar.route.targets"} == {
        "http.request.method": "POST",
        "http.route": "/v1/chat/completions",
        "sidecar.dialect": "openai",
        "sidecar.request.model": "gpt-4o-mini",
        "sidecar.request.stream": True,
        "sidecar.route": "default",
        "sidecar.cache.hit": False,
        "http.response.status_code": 200,
        "sidecar.outcome": "ok",
        "sidecar.attempts": 2,
        "sidecar.streamed": True,
        "sidecar.served_model": "gpt-4o",
        "sidecar.fallback.reason": "http_503",
        "sidecar.cost_usd": 0.0005,
    }
    assert list(server.attributes["sidecar.route.targets"]) == ["openai/gpt-4o", "anthropic/claude"]
    ttfc = client.attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float) and ttfc >= 0
    assert {key: value for key, value in client.attributes.items() if key != "gen_ai.response.finish_reasons"} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "api.openai.com",
        "server.port": 443,
        "sidecar.target": "openai/gpt-4o",
        "sidecar.breaker.state": "closed",
        "gen_ai.request.stream": True,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.seed": 7,
        "http.response.status_code": 200,
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.usage.cache_read.input_tokens": 2,
        "gen_ai.response.time_to_first_chunk": ttfc,
    }
    assert list(client.attributes["gen_ai.response.finish_reasons"]) == ["stop"]


async def test_with_a_loop_running_finish_ends_spans_when_the_step_is_over(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    """Under a running event loop, finish() ends the spans and records the metrics once the loop's
    current step is over (after the server has written the answer), with the end times and durations
    taken when finish() was called."""
    trace = start(telemetry)
    call = attempt(trace)
    before = time_ns()
    call.finish(status=200, error_type=None)
    finish(trace)
    after = time_ns()
    assert spans.get_finished_spans() == ()
    assert value(telemetry, "llm_sidecar_request_duration_seconds_count", route="default", outcome="ok") == 0
    await asyncio.sleep(0)
    client, server = spans.get_finished_spans()
    assert client.kind is SpanKind.CLIENT and server.kind is SpanKind.SERVER
    assert server.end_time is not None and before <= server.end_time <= after
    assert client.end_time is not None and before <= client.end_time <= after
    assert value(telemetry, "llm_sidecar_request_duration_seconds_count", route="default", outcome="ok") == 1
    assert value(telemetry, "gen_ai_client_operation_duration_seconds_count", **GENAI_LABELS) == 1


class _SeenBySampler(Sampler):
    """Samples everything, keeping what each decision was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, SpanKind | None, dict[str, Any]]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.seen.append((name, kind, dict(attributes or {})))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "seen-by-sampler"


def test_a_sampler_is_given_the_attributes_the_conventions_name_for_sampling() -> None:
    """Spans start with the attributes the conventions name for sampling decisions: the SERVER span its
    HTTP method, route and dialect; the CLIENT span (made when the call ends) the GenAI operation,
    provider, request model, server address and port among all of its attributes."""
    sampler = _SeenBySampler()
    spans = InMemorySpanExporter()

    def tracing(resource: Resource, _: object) -> Tracing:
        provider = TracerProvider(
            sampler=sampler, resource=resource, shutdown_on_exit=False, id_generator=DecidedIdGenerator()
        )
        provider.add_span_processor(SimpleSpanProcessor(spans))
        return Tracing(provider)

    telemetry = Telemetry(TelemetryConfig(), service_version="t", tracing=tracing)
    trace = start(telemetry)
    attempt(trace, resend_count=1, request_params={"max_tokens": 5}).finish(status=200, error_type=None)
    finish(trace)
    server_seen, client_seen = sampler.seen
    assert server_seen == (
        "POST /v1/chat/completions",
        SpanKind.SERVER,
        {
            "http.request.method": "POST",
            "http.route": "/v1/chat/completions",
            "sidecar.dialect": "openai",
            "sidecar.request.model": "gpt-4o",
        },
    )
    sampled_on = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    assert client_seen[:2] == ("chat gpt-4o", SpanKind.CLIENT)
    assert sampled_on.items() <= client_seen[2].items() and client_seen[2] == dict(client.attributes or {})
