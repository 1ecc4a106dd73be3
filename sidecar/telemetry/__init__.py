"""Telemetry: OpenTelemetry traces, Prometheus/OTLP metrics and JSON logs for the request pipeline.

The map (the pipeline calls only the facade; see ``request`` for the call order)::

    facade.Telemetry          from_env / for_tests; start_request, policy_reload, breaker_transition,
      |                       metrics_text, shutdown
      +- request.RequestTrace   one per request: SERVER span record + request metrics
      |    +- request.AttemptTrace  one per upstream call: CLIENT span record + GenAI client metrics
      +- instruments.Instruments    the metric catalog, on a metrics.Registry (own, lock-free)
      +- tracing.Tracing            spans.LiteTracer + batch.BoundedBatchSpanProcessor per exporter
      |    +- otlp_http.OtlpHttpSpanExporter  OTLP/HTTP: each span encoded as it ends
      |    |                                  (otlp_encode.SpanEncoder), batches POSTed on one connection
      |    +- tracing.ReadableExporter        console / gRPC: the SDK's exporters, fed readable.to_readable
      +- push.MetricsPusher         optional periodic OTLP/console export of the registry
    spans                     ServerSpan / ClientSpan: a span's facts in slots (no attribute dicts)
    readable                  which attribute each fact becomes (ReadableSpan); otlp_encode writes the same
    otlp_wire                 protobuf wire primitives for attribute values (otlp_encode's building blocks)
    otlp_packed               spans of a known shape written by one struct call (otlp_encode's fast path)
    _otlp_fast (C, optional)  the same known-shape path compiled: SpanEncoder.span when built (extensions)
    config.TelemetryConfig    OTEL_* and SIDECAR_CAPTURE_CONTENT* parsed and validated once
    genai                     pinned GenAI semantic conventions (v1.41.0), Usage, content capture
    redact.redact_headers     for code that must show headers; telemetry records none
    logging                   structlog JSON lines (the lead's); calls ``current_trace_ids``

With no exporter configured there is no tracer at all: no span is created, ``trace_id`` is ``""``, and a
request costs a handful of dict updates in the registry.
"""

from .config import TelemetryConfigError
from .facade import Telemetry
from .genai import SEMCONV_VERSION, Usage
from .redact import redact_headers
from .request import AttemptTrace, RequestTrace
from .tracing import current_trace_ids

__all__ = [
    "SEMCONV_VERSION",
    "AttemptTrace",
    "RequestTrace",
    "Telemetry",
    "TelemetryConfigError",
    "Usage",
    "current_trace_ids",
    "redact_headers",
]
