"""Telemetry.from_env: the standard OTEL_* variables, what runs with none set, and clear errors."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from sidecar.telemetry import Telemetry, TelemetryConfigError
from sidecar.telemetry.config import TelemetryConfig

from .helpers import APP_TRACE_ID, APP_TRACEPARENT, attempt, finish, start, value


def test_nothing_set_creates_no_exporter_and_no_span() -> None:
    """With no OTEL_* variable: no tracer, no exporter thread, empty trace ids; /metrics still counts."""
    telemetry = Telemetry.from_env({}, service_version="t")
    assert not telemetry.tracing_enabled
    trace = start(telemetry, {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    call = attempt(trace)
    headers: dict[str, str] = {}
    call.inject(headers)
    call.finish(status=200, error_type=None)
    finish(trace)
    assert trace.span is None and call.span is None
    assert (trace.trace_id, trace.span_id) == ("", "")
    assert headers == {}
    labels = {"route": "default", "served_model": "gpt-4o", "outcome": "ok", "status_class": "2xx"}
    assert value(telemetry, "llm_sidecar_requests_total", **labels) == 1


def test_sdk_disabled_wins_over_exporters() -> None:
    """OTEL_SDK_DISABLED=true turns every exporter off."""
    env = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"}
    config = TelemetryConfig.from_env(env)
    assert not config.tracing and not config.metrics.exporters


async def test_console_exporter_writes_one_json_span_per_line() -> None:
    """OTEL_TRACES_EXPORTER=console: spans are printed as one JSON object per line by shutdown."""
    out = io.StringIO()
    telemetry = Telemetry.from_env({"OTEL_TRACES_EXPORTER": "console"}, service_version="t", console=out)
    assert telemetry.tracing_enabled
    trace = start(telemetry)
    attempt(trace).finish(status=200, error_type=None)
    finish(trace)
    await telemetry.shutdown()
    spans = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(s["name"] for s in spans) == ["POST /v1/chat/completions", "chat gpt-4o"]
    assert {s["kind"] for s in spans} == {"SpanKind.SERVER", "SpanKind.CLIENT"}


def test_endpoint_alone_selects_otlp_http() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT alone: OTLP over HTTP for traces and metrics, signal paths appended."""
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert config.traces.exporters == ("otlp",) and config.metrics.exporters == ("otlp",)
    assert config.traces.otlp is not None and config.metrics.otlp is not None
    assert config.traces.otlp.endpoint == "http://collector:4318/v1/traces"
    assert config.metrics.otlp.endpoint == "http://collector:4318/v1/metrics"
    assert config.traces.otlp.protocol == "http/protobuf"


def test_signal_endpoint_is_used_as_is_and_metrics_can_stay_local() -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not suffixed; OTEL_METRICS_EXPORTER=prometheus pushes nothing."""
    config = TelemetryConfig.from_env(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a%20b,authorization=Bearer%20t",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        }
    )
    assert config.traces.otlp is not None
    assert config.traces.otlp.endpoint == "http://c:4318/custom"
    assert dict(config.traces.otlp.headers) == {"x-tenant": "a b", "authorization": "Bearer t"}
    assert config.traces.otlp.timeout_s == 2.5
    assert config.metrics.exporters == ()


def test_grpc_protocol_uses_the_address_as_given() -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the endpoint is the collector address, no path appended."""
    config = TelemetryConfig.from_env(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        }
    )
    assert config.traces.otlp is not None
    assert (config.traces.otlp.protocol, config.traces.otlp.endpoint) == ("grpc", "http://collector:4317")


async def test_grpc_exporter_builds_when_installed() -> None:
    """With the gRPC exporter installed, OTLP/gRPC tracing starts (the import is lazy)."""
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    telemetry = Telemetry.from_env(env, service_version="t")
    assert telemetry.tracing_enabled
    await telemetry.shutdown(timeout_s=1)


def test_grpc_without_the_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc without the gRPC exporter installed names the package to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(TelemetryConfigError, match=r"llm-sidecar\[otlp-grpc\]"):
        Telemetry.from_env(env, service_version="t")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/json"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "ten"}, "OTEL_BSP_MAX_QUEUE_SIZE"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "10"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        ({"SIDECAR_CAPTURE_CONTENT": "maybe"}, "SIDECAR_CAPTURE_CONTENT"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, "OTEL_RESOURCE_ATTRIBUTES"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    """An unusable value raises TelemetryConfigError naming the variable (or the value) at fault."""
    with pytest.raises(TelemetryConfigError, match=message):
        TelemetryConfig.from_env(env)


def test_bad_header_entry_does_not_echo_its_text() -> None:
    """A malformed OTEL_EXPORTER_OTLP_HEADERS entry is reported by position, never by its (secret) text."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "Bearer-s3cr3t"}
    with pytest.raises(TelemetryConfigError) as error:
        TelemetryConfig.from_env(env)
    assert "s3cr3t" not in str(error.value)


def test_service_name_and_resource_attributes() -> None:
    """OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES; other attributes are kept."""
    config = TelemetryConfig.from_env(
        {
            "OTEL_SERVICE_NAME": "checkout-llm",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored,k8s.pod.name=app-1,deployment.environment=prod",
        }
    )
    assert config.service_name == "checkout-llm"
    assert config.resource_attributes["k8s.pod.name"] == "app-1"


async def test_ratio_sampler_zero_records_nothing() -> None:
    """OTEL_TRACES_SAMPLER=traceidratio with arg 0: root requests are not sampled, no span is exported."""
    out = io.StringIO()
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
    }
    telemetry = Telemetry.from_env(env, service_version="t", console=out)
    trace = start(telemetry)
    attempt(trace).finish(status=200, error_type=None)
    finish(trace)
    await telemetry.shutdown()
    assert out.getvalue() == ""
    assert trace.trace_id == ""


