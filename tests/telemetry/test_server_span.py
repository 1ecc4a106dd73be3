"""A request's SERVER span made at its end (``telemetry.server_span``), against the span the SDK starts at once."""

from __future__ import annotations

import random
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import SpanKind

from sidecar.telemetry import Telemetry
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.server_span import ServerSpan
from sidecar.telemetry.tracing import DecidedIdGenerator, Tracing, drops_roots, root_sampler

from .helpers import APP_TRACEPARENT, attempt, finish, start


def _tracing(spans: InMemorySpanExporter, sampler_name: str, ratio: float, *, at_end: bool) -> Telemetry:
    """``Tracing.for_tests``' tracing (``at_end``), or the same provider and sampler starting the SERVER span
    at once, as ``Tracing`` does without ``made_at_end``."""

    def build(resource: Resource, _: object) -> Tracing:
        if at_end:
            return Tracing.for_tests(spans, resource, sampler_name=sampler_name, ratio=ratio)
        new_traces = root_sampler(sampler_name, ratio)
        chosen = ParentBased(new_traces) if sampler_name.startswith("parentbased_") else new_traces
        provider = TracerProvider(
            sampler=chosen, resource=resource, shutdown_on_exit=False, id_generator=DecidedIdGenerator()
        )
        provider.add_span_processor(SimpleSpanProcessor(spans))
        dropping = new_traces if drops_roots(sampler_name, ratio) else None
        return Tracing(provider, new_traces=dropping, follows_app=chosen is not new_traces)

    return Telemetry(TelemetryConfig(), service_version="t", tracing=build)


def _request(telemetry: Telemetry, headers: dict[str, str]) -> tuple[bool, dict[str, str]]:
    """A request with a fallback, a skip, a cache event, a budget event and a 502: whether it was recorded, and
    the trace context its first call sent upstream."""
    trace = start(telemetry, headers)
    with trace:
        trace.request_parsed(requested_model="gpt-4o", stream=False)
        trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
        trace.cache_result(result="miss")
        trace.skipped(target="azure/gpt-4o", reason="breaker_open")
        first = attempt(trace)
        upstream: dict[str, str] = {}
        first.inject(upstream)
        first.finish(status=503, error_type="http_503")
        trace.fallback(from_target="openai/gpt-4o", reason="http_503")
        attributes: dict[str, Any] = {"sidecar.budget.verdict": "warn", "sidecar.budget.targets": ["a", "b"]}
        trace.budget_decided(verdict="warn", limit="daily", attributes=attributes)
        attributes["sidecar.budget.verdict"] = "changed after the event"  # the event keeps what it was given
        attempt(trace, "anthropic/claude", resend_count=1).finish(status=502, error_type="http_502")
    finish(trace, status=502, outcome="failed", attempts=2, fallback_reason="http_503")
    return trace.span is not None, upstream


def _seen(span: ReadableSpan) -> tuple[Any, ...]:
    """Everything an exporter reads of a span but its times."""
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    status = (span.status.status_code, span.status.description)
    context, parent = span.context, span.parent
    ids = (context.trace_id, context.span_id, context.trace_flags, context.trace_state.to_header(), context.is_remote)
    parent_ids = None if parent is None else (parent.trace_id, parent.span_id, parent.is_remote)
    return (span.name, span.kind, ids, parent_ids, dict(span.attributes or {}), events, status, span.links)


@pytest.mark.parametrize(
    ("sampler_name", "ratio"),
    [("parentbased_always_on", 1.0), ("parentbased_traceidratio", 0.7), ("traceidratio", 0.7), ("always_on", 1.0)],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"traceparent": APP_TRACEPARENT, "tracestate": "vendor=abc"},
        {"traceparent": APP_TRACEPARENT.removesuffix("01") + "03"},  # the app's trace id random (W3C level 2)
        {"traceparent": "junk"},
    ],
)
def test_a_server_span_made_at_its_end_is_the_span_started_at_once(
    sampler_name: str, ratio: float, headers: dict[str, str]
) -> None:
    """With every sampler the sidecar builds, in a new trace or the app's, the spans of a request whose SERVER
    span is made at its end are those of the same request with it started at once: the same ids (drawn in
    the same order), flags, trace state, parent, name, attributes, events (with what they were given) and
    status; its CLIENT spans its children, and the same trace context sent upstream."""
    found = []
    for at_end in (True, False):
        random.seed(46)
        spans = InMemorySpanExporter()
        telemetry = _tracing(spans, sampler_name, ratio, at_end=at_end)
        requests = [_request(telemetry, headers) for _ in range(6)]
        found.append((requests, [_seen(span) for span in spans.get_finished_spans()]))
    assert found[0] == found[1]
    requests, seen = found[0]
    recorded = [r for r, _ in requests]
    assert any(recorded)
    servers = [s for s in seen if s[1] is SpanKind.SERVER]
    assert len(servers) == sum(recorded)
    assert all(s[3][1] in {server[2][1] for server in servers} for s in seen if s[1] is SpanKind.CLIENT)


def test_the_request_holds_a_span_made_at_its_end() -> None:
    """``Tracing.for_tests`` (``Tracing.new``: the samplers the configuration names) gives a recorded request
    a ``ServerSpan``; no SDK span exists until it ends, and then one, with the request's ids."""
    spans = InMemorySpanExporter()
    telemetry = Telemetry.for_tests(spans)
    trace = start(telemetry, {"traceparent": APP_TRACEPARENT})
    assert isinstance(trace.span, ServerSpan)
    attempt(trace).finish(status=200, error_type=None)
    assert [s.kind for s in spans.get_finished_spans()] == [SpanKind.CLIENT]
    finish(trace)
    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert (format(server.context.trace_id, "032x"), format(server.context.span_id, "016x")) == (
        trace.trace_id,
        trace.span_id,
    )
