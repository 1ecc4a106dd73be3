"""The SDK's batch span processor with its lost spans counted; the sampler names; what a dropped or a
recorded trace sends upstream."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanKind, set_span_in_context

from sidecar.telemetry import Telemetry
from sidecar.telemetry.config import BatchConfig, TelemetryConfig
from sidecar.telemetry.propagation import ROOT, inject
from sidecar.telemetry.tracing import CountedBatchSpanProcessor, DecidedIdGenerator, Tracing, lean_for_export

from .helpers import APP_SPAN_ID, APP_TRACE_ID, APP_TRACEPARENT, attempt, finish, start, value


class Recording(SpanExporter):
    """Collects exported spans; can be made to block, fail or raise."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS, *, raises: bool = False) -> None:
        self.names: list[str] = []
        self.result = result
        self.raises = raises
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.gate.wait(10)
        if self.raises:
            raise RuntimeError("collector exploded")
        self.names.extend(span.name for span in spans)
        return self.result


class Dropped:
    """An ``on_drop`` callback that adds up the counts."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, count: int) -> None:
        self.count += count


def _processor(
    exporter: SpanExporter, dropped: Callable[[int], None], queue: int = 4, batch: int = 4
) -> CountedBatchSpanProcessor:
    config = BatchConfig(max_queue_size=queue, schedule_delay_s=60, max_export_batch_size=batch)
    return CountedBatchSpanProcessor(exporter, config, dropped)


def _end_spans(provider: TracerProvider, names: range) -> None:
    tracer = provider.get_tracer("t")
    for n in names:
        tracer.start_span(f"s{n}").end()


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    """With the exporter stuck on one batch and the queue full, each further span is counted as dropped
    (the SDK drops the oldest queued one); the rest are exported by shutdown."""
    exporter, dropped = Recording(), Dropped()
    exporter.gate.clear()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(_processor(exporter, dropped))
    _end_spans(provider, range(4))  # a full batch: the worker takes it and blocks in export
    assert exporter.entered.wait(5)
    _end_spans(provider, range(4, 11))  # 4 fill the queue, 3 more push out the oldest
    assert dropped.count == 3
    exporter.gate.set()
    provider.shutdown()
    assert len(exporter.names) == 8 and dropped.count == 3
    assert exporter.names[-4:] == ["s7", "s8", "s9", "s10"]  # the newest kept


@pytest.mark.parametrize("raises", [False, True])
def test_failed_exports_count_as_dropped(raises: bool) -> None:
    """A batch whose export fails (or raises) counts every span in it as dropped."""
    exporter, dropped = Recording(SpanExportResult.FAILURE, raises=raises), Dropped()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(_processor(exporter, dropped))
    _end_spans(provider, range(3))
    provider.shutdown()
    assert dropped.count == 3


def test_spans_still_queued_when_shutdown_gives_up_are_counted_once() -> None:
    """Spans left in the queue are counted as dropped when the wait for shutdown ends, and not again
    when the stuck export finally returns."""
    exporter, dropped = Recording(), Dropped()
    exporter.gate.clear()
    processor = _processor(exporter, dropped, queue=8, batch=2)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    _end_spans(provider, range(2))
    assert exporter.entered.wait(5)
    _end_spans(provider, range(2, 5))
    processor.count_left()
    assert dropped.count == 3
    exporter.gate.set()
    provider.shutdown()
    assert dropped.count == 3


async def test_dropped_spans_show_in_metrics() -> None:
    """llm_sidecar_spans_dropped_total counts what the Telemetry's processors lost."""
    exporter = Recording(SpanExportResult.FAILURE)

    def tracing(resource: Resource, on_drop: Callable[[int], None]) -> Tracing:
        provider = TracerProvider(resource=resource, shutdown_on_exit=False, id_generator=DecidedIdGenerator())
        provider.add_span_processor(_processor(exporter, on_drop))
        return Tracing(provider)

    telemetry = Telemetry(TelemetryConfig(), service_version="t", tracing=tracing)
    finish(start(telemetry))
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=5)
    assert value(telemetry, "llm_sidecar_spans_dropped_total") == 2


def _ratio_traced(ratio: float, spans: InMemorySpanExporter, sampler_name: str = "traceidratio") -> Telemetry:
    return Telemetry(
        TelemetryConfig(),
        service_version="t",
        tracing=lambda resource, _: Tracing.for_tests(spans, resource, sampler_name=sampler_name, ratio=ratio),
    )


def test_a_ratio_sampler_records_its_share_of_new_traces() -> None:
    """At ratio 0.5 about half the requests without an app trace are recorded: the trace id the sampler
    decided on is the one the recorded span gets (not a second draw, which would keep a quarter)."""
    random.seed(17)
    spans = InMemorySpanExporter()
    telemetry = _ratio_traced(0.5, spans)
    recorded = 0
    for _ in range(400):
        trace = start(telemetry)
        recorded += trace.span is not None
        finish(trace)
    assert 160 <= recorded <= 240
    assert len(spans.get_finished_spans()) == recorded


