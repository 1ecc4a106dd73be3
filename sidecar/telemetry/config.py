"""Telemetry settings read once from the environment (standard ``OTEL_*`` variables plus two of ours).

The SDK's components are then built from these values (``tracing``, ``export``, ``facade``). Why the
sidecar reads the variables itself rather than leaving each SDK component to: the SDK is silent about
values it cannot use (an unknown sampler or exporter name, a malformed header list, a batch larger than
its queue fall back to defaults or fail at the first export, with a log line at best), and its default
exporter would send to ``localhost:4318`` unasked. ``TelemetryConfig.from_env(env)`` validates
everything up front and raises ``TelemetryConfigError`` (a ``ValueError``) naming the variable at fault;
the values mean what the SDK's documentation says. Which exporters run:

- ``OTEL_SDK_DISABLED=true``: none (``/metrics`` still counts).
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` set: those (comma list of ``otlp``, ``console``,
  ``none``; metrics also accept ``prometheus``, which is ``/metrics`` only, i.e. nothing pushed).
- unset: ``otlp`` when an OTLP endpoint is configured for the signal (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  the signal's own ``..._TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``), else none. Unlike the SDK's
  default this never exports to ``localhost:4318`` unasked.

Values that may hold credentials (``..._HEADERS``, an endpoint's ``user:password@``) are never quoted in
an error; a gRPC endpoint with a user or password is refused (gRPC cannot send them, and its exporter
logs the address of every failed export).

``OTEL_PROPAGATORS`` (default ``tracecontext,baggage``): with ``tracecontext`` the app's W3C trace
context is read and sent upstream; without it (``none``) neither. ``baggage`` is accepted and not
propagated (the app's baggage is not read); other propagators (``b3``, ``jaeger``, ...) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

Protocol = Literal["http/protobuf", "grpc"]
Compression = Literal["none", "gzip"]

DEFAULT_SERVICE_NAME: Final = "llm-sidecar"
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})
_SAMPLERS: Final = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
# OTEL_PROPAGATORS names the sidecar accepts. ``baggage`` (in the standard default) is accepted and not
# propagated: the app's baggage is not read, so it never reaches a provider (docs/observability.md).
_PROPAGATORS: Final = ("tracecontext", "baggage", "none")
_DEFAULT_ENDPOINT: Final = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}


class TelemetryConfigError(ValueError):
    """A telemetry environment variable has a value the sidecar cannot use."""


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where one signal's OTLP exporter sends: the full URL (HTTP) or address (gRPC), headers, timeout."""

    protocol: Protocol
    endpoint: str
    headers: Mapping[str, str]
    timeout_s: float
    compression: Compression = "none"
    certificate: str | None = None  # CA bundle to verify an https collector with (default: system CAs)
    client_certificate: str | None = None  # mTLS: client certificate and key (PEM files)
    client_key: str | None = None


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """The exporters of one signal (traces or metrics); ``otlp`` is set iff ``"otlp"`` is in ``exporters``."""

    exporters: tuple[str, ...] = ()
    otlp: OtlpTarget | None = None


# Spans per export when OTEL_BSP_MAX_EXPORT_BATCH_SIZE is unset: 128, not the standard's 512. A batch
# is held in memory while it is encoded and sent (its spans, their OTLP messages, the request body), and
# a sidecar's peak memory under load is about 4 MB lower with batches of 128 (docs/benchmarks.md, wave 6).
# The export thread's CPU per span is the same as with 512 on the urllib3 transport (export.py; 4% more
# with requests): docs/benchmarks.md, wave 7.
DEFAULT_EXPORT_BATCH = 128


@dataclass(frozen=True, slots=True)
class BatchConfig:
    max_queue_size: int = 2048
    schedule_delay_s: float = 5.0
    max_export_batch_size: int = DEFAULT_EXPORT_BATCH
    export_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    service_name: str = DEFAULT_SERVICE_NAME
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    traces: SignalConfig = SignalConfig()
    metrics: SignalConfig = SignalConfig()
    sampler: str = "parentbased_always_on"
    sampler_arg: float = 1.0
    batch: BatchConfig = BatchConfig()
    metric_interval_s: float = 60.0
    metric_timeout_s: float = 30.0
    capture_content: bool = False
    capture_max_bytes: int = 8192
    trace_context: bool = True  # OTEL_PROPAGATORS names tracecontext: the app's W3C context read, sent on

    @property
    def tracing(self) -> bool:
        return bool(self.traces.exporters)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelemetryConfig:
        resource = _pairs(env, "OTEL_RESOURCE_ATTRIBUTES")
        service_name = env.get("OTEL_SERVICE_NAME") or resource.get("service.name") or DEFAULT_SERVICE_NAME
        disabled = _bool(env, "OTEL_SDK_DISABLED")
        sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
        if sampler not in _SAMPLERS:
            expected = ", ".join(sorted(_SAMPLERS))
            raise TelemetryConfigError(f"OTEL_TRACES_SAMPLER: unknown sampler {sampler!r} (expected one of {expected})")
        ratio = _float(env, "OTEL_TRACES_SAMPLER_ARG", 1.0) if sampler.endswith("traceidratio") else 1.0
        if not 0.0 <= ratio <= 1.0:
            raise TelemetryConfigError(f"OTEL_TRACES_SAMPLER_ARG: {ratio} is not a ratio between 0 and 1")
        batch = BatchConfig(
            max_queue_size=_int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
            schedule_delay_s=_int(env, "OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000,
            max_export_batch_size=_int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_EXPORT_BATCH),
            export_timeout_s=_int(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000) / 1000,
        )
        if batch.max_export_batch_size > batch.max_queue_size:
            raise TelemetryConfigError("OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE")
        propagators = _names(env, "OTEL_PROPAGATORS", "tracecontext,baggage", _PROPAGATORS, "propagator")
        capture = _bool(env, "SIDECAR_CAPTURE_CONTENT") or _bool(
            env, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
        )
        return cls(
            service_name=service_name,
            resource_attributes=resource,
            traces=SignalConfig() if disabled else _signal(env, "TRACES", ("otlp", "console", "none")),
            metrics=SignalConfig() if disabled else _signal(env, "METRICS", ("otlp", "console", "prometheus", "none")),
            sampler=sampler,
            sampler_arg=ratio,
            batch=batch,
            metric_interval_s=_int(env, "OTEL_METRIC_EXPORT_INTERVAL", 60000) / 1000,
            metric_timeout_s=_int(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30000) / 1000,
            capture_content=capture,
            capture_max_bytes=_int(env, "SIDECAR_CAPTURE_CONTENT_MAX_BYTES", 8192),
            trace_context="tracecontext" in propagators,
        )


