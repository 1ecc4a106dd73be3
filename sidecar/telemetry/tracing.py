"""Tracing plumbing: the tracer for the sidecar's spans, W3C context in and out, current ids for logs.

- ``Tracing.build(config, resource)``: a ``LiteTracer`` (see ``spans``) with the configured sampler and
  one ``BoundedBatchSpanProcessor`` per exporter. OTLP over HTTP is our ``otlp_http`` exporter (each
  span encoded from its record as it ends, batches sent on one kept-alive connection); console and
  gRPC are the SDK's exporters behind ``ReadableExporter`` (records rendered as ``ReadableSpan``s in
  the export thread);
  gRPC is optional (``llm-sidecar[otlp-grpc]``), and its absence is a clear ``TelemetryConfigError``.
- ``Tracing.for_tests(exporter, resource)``: the same with ``ExportAtEnd`` (each span exported as a
  ``ReadableSpan`` when it ends, on the caller's thread).
- ``parse_traceparent(value, state_header)``: the W3C trace context of the app's request (its
  ``traceparent`` and ``tracestate`` headers; no other header is ever read). The CLIENT span's
  ``traceparent`` for the upstream request is written by ``request.AttemptTrace.inject``.
- ``current_trace_ids()``: hex ids of the span a request activated (``ACTIVE_IDS``), else of the current
  OTel context's span; ``("", "")`` when there is none or it is not sampled. The log processor uses them.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, TextIO

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from .config import OtlpTarget, TelemetryConfig, TelemetryConfigError
from .genai import SCHEMA_URL
from .readable import to_readable
from .spans import LiteTracer, Sampler, SpanRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

    from .batch import BoundedBatchSpanProcessor, RecordExporter

INSTRUMENTATION: Final = "llm-sidecar"
_TRACEPARENT: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_GRPC_HINT: Final = (
    "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the OTLP gRPC exporter, which is not installed: "
    "pip install 'llm-sidecar[otlp-grpc]' (or opentelemetry-exporter-otlp-proto-grpc), "
    "or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
)


# The ids of the span a request made active (``with trace:``, see ``request``), for its log lines. Setting one
# context variable per request costs an eighth of attaching an OTel context, which nothing else reads.
ACTIVE_IDS: Final[ContextVar[tuple[str, str] | None]] = ContextVar("llm_sidecar_active_ids", default=None)


def current_trace_ids() -> tuple[str, str]:
    """(trace id, span id) in hex of the active span, or ``("", "")`` if none or not sampled.

    The active span is that of the ``RequestTrace``/``AttemptTrace`` whose ``with`` block runs, else
    OTel's current span.
    """
    ids = ACTIVE_IDS.get()
    if ids is not None:
        return ids
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def parse_traceparent(value: str, state_header: str | None) -> SpanContext | None:
    """The app's span context from a W3C ``traceparent`` value (and ``tracestate``); None if invalid."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    state = TraceState.from_header([state_header]) if state_header else TraceState()
    return SpanContext(trace_id, span_id, True, TraceFlags(int(flags_hex, 16) & 1), state)


class ReadableExporter:
    """An SDK ``SpanExporter`` (console, gRPC, in-memory) fed span records rendered as ``ReadableSpan``s."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def prepare(self, record: SpanRecord) -> SpanRecord:
        return record  # rendered in export, off the event loop

    def export(self, items: Sequence[SpanRecord]) -> SpanExportResult:
        return self.exporter.export([to_readable(record) for record in items])

    def shutdown(self) -> None:
        self.exporter.shutdown()


class ExportAtEnd:
    """The tests' sink: each record exported as a ``ReadableSpan`` when it ends, on the caller's thread."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = ReadableExporter(exporter)

    def on_end(self, record: SpanRecord) -> None:
        self._exporter.export([self._exporter.prepare(record)])

    def shutdown(self) -> None:
        self._exporter.shutdown()


class Tracing:
    """The tracer and the processors to flush and close with it."""

    def __init__(self, tracer: LiteTracer, processors: list[BoundedBatchSpanProcessor]) -> None:
        self.tracer = tracer
        self.processors = processors

    @property
    def dropped(self) -> int:
        return sum(p.dropped for p in self.processors)

    @classmethod
    def build(cls, config: TelemetryConfig, resource: Resource, *, console: TextIO | None = None) -> Tracing:
        from .batch import BoundedBatchSpanProcessor

        exporters = [span_exporter(name, config.traces.otlp, console) for name in config.traces.exporters]
        processors = [BoundedBatchSpanProcessor(exporter, config.batch) for exporter in exporters]
        tracer = LiteTracer(resource, instrumentation_scope(), Sampler(config.sampler, config.sampler_arg), processors)
        return cls(tracer, processors)

    @classmethod
    def for_tests(cls, exporter: SpanExporter, resource: Resource) -> Tracing:
        sink = ExportAtEnd(exporter)
        return cls(LiteTracer(resource, instrumentation_scope(), Sampler("parentbased_always_on"), [sink]), [])

    def shutdown(self, timeout_s: float) -> None:
        """Flush and stop every processor within ``timeout_s`` in total (blocking: run it off the loop)."""
        deadline = time.monotonic() + timeout_s
        for processor in self.processors:
            processor.shutdown(max(0.0, deadline - time.monotonic()))
        self.tracer.shutdown()


def build_resource(config: TelemetryConfig, service_version: str) -> Resource:
    """The process's resource from the given environment only (no detectors reading ``os.environ``)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.version import __version__ as sdk_version

    attributes: dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "service.version": service_version,
        **config.resource_attributes,
        "service.name": config.service_name,
    }
    return Resource(attributes)


def span_exporter(name: str, otlp: OtlpTarget | None, console: TextIO | None) -> RecordExporter:
    """The exporter ``OTEL_TRACES_EXPORTER`` names (``otlp`` or ``console``)."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # One JSON object per line, on stderr by default: stdout carries the JSON access log.
        return ReadableExporter(ConsoleSpanExporter(out=console or sys.stderr, formatter=_one_line))
    if otlp is None:  # pragma: no cover - config guarantees it
        raise TelemetryConfigError("OTEL_TRACES_EXPORTER=otlp without an OTLP target")
    headers = dict(otlp.headers) or None
    if otlp.protocol == "grpc":
        module = import_grpc("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        exporter: SpanExporter = module.OTLPSpanExporter(
            endpoint=otlp.endpoint, headers=headers, timeout=otlp.timeout_s
        )
        return ReadableExporter(exporter)
    from .otlp_http import OtlpHttpSpanExporter

    return OtlpHttpSpanExporter(otlp)


def import_grpc(module: str) -> Any:
    """Import an OTLP gRPC exporter module, or explain how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise TelemetryConfigError(_GRPC_HINT) from exc


def instrumentation_scope() -> Any:
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from .. import __version__

    return InstrumentationScope(INSTRUMENTATION, __version__, SCHEMA_URL)


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"
