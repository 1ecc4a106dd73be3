"""Telemetry: OpenTelemetry traces, Prometheus/OTLP metrics and JSON logs for the request pipeline.

It stands on maintained libraries: spans, sampling, batching and OTLP/console export are the
OpenTelemetry SDK's; ``/metrics`` is rendered by ``prometheus_client``; the OTLP metrics push is the
SDK's ``PeriodicExportingMetricReader``; logs are structlog's. What is ours: the facade the pipeline
calls, which spans and metrics exist and what they carry, and the checks on the configuration.

The map (the pipeline calls only the facade; see ``request`` for the call order)::

    facade.Telemetry          from_env / for_tests; start_request, policy_loaded, policy_reload, breaker_transition,
      |                       metrics_text, shutdown. Owns its providers and registry (no global ones)
      +- cache_readings.CacheReadings  its ``cache``: the cache store's counts moved into the metrics
      +- request.RequestTrace   one per request: SERVER span + request metrics
      |    +- attempt.AttemptTrace  one per upstream call: CLIENT span + GenAI client metrics
      |    +- server_span.ServerSpan  its SERVER span until it ends, made then by the SDK in one start_span
      |    +- request_end.record_end  its end: request metrics, the SERVER span's last attributes, its end
      |    +- routing_calls.RoutingCalls  its routing calls (decision and savings metrics: cells kept on the core)
      |    +- core.HeldWork         what their ``finish`` leaves until after the answer: the next upstream
      |    |                      call's wait where spans are batched, else the loop's next step
      +- instruments.Instruments    the metric catalog: names, labels, units, buckets (the request
      |    |                      pipeline's; the features' in feature_instruments.FeatureInstruments)
      |    +- label_bound.BoundedLabel  a label whose values come from upstream (gen_ai_response_model),
      |    |                      kept to a bounded set
      |    +- held_series         the series a request's and a call's end update, looked up once per
      |    |                      kind (labels) and held: RequestSeries, CallSeries
      |    +- metrics             each instrument a prometheus_client metric (/metrics) and, when a
      |                           push is configured, an SDK instrument (MeterProvider, periodic reader;
      |                           counters and gauges read from prometheus_client when pushed)
      +- tracing.Tracing            SDK TracerProvider + sampler; CountedBatchSpanProcessor per exporter
                                    (the SDK's BatchSpanProcessor, its dropped spans counted); imported
                                    only when a trace exporter is configured
    propagation               W3C trace context in and out, current ids for logs (OTel API only)
    resource                  the SDK's Resource of the process, built only for an exported signal
    export                    the SDK's OTLP (http/protobuf; gRPC with the otlp-grpc extra) and console
                              exporters from the configuration; TLS files checked at startup; the
                              MeterProvider with a periodic reader per metrics exporter
    config.TelemetryConfig    OTEL_* and SIDECAR_CAPTURE_CONTENT* parsed and validated once
    genai                     pinned GenAI semantic conventions (v1.41.0), Usage (Tokens: what is read of
                              one), content capture
    attributes                the sidecar's own span attribute names (sidecar.*)
    redact.redact_headers     for code that must show headers; telemetry records none
    logging                   structlog JSON lines; trace ids from ``current_trace_ids``
    log_pipe.LogPipe          stdout written off the event loop: a bounded buffer, one writer thread
    failure_log.FailureLog    one warning per interval for a failing store (the cache's, the budgets' Redis)

With no trace exporter configured there is no tracer at all: no span is created, ``trace_id`` is ``""``,
a request costs its metric updates, and the SDK's tracing is not even imported.
"""

from .attempt import AttemptTrace
from .config import TelemetryConfigError
from .facade import Telemetry
from .genai import SEMCONV_VERSION, Usage
from .propagation import current_trace_ids
from .redact import redact_headers
from .request import RequestTrace

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
