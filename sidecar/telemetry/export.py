"""The SDK's exporters, built from the validated configuration: OTLP (http/protobuf or gRPC) and console.

- ``span_exporter(name, otlp, console)`` / ``metric_exporter(...)``: the exporter an
  ``OTEL_{TRACES,METRICS}_EXPORTER`` entry names. OTLP over HTTP is the SDK's
  ``opentelemetry-exporter-otlp-proto-http`` (a dependency); over gRPC the SDK's gRPC exporter, the
  optional extra ``llm-sidecar[otlp-grpc]``: without it startup fails with the install hint.
- Each is given the endpoint, headers, timeout and compression that ``config`` read and validated
  (the process environment is what ``Telemetry.from_env`` reads, so this is what the SDK would read
  itself). The HTTP exporters are also given the certificate files, which are loaded here once so
  that a missing or unreadable one fails at startup, where the SDK would fail at the first export.
  The gRPC exporters read their TLS settings (``..._CERTIFICATE``, ``..._INSECURE``) from the
  environment themselves.
- ``console``: one JSON object per line (the SDK's default is indented JSON over many lines), written
  to the given stream (stderr by default: stdout carries the access log).
"""

from __future__ import annotations

import importlib
import ssl
from typing import TYPE_CHECKING, Any, Final, TextIO

from .config import OtlpTarget, TelemetryConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

_GRPC_HINT: Final = (
    "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the OTLP gRPC exporter, which is not installed: "
    "pip install 'llm-sidecar[otlp-grpc]' (or opentelemetry-exporter-otlp-proto-grpc), "
    "or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
)
_HTTP: Final = "opentelemetry.exporter.otlp.proto.http"
_GRPC: Final = "opentelemetry.exporter.otlp.proto.grpc"


def span_exporter(name: str, otlp: OtlpTarget | None, console: TextIO) -> SpanExporter:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names (``otlp`` or ``console``)."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=console, formatter=_span_line)
    exporter: SpanExporter = _otlp("trace_exporter", "OTLPSpanExporter", _target(otlp, "TRACES"))
    return exporter


def metric_exporter(name: str, otlp: OtlpTarget | None, console: TextIO) -> MetricExporter:
    """The metric exporter ``OTEL_METRICS_EXPORTER`` names (``otlp`` or ``console``)."""
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=console, formatter=_metrics_line)
    exporter: MetricExporter = _otlp("metric_exporter", "OTLPMetricExporter", _target(otlp, "METRICS"))
    return exporter


def _target(otlp: OtlpTarget | None, signal: str) -> OtlpTarget:
    if otlp is None:  # pragma: no cover - config guarantees it
        raise TelemetryConfigError(f"OTEL_{signal}_EXPORTER=otlp without an OTLP target")
    return otlp


def _otlp(module_name: str, class_name: str, otlp: OtlpTarget) -> Any:
    headers = dict(otlp.headers) or None
    if otlp.protocol == "grpc":
        try:
            module = importlib.import_module(f"{_GRPC}.{module_name}")
            grpc_compression = importlib.import_module("grpc").Compression
        except ImportError as exc:
            raise TelemetryConfigError(_GRPC_HINT) from exc
        compression = grpc_compression.Gzip if otlp.compression == "gzip" else grpc_compression.NoCompression
        return getattr(module, class_name)(
            endpoint=otlp.endpoint, headers=headers, timeout=otlp.timeout_s, compression=compression
        )
    from opentelemetry.exporter.otlp.proto.http import Compression

    _check_tls_files(otlp)
    module = importlib.import_module(f"{_HTTP}.{module_name}")
    return getattr(module, class_name)(
        endpoint=otlp.endpoint,
        certificate_file=otlp.certificate,
        client_key_file=otlp.client_key,
        client_certificate_file=otlp.client_certificate,
        headers=headers,
        timeout=otlp.timeout_s,
        compression=Compression.Gzip if otlp.compression == "gzip" else Compression.NoCompression,
    )


def _check_tls_files(otlp: OtlpTarget) -> None:
    """Load the configured CA bundle and client certificate once; a file that cannot be used is a
    configuration error now (the message names the variables, never the headers)."""
    if not (otlp.certificate or otlp.client_certificate):
        return
    try:
        context = ssl.create_default_context(cafile=otlp.certificate)
        if otlp.client_certificate:
            context.load_cert_chain(otlp.client_certificate, otlp.client_key)
    except (OSError, ssl.SSLError) as error:
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE / CLIENT_CERTIFICATE / CLIENT_KEY: cannot load: {error}"
        ) from None


def _span_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def _metrics_line(data: MetricsData) -> str:
    return data.to_json(indent=None) + "\n"
