"""Tracing on the OpenTelemetry SDK: the tracer provider, its sampler, id generator and batch processors.

Imported only when a trace exporter is configured (``Telemetry.from_env``) or by tests: a sidecar
without tracing does not load the SDK's tracing (about 2 MB of resident memory, docs/benchmarks.md
"Start-up memory"). What every request uses, traced or not (the W3C context in and out, the current
ids for logs), is in ``propagation``, on the OpenTelemetry API alone.

- ``Tracing.build(config, resource, on_drop)``: a ``TracerProvider`` of this ``Telemetry`` alone (never
  the global one) with the configured sampler (``OTEL_TRACES_SAMPLER[_ARG]``, the SDK's samplers) and,
  per exporter (``export.span_exporter``), a ``CountedBatchSpanProcessor``.
- ``Tracing.for_tests(exporter, resource, sampler_name=, ratio=)``: the same with the SDK's
  ``SimpleSpanProcessor`` (each span exported when it ends, on the caller's thread); ``Tracing.new``
  what both stand on (benches give it their own processors).
- ``Tracing.start_root(name, kind, attributes)``: the span of a request without an app trace, or, for a
  trace the sampler drops, only the headers its upstream calls carry. Where the configured sampler may
  drop a new trace (a ratio or ``always_off`` root), the sampler that decides new traces (the root of a
  ``parentbased_`` one, which is what ``ParentBased`` asks for a span without a parent) is asked first,
  on a trace id from the provider's id generator, as ``Tracer.start_span`` would ask it. A trace it
  drops gets no span, no ``SpanContext`` and no ``Context``: nothing reads them (no span is current, no
  log line has ids, no exporter sees it). It gets the ``traceparent`` (and ``tracestate``, if the
  sampler gave one) that the SDK's propagator would write for the non-recording span ``start_span``
  would have made: the same trace id, a span id drawn next from the same generator, the same flags
  (the sampled flag off, the random-trace-id flag as ``start_span`` sets it), version 00; a test holds
  the text equal to the SDK's, draw for draw. That is the sampling decision and one formatted string,
  where the span, its context and the propagator cost about 25,000 instructions more. A trace the
  sampler keeps is started by ``Tracer.start_span`` on that same trace id (``DecidedIdGenerator``),
  which asks the sampler again and gets the same answer (a ratio sampler decides on the trace id
  alone). Where every new trace is sampled, ``Tracer.start_span`` at once.
- ``Tracing.dropped_root()``: what the facade calls first for a request without an app trace, where the
  sampler that decides new traces is the SDK's ``TraceIdRatioBased`` (its exact class) or
  ``always_off`` (``root_bound``): the decision made on the drawn trace id by that sampler's own rule
  (its low 64 bits below the sampler's ``bound``; a test holds it equal to ``should_sample`` at the
  bound's edges), before the span's name and attributes exist and without the ``SamplingResult``:
  a dropped trace gets ``start_root``'s headers (about 8,000 instructions instead of 24,000), a kept
  one has its trace id decided, and ``start_root`` then calls ``start_span`` at once (which asks the
  configured sampler, once). Any other sampler decides nothing there; ``start_root`` asks it.
- ``lean_for_export(span)``: ``CountedBatchSpanProcessor.on_end`` hands its exporter an ended span's
  attributes as a plain dict and its events and links as tuples (the same values; its docstring).

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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Span, SpanKind, TraceFlags, get_current_span

from .config import BatchConfig, TelemetryConfig
from .export import span_exporter
from .genai import SCHEMA_URL
from .propagation import INSTRUMENTATION, ROOT
from .server_span import ServerSpan

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource


def drops_roots(name: str, ratio: float) -> bool:
    """Whether the sampler of that name and ratio may leave out a new trace (a span without a parent)."""
    base = name.removeprefix("parentbased_")
    return base == "always_off" or (base == "traceidratio" and ratio < 1.0)


def root_sampler(name: str, ratio: float) -> Sampler:
    """The SDK's sampler that decides a new trace (no parent) for that ``OTEL_TRACES_SAMPLER`` name
    (validated by ``config``): the root of a ``parentbased_`` one (``Tracing.new`` wraps it in
    ``ParentBased``), else the sampler itself."""
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        return ALWAYS_ON
    if base == "always_off":
        return ALWAYS_OFF
    return TraceIdRatioBased(ratio)


_TRACE_ID_LIMIT: Final = TraceIdRatioBased.TRACE_ID_LIMIT


def root_bound(new_traces: Sampler | None) -> int | None:
    """The bound ``TraceIdRatioBased.should_sample`` compares a trace id's low 64 bits with, for the SDK's
    ratio sampler (its exact class: a subclass may decide otherwise), 0 for ``always_off`` (nothing is
    below it); None for any other sampler, or none (every new trace sampled)."""
    if new_traces is ALWAYS_OFF:
        return 0
    if type(new_traces) is TraceIdRatioBased:
        return new_traces.bound
    return None


class DecidedIdGenerator(RandomIdGenerator):
    """The SDK's random ids, except that the trace id ``Tracing.start_root`` decided on is the next one
    ``generate_trace_id`` gives, and the span id an ``AttemptTrace`` drew at its start the next one
    ``generate_span_id`` gives (each is set right before the ``start_span`` call that takes it, on the
    event loop's thread, where spans start: nothing else starts a span in between)."""

    def __init__(self) -> None:
        self.decided = 0  # 0 is no trace id (W3C): nothing decided
        self.decided_span = 0  # likewise for span ids

    def generate_span_id(self) -> int:
        decided = self.decided_span
        if decided:
            self.decided_span = 0
            return decided
        return _random_span_id(self)  # the SDK's (no super(): these run once or twice a request)

    def generate_trace_id(self) -> int:
        decided = self.decided
        if decided:
            self.decided = 0
            return decided
        return _random_trace_id(self)


_random_span_id: Final = RandomIdGenerator.generate_span_id
_random_trace_id: Final = RandomIdGenerator.generate_trace_id


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
        if self._handed - self._dropped_full - self._taken >= self._capacity:  # ``queued``, inline
            self._dropped_full += 1
            self._on_drop(1)  # the SDK drops the oldest queued span to make room for this one
        self._handed += 1
        lean_for_export(span)
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


def lean_for_export(span: ReadableSpan) -> None:
    """Hand the exporter an ended span's attributes (and its events': 4,100 less an event, wave 46) as the
    plain dict the SDK's ``BoundedAttributes`` holds them in, and its events and links as tuples, where
    nothing was dropped (else it keeps the SDK's containers, which count the drops): the same values, read by
    the SDK's OTLP encoder without a Python call per attribute (its ``.items()`` on a ``MutableMapping``) and
    without copying the lists under their locks: about 21,000 CPU instructions less per span in the export
    thread (docs/benchmarks.md, wave 21), for far fewer here (in ``request-all``'s count, which went down).
    An ended span's containers never change again (the SDK refuses to set anything on it). These are
    the SDK's private fields: where they are not what 1.45 has, the span goes as it came
    (``tests/telemetry/test_tracing.py`` fails then)."""
    try:
        attributes, events, links = span._attributes, span._events, span._links
    except AttributeError:
        return
    if type(attributes) is BoundedAttributes and not attributes.dropped:
        plain = getattr(attributes, "_dict", None)
        if type(plain) is dict:
            span._attributes = plain
    if type(events) is BoundedList and not events.dropped:
        kept = getattr(events, "_dq", None)
        if kept is not None:
            span._events = tuple(kept)
            for event in kept:
                held = getattr(event, "_attributes", None)
                if type(held) is BoundedAttributes and not held.dropped and type(getattr(held, "_dict", None)) is dict:
                    event._attributes = held._dict
    if type(links) is BoundedList and not links.dropped:
        kept = getattr(links, "_dq", None)
        if kept is not None:
            span._links = tuple(kept)


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

    def __init__(
        self,
        provider: TracerProvider,
        processors: Sequence[CountedBatchSpanProcessor] = (),
        *,
        new_traces: Sampler | None = None,
        follows_app: bool = False,
        made_at_end: bool = False,
        batched: bool = False,
    ) -> None:
        """``provider``: its id generator a ``DecidedIdGenerator``, its sampler one that records every
        child of a recorded span (the SDK's do; ``child_headers``). ``new_traces``: given when that
        sampler may drop a new trace (``drops_roots``), the sampler that decides a new trace
        (``root_sampler``): ``start_root`` then asks it before any span is made. ``follows_app``: that
        sampler is the SDK's ``ParentBased`` with its default delegates, which drops every span whose
        remote parent is not sampled (``ALWAYS_OFF``) whatever its name and attributes: the facade then
        drops such a request without asking it (``propagation.app_trace``)."""
        from .. import __version__

        ids = provider.id_generator
        if not isinstance(ids, DecidedIdGenerator):
            raise TypeError("Tracing needs a TracerProvider with id_generator=DecidedIdGenerator()")
        self.provider = provider
        self.sampler = provider.sampler
        self.processors = tuple(processors)
        self.tracer = provider.get_tracer(INSTRUMENTATION, __version__, schema_url=SCHEMA_URL)
        self.ids = ids
        self._new_traces = new_traces
        self._root_bound = root_bound(new_traces)
        self.follows_app = follows_app
        self.made_at_end = made_at_end  # a sampled span of ``start_root``/``start_child_of_app``: a ServerSpan
        self.batched = batched  # every processor a batch processor: finished traces wait (``core.HeldWork``)
        self._random_ids = ids.is_trace_id_random()
        # The flags of a new trace the sampler drops, as ``Tracer.start_span`` would set them, in the
        # ``traceparent`` text.
        unsampled = TraceFlags.RANDOM_TRACE_ID if ids.is_trace_id_random() else TraceFlags.DEFAULT
        self._unsampled_flags = f"-{unsampled:02x}"

    def start_root(self, name: str, kind: SpanKind, attributes: dict[str, Any]) -> Span | dict[str, str]:
        """The span of a new trace (``ROOT`` parent), or, if the sampler drops it, the W3C headers to send
        upstream instead (``traceparent``, and ``tracestate`` if the sampler gave one; module
        docstring). A span made at its end (``made_at_end``: a ``ServerSpan``, the kind ``SERVER``) takes
        ``attributes`` as its own dict (not copied)."""
        new_traces = self._new_traces
        ids = self.ids
        if new_traces is not None and not ids.decided:  # not decided by ``dropped_root``: asked now
            trace_id = _random_trace_id(ids)  # the SDK's draw (nothing is decided now), without our frame
            result = new_traces.should_sample(ROOT, trace_id, name, kind, attributes)
            if not result.decision.is_recording():  # type: ignore[no-untyped-call]
                headers = self._dropped_headers(trace_id)
                if result.trace_state:
                    headers["tracestate"] = result.trace_state.to_header()
                return headers
            ids.decided = trace_id
        if self.made_at_end:  # the trace id decided, else drawn now (every new trace sampled); no trace state
            trace_id, ids.decided = ids.decided or _random_trace_id(ids), 0
            return ServerSpan(self.tracer, ids, name, ROOT, trace_id, self._random_ids, None, attributes)
        return self.tracer.start_span(name, ROOT, kind, attributes)

    def start_child_of_app(self, name: str, kind: SpanKind, parent: Context, attributes: dict[str, Any]) -> Span:
        """The span of a request continuing the app's trace ``parent`` (not dropped by the sampler: sampled,
        where ``follows_app``): made at its end (``server_span``, the kind ``SERVER``, ``attributes`` its own
        dict) where ``made_at_end`` and ``follows_app`` (``ParentBased`` records every child of a sampled
        remote parent), else started now."""
        if not (self.made_at_end and self.follows_app):
            return self.tracer.start_span(name, parent, kind, attributes)
        app, tracer, ids = get_current_span(parent).get_span_context(), self.tracer, self.ids
        random_id = bool(app.trace_flags & TraceFlags.RANDOM_TRACE_ID)
        return ServerSpan(tracer, ids, name, parent, app.trace_id, random_id, app.trace_state, attributes)

    def dropped_root(self) -> dict[str, str] | None:
        """Decide a new trace before its span's name and attributes are made, where the sampler that
        decides new traces is the SDK's ratio sampler or ``always_off`` (``root_bound``): the
        ``traceparent`` to send upstream if it drops the trace (``start_root``'s), else None, the trace
        id it keeps decided for ``start_root``'s ``start_span``. None too (nothing decided) for any
        other sampler: ``start_root`` asks it."""
        bound = self._root_bound
        if bound is None:
            return None
        ids = self.ids
        trace_id = _random_trace_id(ids)
        if trace_id & _TRACE_ID_LIMIT < bound:  # TraceIdRatioBased.should_sample's rule, on its bound
            ids.decided = trace_id
            return None
        span_id = _random_span_id(ids)  # ``_dropped_headers``, inline: a call less for nine requests in ten
        return {"traceparent": f"00-{trace_id.to_bytes(16).hex()}-{span_id.to_bytes(8).hex()}{self._unsampled_flags}"}

    def _dropped_headers(self, trace_id: int) -> dict[str, str]:
        """What the SDK's propagator writes for the non-recording span ``start_span`` would make for a
        dropped new trace (version 00), its span id drawn next from the same generator."""
        span_id = _random_span_id(self.ids)
        # int.to_bytes().hex() is format(n, "032x")'s text at half its cost
        return {"traceparent": f"00-{trace_id.to_bytes(16).hex()}-{span_id.to_bytes(8).hex()}{self._unsampled_flags}"}

    @classmethod
    def new(cls, sampler_name: str, ratio: float, resource: Resource, processors: Sequence[SpanProcessor]) -> Tracing:
        """A provider with the sampler of that ``OTEL_TRACES_SAMPLER`` name and ratio and a
        ``DecidedIdGenerator``, its spans to ``processors``."""
        new_traces = root_sampler(sampler_name, ratio)
        chosen = ParentBased(new_traces) if sampler_name.startswith("parentbased_") else new_traces
        provider = TracerProvider(
            sampler=chosen, resource=resource, shutdown_on_exit=False, id_generator=DecidedIdGenerator()
        )
        for processor in processors:
            provider.add_span_processor(processor)
        counted = [p for p in processors if isinstance(p, CountedBatchSpanProcessor)]
        return cls(
            provider,
            counted,
            new_traces=new_traces if drops_roots(sampler_name, ratio) else None,
            follows_app=chosen is not new_traces,
            made_at_end=True,
            batched=len(counted) == len(processors) > 0,
        )

    @classmethod
    def build(
        cls,
        config: TelemetryConfig,
        resource: Resource,
        on_drop: Callable[[int], None],
        *,
        console: TextIO | None = None,
    ) -> Tracing:
        processors = [
            CountedBatchSpanProcessor(
                span_exporter(name, config.traces.otlp, console or sys.stderr), config.batch, on_drop
            )
            for name in config.traces.exporters
        ]
        return cls.new(config.sampler, config.sampler_arg, resource, processors)

    @classmethod
    def for_tests(
        cls,
        exporter: SpanExporter,
        resource: Resource,
        *,
        sampler_name: str = "parentbased_always_on",
        ratio: float = 1.0,
    ) -> Tracing:
        return cls.new(sampler_name, ratio, resource, [SimpleSpanProcessor(exporter)])

    def shutdown(self) -> None:
        """Flush and stop every processor and exporter (blocking: run it off the loop)."""
        self.provider.shutdown()

    def count_left(self) -> None:
        """Count the spans no processor could export before the wait for shutdown ended."""
        for processor in self.processors:
            processor.count_left()
