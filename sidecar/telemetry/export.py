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
- The HTTP exporters send with the SDK's urllib3 transport rather than its default, ``requests``:
  building ``requests`` (with ``charset_normalizer``, ``idna``, ``certifi`` and a ``Session``) costs a
  sidecar about 3.3 MB of RSS that nothing else uses (docs/benchmarks.md, wave 7). The SDK (1.45) selects a
  transport only through its private ``_transport`` keyword (no variable, no entry point the exporter
  reads), so ``lean_transport`` gives one only where the result is the same as the default's: the
  exporter class takes the keyword (else the default, as the SDK builds it), no proxy variable is set
  (``requests`` reads ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY``; urllib3 reads none), no ``.netrc``
  that ``requests`` would read, no ``OTEL_PYTHON_EXPORTER_OTLP_HTTP_*CREDENTIAL_PROVIDER`` (a
  ``requests`` session from an entry point). It shows the same client certificate and verifies with
  the CA bundle ``requests`` would use: ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CERTIFICATE``, else
  ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else ``certifi``'s (``requests`` lets its two variables
  override the configured file; here the OpenTelemetry one wins). Endpoint, headers, compression,
  timeout and retries are the SDK exporter's own, above the transport. pyproject pins the exporter's
  minor version, and a test fails if the keyword or the transport goes.
- ``console``: one JSON object per line (the SDK's default is indented JSON over many lines), written
  to the given stream (stderr by default: stdout carries the access log).
- ``meter_provider(config, resource, console)``: the SDK's ``MeterProvider`` with a periodic reader per
  metrics exporter.
"""

from __future__ import annotations

import importlib
import inspect
import os
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.request import getproxies_environment

from .config import OtlpTarget, TelemetryConfig, TelemetryConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.exporter.http.transport._base import BaseHTTPTransport
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData
    from opentelemetry.sdk.resources import Resource
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


def meter_provider(config: TelemetryConfig, resource: Resource, console: TextIO | None) -> MeterProvider:
    """A ``Telemetry``'s SDK ``MeterProvider``: one periodic reader per configured metrics exporter
    (``metric_exporter``), pushing every ``metric_interval_s``."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = [
        PeriodicExportingMetricReader(
            metric_exporter(name, config.metrics.otlp, console or sys.stderr),
            export_interval_millis=config.metric_interval_s * 1000,
            export_timeout_millis=config.metric_timeout_s * 1000,
        )
        for name in config.metrics.exporters
    ]
    return MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)


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
    exporter_class = getattr(importlib.import_module(f"{_HTTP}.{module_name}"), class_name)
    common = {
        "endpoint": otlp.endpoint,
        "headers": headers,
        "timeout": otlp.timeout_s,
        "compression": Compression.Gzip if otlp.compression == "gzip" else Compression.NoCompression,
    }
    transport = lean_transport(otlp) if _takes_transport(exporter_class) else None
    if transport is not None:
        return exporter_class(**common, _transport=transport)
    return exporter_class(
        **common,
        certificate_file=otlp.certificate,
        client_key_file=otlp.client_key,
        client_certificate_file=otlp.client_certificate,
    )


def _takes_transport(exporter_class: type) -> bool:
    return "_transport" in inspect.signature(exporter_class).parameters


def lean_transport(otlp: OtlpTarget) -> BaseHTTPTransport | None:
    """The SDK's urllib3 transport for an OTLP/HTTP exporter to ``otlp``, or None where the exporter must
    keep its default (``requests``) to behave the same (module docstring): the process environment
    (which ``requests`` reads, not the mapping ``Telemetry.from_env`` was given) names a proxy, a
    ``.netrc`` or an SDK credential provider, or the SDK has no urllib3 transport."""
    env = os.environ
    if _requests_reads_something(env):
        return None
    try:
        from opentelemetry.exporter.http.transport._urllib3 import Urllib3HTTPTransport
    except ImportError:  # pragma: no cover - the pinned SDK has it; a later one may move it
        return None
    verify = otlp.certificate or env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or _certifi_bundle()
    cert: str | tuple[str, str] | None = otlp.client_certificate
    if otlp.client_certificate and otlp.client_key:
        cert = (otlp.client_certificate, otlp.client_key)
    return Urllib3HTTPTransport(verify=verify, cert=cert)


def _requests_reads_something(env: Mapping[str, str]) -> bool:
    proxies = getproxies_environment()  # what requests reads (the standard library's reading of env)
    if proxies.keys() & {"http", "https", "all"}:
        return True
    if env.get("NETRC"):
        return True
    if any(n.startswith("OTEL_PYTHON_EXPORTER_OTLP_HTTP") and n.endswith("CREDENTIAL_PROVIDER") for n in env):
        return True
    home = Path(env.get("HOME") or Path.home())
    return (home / ".netrc").exists() or (home / "_netrc").exists()


def _certifi_bundle() -> str | bool:
    """``certifi``'s CA bundle, which ``requests`` verifies with by default; the system's store without it."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests, a dependency of the SDK exporter, requires it
        return True
    return str(certifi.where())


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
