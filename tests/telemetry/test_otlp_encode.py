"""The hand-written OTLP encoder: its bytes are what the official encoder produces for the same spans."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from sidecar.telemetry import Telemetry, Usage
from sidecar.telemetry.otlp_encode import CACHE_LIMIT, SpanEncoder

from .helpers import attempt, finish, start

RESOURCE = Resource({"service.name": "svc", "service.version": "1.2.3", "k8s.pod.name": "pod-ü"})
SCOPE = InstrumentationScope("llm-sidecar", "0.1.0", "https://opentelemetry.io/schemas/1.41.0")
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736

EVERY_VALUE: dict[str, Any] = {
    "str": "value",
    "str.empty": "",
    "str.unicode": "naïve 日本語 🚀 e\u0301",
    "str.long": "x" * 300,
    "str.very_long": "y" * 20_000,
    "bool.true": True,
    "bool.false": False,
    "int.zero": 0,
    "int.small": 200,
    "int.negative": -1,
    "int.max": 2**63 - 1,
    "int.min": -(2**63),
    "int.large": 2**40 + 7,
    "float.zero": 0.0,
    "float": -1.25,
    "float.inf": math.inf,
    "float.tiny": 5e-324,
    "bytes": b"\x00\xff raw",
    "list.str": ["stop", "length", ""],
    "list.bool": [True, False],
    "list.int": [1, -2, 2**62],
    "list.float": [0.5, -0.0],
    "list.mixed": ["a", 1, 2.5, True, None],
    "list.empty": [],
    "tuple.str": ("a", "b"),
    "none": None,
    "mapping": {"inner": "v", "n": 3, "nested": {"deep": [1, 2]}},
    "": "empty key",
    "ключ.ü": "unicode key",
}


def _context(span_id: int, *, remote: bool = False, state: TraceState | None = None) -> SpanContext:
    return SpanContext(TRACE_ID, span_id, remote, SAMPLED, state or TraceState())


def _span(
    span_id: int = 0x00F067AA0BA902B7,
    *,
    name: str = "POST /v1/chat/completions",
    attributes: Mapping[str, Any] | None = None,
    parent: SpanContext | None = None,
    kind: SpanKind = SpanKind.SERVER,
    events: Sequence[Event] = (),
    links: Sequence[Link] = (),
    status: Status | None = None,
    state: TraceState | None = None,
    resource: Resource = RESOURCE,
    scope: InstrumentationScope | None = SCOPE,
) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=_context(span_id, state=state),
        parent=parent,
        resource=resource,
        attributes=dict(attributes or {}),
        events=events,
        links=links,
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=1_700_000_000_123_456_789,
        end_time=1_700_000_000_223_456_789,
        instrumentation_scope=scope,
    )


def _assert_same(spans: Sequence[ReadableSpan], encoder: SpanEncoder | None = None) -> bytes:
    """Our bytes parse to the official message, and are in fact the same bytes."""
    ours = (encoder or SpanEncoder()).encode(spans)
    official = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(ours) == official
    assert ours == official.SerializeToString()
    return ours


def test_the_sidecars_own_spans_encode_like_the_official_encoder() -> None:
    """A traced request with fallback, events, usage and an error encodes as encode_spans does."""
    exporter = InMemorySpanExporter()
    telemetry = Telemetry.for_tests(exporter)
    trace = start(telemetry, {"traceparent": f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01", "tracestate": "a=1,b=2"})
    trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
    attempt(trace, request_params={"max_tokens": 64, "temperature": 0.2}).finish(
        status=503, error_type="http_503", response_model=None
    )
    trace.skipped(target="x/y", reason="breaker_open")
    trace.fallback(from_target="openai/gpt-4o", reason="http_503")
    attempt(trace, "anthropic/claude", resend_count=1).finish(
        status=200, error_type=None, response_model="claude", response_id="msg_1", usage=Usage(10, 20)
    )
    finish(trace, outcome="fallback", attempts=2, fallback_reason="http_503")
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    _assert_same(spans)


def test_every_attribute_type_encodes_like_the_official_encoder() -> None:
    """str, bool, int (int64 bounds), float, bytes, sequences, None, mappings and unicode keys."""
    _assert_same([_span(attributes=EVERY_VALUE)])


def test_nan_encodes_to_the_same_bytes() -> None:
    """A NaN double is written bit for bit as the official encoder writes it."""
    ours = SpanEncoder().encode([_span(attributes={"nan": math.nan, "list": [math.nan]})])
    assert ours == encode_spans([_span(attributes={"nan": math.nan, "list": [math.nan]})]).SerializeToString()


def test_events_links_parents_and_status_encode_like_the_official_encoder() -> None:
    """Events with attributes, local and remote links, local and remote parents, trace state, status."""
    events = [
        Event("sidecar.fallback", {"sidecar.target": "a/b", "n": 2, "ok": True}, timestamp=1_700_000_000_000_000_001),
        Event("no.attributes", None, timestamp=1_700_000_000_000_000_002),
    ]
    links = [
        Link(_context(7, remote=True), {"link.kind": "follows", "weight": 0.5}),
        Link(_context(8), None),
    ]
    spans = [
        _span(1, events=events, links=links, state=TraceState([("vendor", "x-1"), ("other", "y")])),
        _span(2, parent=_context(1), kind=SpanKind.CLIENT, status=Status(StatusCode.ERROR, "upstream 503")),
        _span(3, parent=_context(9, remote=True), kind=SpanKind.INTERNAL, status=Status(StatusCode.OK)),
        _span(4, kind=SpanKind.PRODUCER, status=Status(StatusCode.ERROR)),
        _span(5, kind=SpanKind.CONSUMER, name="", status=Status(StatusCode.ERROR, "ünïcode reason")),
    ]
    _assert_same(spans)


def test_dropped_counts_are_encoded_like_the_official_encoder() -> None:
    """Spans from the SDK tracer that hit its limits carry the dropped attribute, event and link counts."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=RESOURCE,
        span_limits=SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope", "1.0")
    links = [Link(_context(11)), Link(_context(12), {"a": 1})]
    with tracer.start_as_current_span("parent", links=links, attributes={"a": 1, "b": 2, "c": 3}) as span:
        span.add_event("e0")
        span.add_event("e1", {"x": 1, "y": 2})  # the newest event is kept
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT):
            pass
    provider.shutdown()
    spans = exporter.get_finished_spans()
    parsed = ExportTraceServiceRequest.FromString(_assert_same(spans))
    encoded = {s.name: s for s in parsed.resource_spans[0].scope_spans[0].spans}
    assert encoded["parent"].dropped_attributes_count == 1
    assert encoded["parent"].dropped_events_count == 1
    assert encoded["parent"].dropped_links_count == 1
    assert encoded["parent"].events[0].dropped_attributes_count == 1