def _signal(env: Mapping[str, str], signal: str, allowed: tuple[str, ...]) -> SignalConfig:
    variable = f"OTEL_{signal}_EXPORTER"
    own_endpoint = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip()
    base_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    raw = env.get(variable)
    if raw is None or not raw.strip():
        names: tuple[str, ...] = ("otlp",) if own_endpoint or base_endpoint else ()
    else:
        names = _names(env, variable, "", allowed, "exporter")
        names = tuple(n for n in names if n not in ("none", "prometheus"))
    if "otlp" not in names:
        return SignalConfig(names)
    raw_protocol = (
        env.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    ).strip()
    if raw_protocol not in ("http/protobuf", "grpc"):
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: {raw_protocol!r} is not supported (use http/protobuf or grpc)"
        )
    protocol: Protocol = "grpc" if raw_protocol == "grpc" else "http/protobuf"
    if own_endpoint:
        endpoint = own_endpoint
    elif protocol == "grpc":
        endpoint = base_endpoint or _DEFAULT_ENDPOINT["grpc"]
    else:
        endpoint = f"{(base_endpoint or _DEFAULT_ENDPOINT[protocol]).rstrip('/')}/v1/{signal.lower()}"
    endpoint_variable = f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT" if own_endpoint else "OTEL_EXPORTER_OTLP_ENDPOINT"
    if protocol == "http/protobuf" and not _is_http_url(endpoint):  # never quoted: it may hold a password
        raise TelemetryConfigError(
            f"{endpoint_variable}: not an http:// or https:// URL with a host (OTLP/HTTP cannot send to it; "
            "a collector's 'host:port' is written http://host:port)"
        )
    if protocol == "grpc" and "@" in endpoint.split("://", 1)[-1].split("/", 1)[0]:  # never quoted: a password
        raise TelemetryConfigError(
            f"{endpoint_variable}: gRPC sends no user or password from the URL: put the credentials in "
            "OTEL_EXPORTER_OTLP_HEADERS (the gRPC exporter writes the address into its error lines)"
        )
    headers = _pairs(env, f"OTEL_EXPORTER_OTLP_{signal}_HEADERS") or _pairs(env, "OTEL_EXPORTER_OTLP_HEADERS")
    timeout_ms = _int(env, f"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT", _int(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000))
    compression = _signal_value(env, signal, "COMPRESSION").lower() or "none"
    if compression not in ("none", "gzip"):
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_COMPRESSION: {compression!r} is not supported (use gzip or none)"
        )
    return SignalConfig(
        names,
        OtlpTarget(
            protocol,
            endpoint,
            headers,
            timeout_ms / 1000,
            "gzip" if compression == "gzip" else "none",
            _signal_value(env, signal, "CERTIFICATE") or None,
            _signal_value(env, signal, "CLIENT_CERTIFICATE") or None,
            _signal_value(env, signal, "CLIENT_KEY") or None,
        ),
    )


def _is_http_url(url: str) -> bool:
    """``url`` is an ``http://`` or ``https://`` URL naming a host (``collector:4318`` is not: no scheme)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return False


def _names(env: Mapping[str, str], variable: str, default: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A comma list of names (lower-cased, duplicates dropped), each one of ``allowed``."""
    raw = env.get(variable, "").strip() or default
    names = tuple(dict.fromkeys(n.strip().lower() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise TelemetryConfigError(f"{variable}: unknown {what} {unknown[0]!r} (expected one of {', '.join(allowed)})")
    return names


def _signal_value(env: Mapping[str, str], signal: str, setting: str) -> str:
    """``OTEL_EXPORTER_OTLP_{signal}_{setting}``, else ``OTEL_EXPORTER_OTLP_{setting}``, stripped."""
    return (env.get(f"OTEL_EXPORTER_OTLP_{signal}_{setting}") or env.get(f"OTEL_EXPORTER_OTLP_{setting}") or "").strip()


def _bool(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise TelemetryConfigError(f"{name}: {value!r} is not a boolean (true or false)")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TelemetryConfigError(f"{name}: {raw!r} is not an integer") from None
    if value <= 0:
        raise TelemetryConfigError(f"{name}: must be positive, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise TelemetryConfigError(f"{name}: {raw!r} is not a number") from None


def _pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``key=value,key2=value2`` with percent-encoded values (W3C Baggage style, as the SDK reads them)."""
    raw = env.get(name, "").strip()
    pairs: dict[str, str] = {}
    for number, item in enumerate(raw.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():  # the text is not quoted: header values may be credentials
            raise TelemetryConfigError(f"{name}: entry {number} is not key=value")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs
