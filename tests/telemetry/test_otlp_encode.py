"""The hand-written OTLP encoder: its bytes for span records are what the official encoder produces for
the same records rendered as ReadableSpans (``readable.to_readable``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from sidecar.telemetry import Telemetry, Usage
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.otlp_encode import CACHE_LIMIT, SpanEncoder, compiled_available
from sidecar.telemetry.readable import to_readable
from sidecar.telemetry.spans import ClientSpan, LiteTracer, Sampler, ServerSpan, SpanRecord
from sidecar.telemetry.tracing import Tracing
from sidecar.translate.common import RequestParams

from .helpers import Collect, attempt, finish, start

RESOURCE = Resource({"service.name": "svc", "service.version": "1.2.3", "k8s.pod.name": "pod-ü"})
SCOPE = InstrumentationScope("llm-sidecar", "0.1.0", "https://opentelemetry.io/schemas/1.41.0")
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
APP_PARENT = SpanContext(TRACE_ID, 0x00F067AA0BA902B7, True, TraceFlags(TraceFlags.SAMPLED), TraceState())
# Not what a SERVER span has in the sidecar (its parent is the app's), but a record may hold one.
LOCAL_PARENT = SpanContext(TRACE_ID, 0x00F067AA0BA902B8, False, TraceFlags(TraceFlags.SAMPLED), TraceState())


def _tracer(resource: Resource = RESOURCE, scope: InstrumentationScope = SCOPE) -> tuple[LiteTracer, Collect]:
    sink = Collect()
    return LiteTracer(resource, scope, Sampler("always_on"), [sink]), sink


def _server(tracer: LiteTracer, parent: SpanContext | None = None, **facts: Any) -> ServerSpan:
    span = tracer.start_server(parent, "POST", "/v1/chat/completions", "/v1/chat/completions", "openai")
    assert isinstance(span, ServerSpan)
    span.status_code, span.outcome = 200, "ok"
    for name, value in facts.items():
        setattr(span, name, value)
    return span


def _client(
    server: ServerSpan, resend_count: int = 0, stream: bool = False, params: Any = None, **facts: Any
) -> ClientSpan:
    span = ClientSpan(
        server,
        "chat",
        "openai",
        "gpt-4o",
        "api.openai.com",
        443,
        "openai/gpt-4o",
        "closed",
        resend_count,
        stream,
        params,
    )
    for name, value in facts.items():
        setattr(span, name, value)
    return span


def _encoders() -> tuple[SpanEncoder, ...]:
    """A fresh encoder of each kind: the C fast path's (when built: tests/test_extensions.py) and
    the Python one."""
    both = (SpanEncoder(), SpanEncoder(compiled=False))
    return both if compiled_available() else both[1:]


def _assert_same(records: Sequence[SpanRecord], encoders: Sequence[SpanEncoder] | None = None) -> bytes:
    """Our bytes parse to the official message, and are in fact the same bytes: from each encoder, with
    its caches cold and then warm (the C fast path writes only what it finds cached)."""
    official = encode_spans([to_readable(record) for record in records])
    expected = official.SerializeToString()
    for encoder in encoders or _encoders():
        for _ in range(2):
            ours = encoder.encode(records)
            assert ExportTraceServiceRequest.FromString(ours) == official
            assert ours == expected
    return expected


def _ended(*spans: SpanRecord) -> list[SpanRecord]:
    for span in spans:
        span.end()
    return list(spans)


def test_a_traced_request_encodes_like_the_official_encoder() -> None:
    """A request with a traceparent, trace state, fallback, events, usage and an error, as the pipeline
    records it, encodes as encode_spans does for its ReadableSpans."""
    sink = Collect()
    config = TelemetryConfig()
    tracer = LiteTracer(RESOURCE, SCOPE, Sampler("parentbased_always_on"), [sink])
    telemetry = Telemetry(config, service_version="t", tracing=Tracing(tracer, []))
    trace = start(telemetry, {"traceparent": f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01", "tracestate": "a=1,b=2"})
    trace.route_decided(route="default", targets=("openai/gpt-4o", "anthropic/claude"))
    attempt(trace, request_params=RequestParams(max_tokens=64, temperature=0.2)).finish(
        status=503, error_type="http_503", response_model=None
    )
    trace.skipped(target="x/y", reason="breaker_open")
    trace.fallback(from_target="openai/gpt-4o", reason="http_503")
    attempt(trace, "anthropic/claude", resend_count=1).finish(
        status=200, error_type=None, response_model="claude", response_id="msg_1", usage=Usage(10, 20, 5)
    )
    finish(trace, outcome="fallback", attempts=2, fallback_reason="http_503")
    assert len(sink.records) == 3
    _assert_same(sink.records)


def test_every_fact_of_both_span_kinds_encodes_like_the_official_encoder() -> None:
    """Every optional fact set at once (capture, cache, rejection, stream, cost, first chunk, ...)."""
    tracer, _ = _tracer()
    server = _server(
        tracer,
        APP_PARENT,
        path="/v1beta/models/gemini:generateContent",
        requested_model="gpt-4o",
        request_stream=True,
        targets=["a/b", "c/d"],
        rejected_reason="denied",
        cache_hit=False,
        status_code=503,
        outcome="error",
        attempts=3,
        streamed=True,
        route="premium",
        served_model="gpt-4o",
        fallback_reason="timeout",
        error_type="upstream_timeout",
        error=True,
        cost_usd=0.00123,
    )
    server.trace_state = TraceState([("vendor", "x-1"), ("other", "y")])
    server.add_event("sidecar.fallback", {"sidecar.target": "a/b", "sidecar.fallback.reason": "timeout"})
    server.add_event("sidecar.target.skipped", {"sidecar.target": "c/d", "sidecar.skip.reason": "breaker_open"})
    client = _client(
        server,
        resend_count=2,
        stream=True,
        params=RequestParams(
            model="m",
            max_tokens=64,
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            stop_sequences=("END", "STOP"),
            frequency_penalty=0.1,
            presence_penalty=-0.2,
            seed=7,
            choice_count=2,
            stream=True,
        ),
        input_messages='[{"role":"user"}]',
        status_code=200,
        response_model="gpt-4o-2024-08-06",
        finish_reasons=["stop", "length"],
        response_id="chatcmpl-ü",
        usage=Usage(120, 40, 100),
        time_to_first_chunk=0.0123,
        output_messages='[{"role":"assistant"}]',
        content_truncated=True,
        error_type="cut_stream",
    )
    _assert_same(_ended(client, server))


def test_minimal_spans_encode_like_the_official_encoder() -> None:
    """Nothing optional: a root SERVER span rejected early, a CLIENT span that never got a status."""
    tracer, _ = _tracer()
    server = _server(tracer, outcome="rejected", status_code=400)
    client = _client(server)
    _assert_same(_ended(client, server))


def test_request_parameters_of_any_form_encode_like_the_official_encoder() -> None:
    """RequestParams, a mapping, an object with some of the fields, odd value types and empty values."""

    class Partial:
        max_tokens = 5
        temperature = True  # a bool is not a number here: left out, as request_param_attributes does

    tracer, _ = _tracer()
    server = _server(tracer)
    clients = [
        _client(server, params=RequestParams(temperature=1.0, max_tokens=1)),
        _client(server, params={"temperature": 1, "max_tokens": 1.0}),
        _client(server, params=RequestParams(stop_sequences=())),
        _client(server, params={"max_tokens": 3, "stop_sequences": ["a", 1], "seed": "x"}),
        _client(server, params=Partial()),
        _client(server, params=RequestParams(stop_sequences=["unhashable"])),  # type: ignore[arg-type]
    ]
    encoders = _encoders()
    _assert_same(_ended(*clients, server), encoders)
    _assert_same(clients, encoders)  # and again, the encoders' caches holding the whole batch


def test_nan_encodes_to_the_same_bytes() -> None:
    """A NaN double (cost, time to first chunk, a parameter) is written bit for bit as the official one."""
    tracer, _ = _tracer()
    server = _server(tracer, cost_usd=math.nan)
    client = _client(server, params=RequestParams(temperature=math.nan), time_to_first_chunk=math.nan)
    _assert_same(_ended(client, server))


def test_values_the_official_encoder_rejects_are_left_out_the_same_way() -> None:
    """A count beyond int64 and a lone surrogate are dropped from the span, the rest kept."""
    tracer, _ = _tracer()
    server = _server(tracer, served_model="\ud800")
    client = _client(server, usage=Usage(2**63, 5, -(2**63) - 1), response_id="\udfff", response_model="kept")
    ours = _assert_same(_ended(client, server))
    parsed = ExportTraceServiceRequest.FromString(ours).resource_spans[0].scope_spans[0].spans
    keys = {s.kind: [a.key for a in s.attributes] for s in parsed}
    assert "gen_ai.usage.output_tokens" in keys[3] and "gen_ai.usage.input_tokens" not in keys[3]
    assert "gen_ai.response.id" not in keys[3] and "gen_ai.response.model" in keys[3]
    assert "sidecar.served_model" not in keys[2]


def test_values_beside_the_fast_paths_encode_like_the_official_encoder() -> None:
    """A response id of 126 bytes and more, negative and huge in-range token counts, a non-str id."""
    tracer, _ = _tracer()
    server = _server(tracer)
    clients = [
        _client(server, response_id="r" * 125, usage=Usage(0, 2**63 - 1, -1)),
        _client(server, response_id="r" * 126, usage=Usage(127, 128, 16384)),
        _client(server, response_id="é" * 300),
        _client(server, response_id=12345),
    ]
    _assert_same(_ended(*clients, server))


def test_spans_are_grouped_by_resource_and_scope_like_the_official_encoder() -> None:
    """Interleaved tracers' resources and scopes group in first-seen order; equal resources merge."""
    tracers = [
        _tracer()[0],
        _tracer(Resource({"service.name": "other"}, "https://example.com/schema"))[0],
        _tracer(scope=InstrumentationScope("other-scope", None, None, {"scope.attr": "v"}))[0],
        _tracer(Resource(dict(RESOURCE.attributes)))[0],
    ]
    records = [_server(tracer) for tracer in tracers * 2]
    _assert_same(_ended(*records))


