"""Tracing on the OpenTelemetry SDK: the tracer, W3C context in and out, the current ids for logs.

- ``Tracing.build(config, resource, on_drop)``: a ``TracerProvider`` of this ``Telemetry`` alone (never
  the global one) with the configured sampler (``OTEL_TRACES_SAMPLER[_ARG]``, the SDK's samplers) and,
  per exporter (``export.span_exporter``), a ``CountedBatchSpanProcessor``.
- ``Tracing.for_tests(exporter, resource)``: the same with the SDK's ``SimpleSpanProcessor`` (each span
  exported when it ends, on the caller's thread).
- ``extract_parent(headers)``: the app's W3C trace context (``traceparent`` and ``tracestate``, read by
  the SDK's ``TraceContextTextMapPropagator``; no other header is ever read). ``inject`` writes a span's.
- ``dropped_with_app(tracing, parent, ...)``: whether a request continuing an app trace that is not
  sampled (flag 00) is not sampled here either, asked of the configured sampler before any span is
  made. Such a request needs none: it passes the app's ``traceparent``/``tracestate`` upstream as they
  came, as W3C Trace Context lets a participant that records nothing do (the SDK would make a
  non-recording span with a span id of its own, at some 35,000 CPU instructions, half an untraced
  request's telemetry). Only for app traces: for a request without a ``traceparent`` the trace id,
  which a ratio sampler decides on, is made inside ``Tracer.start_span``, so the SDK decides there.
- ``current_trace_ids()``: hex ids of the current OTel span (a request's, inside ``with trace:``);
  ``("", "")`` when there is none or it is not sampled. The log processor uses them.

``CountedBatchSpanProcessor`` is the SDK's ``BatchSpanProcessor`` (its bounded queue, worker thread and
batching) plus the one thing the SDK does not give a caller: the number of spans it lost, for
``llm_sidecar_spans_dropped_total``. The SDK counts its drops only in its own self-observability
metrics, switched on for the whole process by ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``. So the
processor keeps the queue's length from what it hands in and what its exporter is given, and counts
a span dropped when it hands one to a full queue (the SDK then drops the oldest), when an export fails
or raises, and when spans are still queued once shutdown is over. The count can be off by a span
at the instant the worker takes a batch from a full queue.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Final, TextIO

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .config import BatchConfig, TelemetryConfig
from .export import span_exporter
from .genai import SCHEMA_URL

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.util.types import Attributes

INSTRUMENTATION: Final = "llm-sidecar"
PROPAGATOR: Final = TraceContextTextMapPropagator()
ROOT: Final = Context()  # the parent context of a request without a valid traceparent: a new trace


def current_trace_ids() -> tuple[str, str]:
    """(trace id, span id) in hex of the current span, or ``("", "")`` if none or not sampled."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def extract_parent(headers: Mapping[str, str]) -> Context:
    """The app's span context (remote parent) from its ``traceparent``/``tracestate``; ``ROOT`` if none
    or invalid."""
    if "traceparent" not in headers:
        return ROOT
    return PROPAGATOR.extract(headers)


def dropped_with_app(
    tracing: Tracing | None, parent: Context, name: str, kind: SpanKind, attributes: Attributes
) -> bool:
    """True if ``parent`` is a valid app span context marked not sampled and ``tracing``'s sampler,
    asked as ``Tracer.start_span`` would ask it, does not record the span either."""
    app = trace.get_current_span(parent).get_span_context()
    if tracing is None or not app.is_valid or app.trace_flags.sampled:
        return False
    result = tracing.sampler.should_sample(parent, app.trace_id, name, kind, attributes)
    return not result.decision.is_recording()  # type: ignore[no-untyped-call]


def inject(context: Context, headers: MutableMapping[str, str]) -> None:
    """Write the W3C ``traceparent`` (and ``tracestate``) of ``context``'s span into ``headers``."""
    PROPAGATOR.inject(headers, context)


def sampler(name: str, ratio: float) -> Sampler:
    """The SDK's sampler of that ``OTEL_TRACES_SAMPLER`` name (validated by ``config``)."""
    root: Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    else:
        root = TraceIdRatioBased(ratio)
    return ParentBased(root) if name.startswith("parentbased_") else root


class CountedBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor, counting every span it loses through ``on_drop`` (module docstring)."""

    def __init__(self, exporter: SpanExporter, batch: BatchConfig, on_drop: Callable[[int], None]) -> None:
        self._on_drop = on_drop
        self._capacity = batch.max_queue_size
        # Each written by one thread: handed in (on_end), dropped for a full queue (on_end), given to
        # the exporter (the worker, under the SDK's export lock).
        self._handed = self._dropped_full = self._taken = 0
        self._closed = False
        self._left_counted = threading.Lock()  # held for good once the spans left over are counted
        super().__init__(
            _CountingExporter(exporter, self),
            max_queue_size=batch.max_queue_size,
            schedule_delay_millis=batch.schedule_delay_s * 1000,
            max_export_batch_size=batch.max_export_batch_size,
            export_timeout_millis=batch.export_timeout_s * 1000,
        )

    @property
    def queued(self) -> int:
        return self._handed - self._dropped_full - self._taken

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed:
            self._on_drop(1)
            return
        if self.queued >= self._capacity:
            self._dropped_full += 1
            self._on_drop(1)  # the SDK drops the oldest queued span to make room for this one
        self._handed += 1
        super().on_end(span)

    def taken(self, count: int) -> None:
        """The worker gives ``count`` spans to the exporter."""
        self._taken += count

    def lost(self, count: int) -> None:
        self._on_drop(count)

    def shutdown(self) -> None:
        self._closed = True
        super().shutdown()  # type: ignore[no-untyped-call]
        self.count_left()

    def count_left(self) -> None:
        """Count the spans still queued as dropped, once: at the end of shutdown, or when the wait for it
        ends first (``Telemetry.shutdown``), as the process is about to exit with them."""
        if self._left_counted.acquire(blocking=False):
            left = self.queued
            if left > 0:
                self._on_drop(left)


class _CountingExporter(SpanExporter):
    def __init__(self, exporter: SpanExporter, processor: CountedBatchSpanProcessor) -> None:
        self.exporter = exporter
        self._processor = processor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._processor.taken(len(spans))
        try:
            result = self.exporter.export(spans)
        except Exception:
            self._processor.lost(len(spans))
            raise
        if result is not SpanExportResult.SUCCESS:
            self._processor.lost(len(spans))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class Tracing:
    """The tracer of one ``Telemetry`` and the provider to shut down with it."""

    def __init__(self, provider: TracerProvider, processors: Sequence[CountedBatchSpanProcessor] = ()) -> None:
        from .. import __version__

        self.provider = provider
        self.sampler = provider.sampler
        self.processors = tuple(processors)
        self.tracer = provider.get_tracer(INSTRUMENTATION, __version__, schema_url=SCHEMA_URL)

    @classmethod
    def build(
        cls,
        config: TelemetryConfig,
        resource: Resource,
        on_drop: Callable[[int], None],
        *,
        console: TextIO | None = None,
    ) -> Tracing:
        provider = TracerProvider(
            sampler=sampler(config.sampler, config.sampler_arg), resource=resource, shutdown_on_exit=False
        )
        processors = []
        for name in config.traces.exporters:
            exporter = span_exporter(name, config.traces.otlp, console or sys.stderr)
            processors.append(CountedBatchSpanProcessor(exporter, config.batch, on_drop))
            provider.add_span_processor(processors[-1])
        return cls(provider, processors)

    @classmethod
    def for_tests(cls, exporter: SpanExporter, resource: Resource) -> Tracing:
        provider = TracerProvider(
            sampler=sampler("parentbased_always_on", 1.0), resource=resource, shutdown_on_exit=False
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider)

    def shutdown(self) -> None:
        """Flush and stop every processor and exporter (blocking: run it off the loop)."""
        self.provider.shutdown()

    def count_left(self) -> None:
        """Count the spans no processor could export before the wait for shutdown ended."""
        for processor in self.processors:
            processor.count_left()