def test_values_the_official_encoder_rejects_are_left_out_the_same_way() -> None:
    """Ints beyond int64, lone surrogates and unknown types are dropped from the span, the rest kept."""
    attributes = {
        "ok": "kept",
        "int.too_big": 2**63,
        "int.too_small": -(2**63) - 1,
        "surrogate": "\ud800",
        "object": object(),
        "list.too_big": [1, 2**64],
        "after": 1,
    }
    ours = _assert_same([_span(attributes=attributes)])
    [span] = ExportTraceServiceRequest.FromString(ours).resource_spans[0].scope_spans[0].spans
    assert [a.key for a in span.attributes] == ["ok", "after"]


def test_spans_are_grouped_by_resource_and_scope_like_the_official_encoder() -> None:
    """Interleaved resources and scopes group in first-seen order; equal resource objects merge."""
    other_resource = Resource({"service.name": "other"}, "https://example.com/schema")
    equal_resource = Resource(dict(RESOURCE.attributes))
    other_scope = InstrumentationScope("other-scope", None, None, {"scope.attr": "v"})
    spans = [
        _span(1),
        _span(2, resource=other_resource),
        _span(3, scope=other_scope),
        _span(4, resource=equal_resource),
        _span(5, resource=other_resource, scope=other_scope),
        _span(6, scope=None),
        _span(7, scope=InstrumentationScope("llm-sidecar", "0.1.0", "https://opentelemetry.io/schemas/1.41.0")),
    ]
    _assert_same(spans)


def test_an_empty_batch_is_an_empty_request() -> None:
    """No spans: the empty message, as the official encoder serializes it."""
    assert SpanEncoder().encode([]) == encode_spans([]).SerializeToString() == b""


def test_cached_records_never_mix_equal_values_of_different_types() -> None:
    """True, 1 and 1.0 (and [True] vs [1]) under one key stay bool, int and float across spans."""
    encoder = SpanEncoder()
    for value in (True, 1, 1.0, ["1"], [True], [1], "1", False, 0, 0.0):
        _assert_same([_span(attributes={"k": value}), _span(2, attributes={"k": value})], encoder)


def test_the_attribute_caches_are_bounded() -> None:
    """Unique values (ids, token counts) never grow the caches past CACHE_LIMIT; output stays right."""
    encoder = SpanEncoder()
    for batch in range(3):
        spans = [
            _span(n + 1, attributes={"id": f"chatcmpl-{batch}-{n}", "tokens": batch * 10_000 + n, "t": [f"{n}"]})
            for n in range(CACHE_LIMIT)
        ]
        _assert_same(spans[-3:], encoder)
        encoder.encode(spans)
    for cache in (*encoder._scalar_records.values(), encoder._sequence_records):
        assert len(cache) <= CACHE_LIMIT


_scalar = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.binary(),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4), st.none())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=20), _value, max_size=8), min_size=1, max_size=3))
def test_any_attributes_encode_like_the_official_encoder(attribute_sets: list[dict[str, Any]]) -> None:
    """Property: for generated attribute dicts of any supported value, the bytes are the official bytes."""
    encoder = SpanEncoder()
    spans = [_span(n + 1, attributes=attributes) for n, attributes in enumerate(attribute_sets)]
    _assert_same(spans, encoder)
    _assert_same(spans, encoder)  # and again from the warm caches


@pytest.mark.parametrize("kind", list(SpanKind))
def test_every_span_kind_encodes_like_the_official_encoder(kind: SpanKind) -> None:
    """Each SDK SpanKind maps to the proto enum as the official encoder maps it."""
    _assert_same([_span(kind=kind)])


def test_pauses_between_chunks_leave_the_bytes_unchanged() -> None:
    """pause runs between chunks of pause_every spans (never before the first), and changes nothing."""
    spans = [_span(n + 1, attributes={"n": n}) for n in range(10)]
    calls: list[int] = []
    ours = SpanEncoder().encode(spans, pause=lambda: calls.append(1), pause_every=3)
    assert ours == encode_spans(spans).SerializeToString()
    assert len(calls) == 3  # before spans 4, 7 and 10
