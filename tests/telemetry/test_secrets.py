"""Credentials never reach telemetry: headers are not recorded, only traceparent/tracestate are read."""

from __future__ import annotations

import io
import os
from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.telemetry import Telemetry, redact_headers
from tests.start_refusal import refused_start

from .helpers import APP_TRACEPARENT, attempt, finish, start

SECRET = "sk-planted-SECRET-7f3a9"
HEADERS = {
    "authorization": f"Bearer {SECRET}",
    "x-api-key": SECRET,
    "api-key": SECRET,
    "x-goog-api-key": SECRET,
    "cookie": f"session={SECRET}",
    "x-custom": SECRET,
    "traceparent": APP_TRACEPARENT,
}


def test_planted_secret_in_headers_appears_in_no_span_or_metric() -> None:
    """A secret sent in every credential header is absent from span names, attributes, events and /metrics."""
    spans = InMemorySpanExporter()
    telemetry = Telemetry.for_tests(spans)
    trace = start(telemetry, HEADERS)
    trace.route_decided(route="default", targets=["openai/gpt-4o"])
    call = attempt(trace)
    upstream: dict[str, str] = {"authorization": f"Bearer {SECRET}"}
    call.inject(upstream)
    call.finish(status=401, error_type="http_401")
    trace.fallback(from_target="openai/gpt-4o", reason="http_401")
    finish(trace, status=401, outcome="failed")
    exported = [span.to_json() for span in spans.get_finished_spans()]
    assert len(exported) == 2
    assert not any(SECRET in text for text in exported)
    assert SECRET.encode() not in telemetry.metrics_text()


async def test_console_output_has_no_secret() -> None:
    """The console exporter's output (everything a span carries, resource included) has no secret."""
    out = io.StringIO()
    telemetry = Telemetry.from_env({"OTEL_TRACES_EXPORTER": "console"}, service_version="t", console=out)
    trace = start(telemetry, HEADERS)
    finish(trace)
    await telemetry.shutdown()
    assert out.getvalue() and SECRET not in out.getvalue()


def test_redact_headers_blanks_credential_headers() -> None:
    """redact_headers blanks authorization/x-api-key/api-key/x-goog-api-key in any case, keeps the rest."""
    headers = {"Authorization": "Bearer x", "X-Api-Key": "k", "api-key": "k", "x-goog-api-key": "k"}
    redacted = redact_headers({**headers, "content-type": "application/json"})
    assert redacted == {
        "Authorization": "[redacted]",
        "X-Api-Key": "[redacted]",
        "api-key": "[redacted]",
        "x-goog-api-key": "[redacted]",
        "content-type": "application/json",
    }


def test_a_password_in_a_grpc_endpoint_stops_the_start_without_quoting_it(tmp_path: Path) -> None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT=http://user:password@collector:4317`` with gRPC: gRPC sends no
    credentials from the URL, and its exporter wrote the whole address, password included, into every
    failed export's log line. ``llm-sidecar run`` refuses it at start, naming the variable and where the
    credentials go, never the URL."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n  p: {kind: fake, base_url: 'http://127.0.0.1:9'}\n"
        "models:\n  m: {provider: p, model: x}\n"
    )
    for variable, scheme in (("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")):
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_TRACES_EXPORTER": "otlp",
            variable: f"{scheme}collector:{SECRET}@127.0.0.1:9",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        result = refused_start(env, policy, f"a password in {variable}")
        assert result.returncode == 2, result.stdout + result.stderr
        assert (
            f"{variable}: gRPC sends no user or password from the URL: put the credentials in "
            "OTEL_EXPORTER_OTLP_HEADERS"
        ) in result.stderr
        assert SECRET not in result.stdout + result.stderr