def test_an_empty_batch_is_an_empty_request() -> None:
    """No spans: the empty message, as the official encoder serializes it."""
    assert SpanEncoder().encode([]) == encode_spans([]).SerializeToString() == b""


def test_cached_records_never_mix_equal_values_of_different_types() -> None:
    """True, 1 and 1.0 as request parameters given as a mapping (encoded per span, not cached by value)
    stay bool, int and float across spans from one encoder."""
    tracer, _ = _tracer()
    encoders = _encoders()
    for value in (True, 1, 1.0, False, 0, 0.0):
        server = _server(tracer, cache_hit=bool(value))
        client = _client(server, params={"temperature": value, "max_tokens": value})
        _assert_same(_ended(client, server), encoders)


def test_the_caches_are_bounded() -> None:
    """Unique values (models, routes, targets, ids) never grow a cache past CACHE_LIMIT; output stays right."""
    tracer, _ = _tracer()
    encoders = _encoders()
    for batch in range(3):
        records: list[SpanRecord] = []
        for n in range(CACHE_LIMIT):
            server = _server(tracer, served_model=f"m-{batch}-{n}", route=f"r{n}", targets=(f"t{n}",))
            client = _client(server, response_model=f"m-{batch}-{n}", response_id=f"id-{n}", status_code=200)
            client.target = f"t-{batch}-{n}"
            client.request_params = RequestParams(max_tokens=batch * CACHE_LIMIT + n)
            records += _ended(client, server)
        _assert_same(records[-4:], encoders)
        for encoder in encoders:
            encoder.encode(records)
    for encoder in encoders:
        caches = [getattr(encoder, name) for name in encoder.__slots__ if isinstance(getattr(encoder, name), dict)]
        assert caches and all(len(cache) <= CACHE_LIMIT for cache in caches)


