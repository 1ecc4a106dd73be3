"""Credentials never reach telemetry: headers are not recorded, only traceparent/tracestate are read."""

from __future__ import annotations

import io

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.telemetry import Telemetry, redact_headers

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