def test_a_recorded_new_trace_has_an_id_its_sampler_keeps() -> None:
    """Every recorded request's trace id is one the ratio sampler keeps, and every request it left out
    sends upstream a trace id the sampler drops (flag 00)."""
    random.seed(18)
    telemetry = _ratio_traced(0.5, InMemorySpanExporter())
    keeps = TraceIdRatioBased(0.5)
    for _ in range(50):
        trace = start(telemetry)
        headers: dict[str, str] = {}
        attempt(trace).inject(headers)
        finish(trace)
        _, trace_id, _, flags = headers["traceparent"].split("-")
        decision = keeps.should_sample(None, int(trace_id, 16), "n").decision
        assert decision.is_sampled() == (trace.span is not None) == (int(flags, 16) & 1 == 1)


def test_a_later_traceparent_version_left_out_is_passed_on_as_version_00() -> None:
    """An app trace of a later traceparent version, not sampled: upstream gets it in version 00, as the
    SDK's propagator writes it (the later version's extra fields left out)."""
    telemetry = Telemetry.for_tests()
    trace = start(telemetry, {"traceparent": f"01-{APP_TRACE_ID}-{APP_SPAN_ID}-00-more"})
    headers: dict[str, str] = {}
    attempt(trace).inject(headers)
    finish(trace)
    assert trace.span is None
    assert headers == {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-00"}


# Traceparents the W3C rules refuse (the SDK's propagator reads no parent from them), with a tracestate.
INVALID_APP = [
    {"traceparent": "junk", "tracestate": "vendor=abc"},
    {"traceparent": f"00-{'0' * 32}-{APP_SPAN_ID}-00", "tracestate": "vendor=abc"},  # all-zero trace id
    {"traceparent": f"ff-{APP_TRACE_ID}-{APP_SPAN_ID}-01"},  # forbidden version
    {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-00-extra"},  # version 00 has nothing after the flags
]


@pytest.mark.parametrize(
    ("sampler_name", "sdk_sampler"),
    [
        ("always_off", ALWAYS_OFF),
        ("traceidratio", TraceIdRatioBased(0.0)),
        ("parentbased_traceidratio", ParentBased(TraceIdRatioBased(0.0))),
    ],
)
@pytest.mark.parametrize("app", [None, *INVALID_APP])
def test_a_dropped_new_trace_sends_upstream_what_the_sdk_would(
    sampler_name: str, sdk_sampler: Sampler, app: dict[str, str] | None
) -> None:
    """A new trace the sampler drops (no traceparent, or one that is not valid) gets no span, yet sends
    upstream exactly the traceparent the SDK's propagator writes for the non-recording span
    ``Tracer.start_span`` makes from the same random draws (trace id, span id, flags, version 00), and no
    tracestate."""
    spans = InMemorySpanExporter()
    telemetry = _ratio_traced(0.0, spans, sampler_name)
    sdk = TracerProvider(sampler=sdk_sampler, shutdown_on_exit=False).get_tracer("sdk")
    random.seed(19)
    expected: dict[str, str] = {}
    inject(set_span_in_context(sdk.start_span("POST /v1/chat/completions", ROOT, SpanKind.SERVER)), expected)
    random.seed(19)
    trace = start(telemetry, app)
    headers: dict[str, str] = {}
    attempt(trace).inject(headers)
    finish(trace)
    assert trace.span is None and spans.get_finished_spans() == ()
    assert headers == expected and set(expected) == {"traceparent"}


@pytest.mark.parametrize(
    ("sampler_name", "ratio"),
    [
        ("always_on", 1.0),
        ("parentbased_always_on", 1.0),
        ("traceidratio", 1.0),
        ("parentbased_traceidratio", 0.999),
    ],
)
@pytest.mark.parametrize("app", [None, {"traceparent": APP_TRACEPARENT, "tracestate": "vendor=abc"}, *INVALID_APP])
def test_the_traceparent_sent_upstream_is_the_client_span_made_when_the_call_ends(
    sampler_name: str, ratio: float, app: dict[str, str] | None
) -> None:
    """A recorded request's CLIENT span is made when its call ends; the traceparent (and tracestate) sent
    upstream at its start is exactly what the SDK's propagator writes for that span, a child of the
    request's SERVER span, with every sampler the sidecar builds, in a new trace (no traceparent, or one
    that is not valid: the SERVER span then has no parent) or the app's."""
    random.seed(20)
    spans = InMemorySpanExporter()
    telemetry = _ratio_traced(ratio, spans, sampler_name)
    for _ in range(5):  # a ratio below 1 may drop a new trace: the recorded ones are checked
        trace = start(telemetry, app)
        call = attempt(trace)
        headers: dict[str, str] = {}
        call.inject(headers)
        call.finish(status=200, error_type=None)
        finish(trace)
        if trace.span is None:
            continue
        recorded = spans.get_finished_spans()
        client = next(s for s in recorded if s.kind is SpanKind.CLIENT)
        spans.clear()
        expected: dict[str, str] = {}
        inject(set_span_in_context(NonRecordingSpan(client.context)), expected)
        assert headers == expected
        assert client.parent is not None and client.parent.span_id == int(trace.span_id, 16)
        [server] = [s for s in recorded if s.kind is SpanKind.SERVER]
        assert (server.parent is not None) is (app is not None and app["traceparent"] == APP_TRACEPARENT)


class _DropsEverything(TraceIdRatioBased):
    """A subclass of the SDK's ratio sampler that decides otherwise than its bound says."""

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return SamplingResult(Decision.DROP)


@pytest.mark.parametrize("ratio", [0.0, 0.05, 0.1, 0.5, 0.999])
def test_a_new_trace_is_kept_or_dropped_as_the_sdk_ratio_sampler_decides(
    ratio: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dropped_root`` decides a new trace before its span's name and attributes are made: it keeps
    exactly the trace ids ``TraceIdRatioBased.should_sample`` records, at the edges of its bound and with
    high bits set, and hands a kept one to the next ``start_span``."""
    tracing = Tracing.for_tests(InMemorySpanExporter(), Resource.create({}), sampler_name="traceidratio", ratio=ratio)
    sdk = TraceIdRatioBased(ratio)
    low = [1, 2, sdk.bound - 1, sdk.bound, sdk.bound + 1, (1 << 64) - 1]
    trace_ids = [high << 64 | n for high in (0, 1, (1 << 64) - 1) for n in low if 0 < n < 1 << 64]
    for trace_id in trace_ids:
        draws = iter([trace_id, 0xABC])  # the trace id, then a dropped trace's span id
        monkeypatch.setattr(random, "getrandbits", lambda bits, draws=draws: next(draws))
        dropped = tracing.dropped_root()
        kept = sdk.should_sample(None, trace_id, "POST /v1/chat/completions").decision.is_sampled()
        assert (dropped is None) == kept, hex(trace_id)
        assert tracing.ids.decided == (trace_id if kept else 0)
        if kept:
            span = tracing.start_root("POST /v1/chat/completions", SpanKind.SERVER, {})
            assert not isinstance(span, dict) and span.get_span_context().trace_id == trace_id
            assert tracing.ids.decided == 0
        else:
            assert dropped == {"traceparent": f"00-{trace_id:032x}-{0xABC:016x}-02"}


def test_only_the_sdks_own_ratio_sampler_and_always_off_are_decided_ahead() -> None:
    """``always_off`` drops every new trace in ``dropped_root``; a sampler of any other class (here a
    subclass of the ratio sampler that drops everything) is not second-guessed: ``dropped_root`` decides
    nothing and ``start_root`` asks it."""
    off = Tracing.for_tests(InMemorySpanExporter(), Resource.create({}), sampler_name="always_off")
    assert off.dropped_root() is not None and off.ids.decided == 0
    provider = TracerProvider(sampler=_DropsEverything(1.0), shutdown_on_exit=False, id_generator=DecidedIdGenerator())
    custom = Tracing(provider, new_traces=provider.sampler)
    assert custom.dropped_root() is None and custom.ids.decided == 0
    assert isinstance(custom.start_root("POST /v1/chat/completions", SpanKind.SERVER, {}), dict)


def _ended(spans: InMemorySpanExporter, limits: SpanLimits | None = None) -> ReadableSpan:
    """One SERVER span with attributes, a sequence value and an event, ended into ``spans``."""
    provider = TracerProvider(shutdown_on_exit=False, span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    span = provider.get_tracer("t").start_span(
        "POST /v1/chat/completions", ROOT, SpanKind.SERVER, {"http.route": "/v1/chat/completions", "n": 1}
    )
    span.set_attributes({"sidecar.route.targets": ["a", "b"], "sidecar.cost_usd": 0.5})
    span.add_event("sidecar.cache", {"sidecar.cache.result": "miss"})
    span.end()
    return spans.get_finished_spans()[-1]


@pytest.mark.parametrize("limits", [None, SpanLimits(max_span_attributes=2, max_events=0)])
def test_a_span_handed_to_the_exporter_encodes_to_the_same_otlp_bytes(limits: SpanLimits | None) -> None:
    """``lean_for_export`` (the batch processor's ``on_end``) gives the SDK's OTLP encoder the span's
    attributes and its events' as plain dicts and its events and links as tuples: the encoded span is byte
    for byte what it was, and where the SDK dropped some (span limits) it keeps the SDK's containers and their
    dropped counts."""
    spans = InMemorySpanExporter()
    span = _ended(spans, limits)
    before = encode_spans([span]).SerializeToString()
    lean_for_export(span)
    assert encode_spans([span]).SerializeToString() == before
    if limits is None:  # what the SDK 1.45 holds: fails if an upgrade moves its private fields
        assert type(span._attributes) is dict and type(span._events) is tuple and span._links == ()
        assert type(span._events[0]._attributes) is dict
    else:
        assert span.dropped_attributes == 2 and span.dropped_events == 1