def test_capture_content_variables() -> None:
    """SIDECAR_CAPTURE_CONTENT or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turn capture on."""
    assert not TelemetryConfig.from_env({}).capture_content
    assert TelemetryConfig.from_env({"SIDECAR_CAPTURE_CONTENT": "true"}).capture_content
    assert TelemetryConfig.from_env({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True"}).capture_content
    assert TelemetryConfig.from_env({"SIDECAR_CAPTURE_CONTENT_MAX_BYTES": "100"}).capture_max_bytes == 100


def test_batch_settings_are_read() -> None:
    """OTEL_BSP_* set the batch processor's queue, delay, batch size and timeout."""
    config = TelemetryConfig.from_env(
        {
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
            "OTEL_BSP_EXPORT_TIMEOUT": "1000",
        }
    )
    assert (config.batch.max_queue_size, config.batch.schedule_delay_s) == (100, 0.25)
    assert (config.batch.max_export_batch_size, config.batch.export_timeout_s) == (50, 1.0)


def test_the_default_export_batch_is_128_spans_and_the_queue_the_standards() -> None:
    """OTEL_BSP_* unset: batches of 128 spans (not the standard's 512, for memory) from a queue of the
    standard's 2,048, exported every 5 s."""
    config = TelemetryConfig.from_env({})
    assert (config.batch.max_queue_size, config.batch.max_export_batch_size) == (2048, 128)
    assert config.batch.schedule_delay_s == 5.0


def test_propagators_default_to_the_w3c_trace_context() -> None:
    """OTEL_PROPAGATORS unset (the standard tracecontext,baggage) or naming tracecontext: the app's W3C
    trace context is read and sent on."""
    assert TelemetryConfig.from_env({}).trace_context
    assert TelemetryConfig.from_env({"OTEL_PROPAGATORS": "baggage, tracecontext"}).trace_context


def test_propagators_without_tracecontext_neither_read_nor_send_it() -> None:
    """OTEL_PROPAGATORS=none: the app's traceparent is not continued and none goes upstream."""
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_PROPAGATORS": "none"}
    telemetry = Telemetry.from_env(env, service_version="t", console=io.StringIO())
    trace = start(telemetry, {"traceparent": APP_TRACEPARENT})
    call = attempt(trace)
    headers: dict[str, str] = {}
    call.inject(headers)
    call.finish(status=200, error_type=None)
    finish(trace)
    assert trace.trace_id and trace.trace_id != APP_TRACE_ID
    assert headers == {}


def test_a_propagator_the_sidecar_lacks_is_refused() -> None:
    """OTEL_PROPAGATORS=b3 (a propagator the sidecar does not ship) fails at startup, naming the variable."""
    with pytest.raises(TelemetryConfigError, match="OTEL_PROPAGATORS: unknown propagator 'b3'"):
        TelemetryConfig.from_env({"OTEL_PROPAGATORS": "tracecontext,b3"})


def test_every_variable_telemetry_reads_is_in_the_configuration_table() -> None:
    """Every ``OTEL_*``/``SIDECAR_*`` variable name the telemetry package spells out is named in
    docs/observability.md (its "Configuration" table, or the OTLP settings after it)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    read = {
        name
        for module in (root / "sidecar" / "telemetry").glob("*.py")
        for name in re.findall(r"\"((?:OTEL|SIDECAR)_[A-Z_]+)\"", module.read_text())
    }
    doc = (root / "docs" / "observability.md").read_text()
    # a name in backticks, whole or as the stem of a pattern (`OTEL_PYTHON_EXPORTER_OTLP_HTTP_[TRACES_|...]`)
    assert read and sorted(name for name in read if not re.search(rf"`{name}(`|_?\[)", doc)) == []


class _RecordingEnv(dict[str, str]):
    """An environment that notes every variable name it is asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def _documented_telemetry_variables() -> set[str]:
    """The variables docs/observability.md's configuration table names, its short forms written out
    (``..._TRACES_ENDPOINT``: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``..._TRACES_...`` forms: each
    OTLP name of the row for both signals)."""
    text = (Path(__file__).parents[2] / "docs" / "observability.md").read_text()
    names: set[str] = set()
    for row in re.findall(r"^\| (`(?:OTEL|SIDECAR)_[^|]*)\|", text, re.M):
        tokens = re.findall(r"`([^`]+)`", row)
        row_names = {f"OTEL_EXPORTER_OTLP_{t[4:]}" if t.startswith("..._") else t for t in tokens}
        if any(t.endswith("_...") for t in tokens):
            otlp = [n[len("OTEL_EXPORTER_OTLP_") :] for n in row_names if n.startswith("OTEL_EXPORTER_OTLP_")]
            row_names |= {f"OTEL_EXPORTER_OTLP_{signal}_{n}" for signal in ("TRACES", "METRICS") for n in otlp}
        names |= {n for n in row_names if not n.endswith("_...")}
    return names


def test_every_telemetry_variable_read_is_documented_and_every_documented_one_is_read() -> None:
    """The ``OTEL_*`` and ``SIDECAR_CAPTURE_*`` variables the telemetry configuration reads (every branch
    taken: OTLP for both signals, a ratio sampler) are exactly those docs/observability.md's table gives."""
    env = _RecordingEnv({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
    TelemetryConfig.from_env(env)
    assert env.asked == _documented_telemetry_variables()