def test_one_call_writers_are_bounded_across_shapes() -> None:
    """Response ids and token counts of every size make a writer each; their number stays within
    CACHE_LIMIT over all client shapes, and the output stays right."""
    tracer, _ = _tracer()
    encoders = _encoders()
    for model in ("a", "b", "c", "d"):
        records: list[SpanRecord] = []
        for id_size in range(1, 126):
            for count_size in range(1, 10):
                server = _server(tracer)
                client = _client(server, response_model=model, response_id="x" * id_size, status_code=200)
                client.usage = Usage(input_tokens=1 << (7 * count_size - 1), output_tokens=1)
                records += _ended(client, server)
        _assert_same(records[-6:], encoders)
        for encoder in encoders:
            encoder.encode(records)
    for encoder in encoders:
        writers = sum(len(shape[3] or ()) for shape in encoder._client_shapes.values())
        assert 0 < writers <= CACHE_LIMIT


_text = st.text(max_size=12)
_maybe_text = st.none() | _text
# RequestParams as extract_request_params makes them: exact types, no negative zero (see its docstring).
_number = st.floats(allow_nan=False).map(lambda value: value + 0.0)
_params = st.builds(
    RequestParams,
    max_tokens=st.none() | st.integers(min_value=0, max_value=2**40),
    temperature=st.none() | _number,
    top_p=st.none() | _number,
    stop_sequences=st.tuples() | st.tuples(_text, _text),
    seed=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
_usage = st.builds(
    Usage,
    st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)


_server_facts = st.fixed_dictionaries(
    {
        "requested_model": _maybe_text,
        "request_stream": st.booleans(),
        "targets": st.none() | st.tuples(_text, _text),
        "rejected_reason": _maybe_text,
        "cache_hit": st.none() | st.booleans(),
        "status_code": st.integers(min_value=100, max_value=599),
        "outcome": _text,
        "attempts": st.integers(min_value=0, max_value=5),
        "streamed": st.booleans(),
        "route": _text,
        "served_model": _maybe_text,
        "fallback_reason": _maybe_text,
        "error_type": _maybe_text,
        "error": st.booleans(),
        "cost_usd": st.none() | st.floats(allow_nan=False),
    }
)
_client_facts = st.fixed_dictionaries(
    {
        "resend_count": st.integers(min_value=0, max_value=3),
        "stream": st.booleans(),
        "params": st.none() | _params,
        "status_code": st.none() | st.integers(min_value=100, max_value=599),
        "response_model": _maybe_text,
        "finish_reasons": st.none() | st.lists(_text, max_size=2),
        "response_id": _maybe_text,
        "usage": st.none() | _usage,
        "time_to_first_chunk": st.none() | st.floats(allow_nan=False),
        "input_messages": _maybe_text,
        "output_messages": _maybe_text,
        "content_truncated": st.booleans(),
        "error_type": _maybe_text,
    }
)


@settings(max_examples=200, deadline=None)
@given(
    server_facts=_server_facts,
    client_facts=_client_facts,
    parent=st.sampled_from([None, APP_PARENT, LOCAL_PARENT]),
)
def test_any_facts_encode_like_the_official_encoder(
    server_facts: dict[str, Any], client_facts: dict[str, Any], parent: SpanContext | None
) -> None:
    """Property: for generated facts of both span kinds, the bytes are the official bytes (from both
    encoders, cold and warm caches)."""
    tracer, _ = _tracer()
    server = _server(tracer, parent, **server_facts)
    client = _client(server, **client_facts)
    _assert_same(_ended(client, server))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), count=st.integers(min_value=2, max_value=6), parent=st.sampled_from([None, APP_PARENT]))
def test_spans_that_differ_from_the_last_in_a_fact_or_two_encode_like_the_official_encoder(
    data: st.DataObject, count: int, parent: SpanContext | None
) -> None:
    """Property: spans each differing from the one before in one or two facts (what the C fast path
    compares before it looks a shape up), then the same spans shuffled, from warm caches, encode as the
    official encoder does."""
    tracer, _ = _tracer()
    server_facts, client_facts = data.draw(_server_facts), data.draw(_client_facts)
    records: list[SpanRecord] = []
    for _ in range(count):
        for facts, strategy in ((server_facts, _server_facts), (client_facts, _client_facts)):
            fresh = data.draw(strategy)
            for name in data.draw(st.sets(st.sampled_from(sorted(facts)), max_size=2)):
                facts[name] = fresh[name]
        server = _server(tracer, parent, **server_facts)
        records += _ended(_client(server, **client_facts), server)
    encoders = _encoders()
    _assert_same(records, encoders)
    data.draw(st.randoms(use_true_random=False)).shuffle(records)
    _assert_same(records, encoders)


def test_the_c_fast_path_is_used_unless_told_not_to() -> None:
    """SpanEncoder uses the C fast path when it is there (tests/test_extensions.py checks that it is
    built), and not with compiled=False."""
    assert compiled_available()
    assert SpanEncoder().compiled
    assert not SpanEncoder(compiled=False).compiled


def test_records_the_fast_path_does_not_know_go_to_the_python_path() -> None:
    """A record of a subclass, a record with an unset slot and an object that is no record get what the
    Python path gives them: the same bytes, or the same exception."""

    class OwnServerSpan(ServerSpan):
        __slots__ = ()

    tracer, _ = _tracer()
    encoders = _encoders()
    warm = _server(tracer)
    _assert_same(_ended(warm), encoders)
    own = OwnServerSpan(tracer, warm.trace_id, None, None, "POST", "/v1/chat/completions", "/v1/x", "openai")
    own.status_code, own.outcome = 200, "ok"
    _assert_same(_ended(own), encoders)
    unset = _server(tracer)
    del unset.outcome
    for encoder in encoders:
        with pytest.raises(AttributeError, match="outcome"):
            encoder.span(unset)
        with pytest.raises(AssertionError):
            encoder.span(object())  # type: ignore[arg-type]
