"""Real export: OTLP over HTTP to a local collector stand-in, and the metrics push's data model."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sidecar.telemetry import Telemetry, TelemetryConfigError, Usage

from .helpers import attempt, finish, start


def _collector(received: dict[str, list[Any]]) -> web.Application:
    async def traces(request: web.Request) -> web.Response:
        received["traces"].append(ExportTraceServiceRequest.FromString(await request.read()))
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    async def metrics(request: web.Request) -> web.Response:
        received["metrics"].append(ExportMetricsServiceRequest.FromString(await request.read()))
        body = ExportMetricsServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    return app


async def test_otlp_http_delivers_spans_and_metrics(aiohttp_server: Any) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT set: spans and metrics arrive at the collector by shutdown."""
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    server = await aiohttp_server(_collector(received))
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": str(server.make_url("")).rstrip("/"),
        "OTEL_SERVICE_NAME": "sidecar-e2e",
    }
    telemetry = Telemetry.from_env(env, service_version="9.9.9")
    trace = start(telemetry)
    attempt(trace).finish(status=200, error_type=None, response_model="gpt-4o", usage=Usage(5, 6))
    finish(trace)
    await telemetry.shutdown(timeout_s=5)

    spans = [
        span
        for request in received["traces"]
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert sorted(span.name for span in spans) == ["POST /v1/chat/completions", "chat gpt-4o"]
    resource = {a.key: a.value.string_value for a in received["traces"][0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "sidecar-e2e" and resource["service.version"] == "9.9.9"
    names = {
        metric.name
        for request in received["metrics"]
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage", "llm_sidecar.requests"} <= names


async def test_console_metrics_use_otel_names_and_attributes() -> None:
    """OTEL_METRICS_EXPORTER=console pushes OTel names, units and dotted attribute keys."""
    out = io.StringIO()
    env = {"OTEL_METRICS_EXPORTER": "console"}
    telemetry = Telemetry.from_env(env, service_version="t", console=out)
    trace = start(telemetry)
    attempt(trace).finish(status=200, error_type=None, response_model="gpt-4o", usage=Usage(5, 6))
    finish(trace)
    await telemetry.shutdown(timeout_s=5)
    [line] = out.getvalue().splitlines()
    metrics = {m["name"]: m for m in orjson.loads(line)["resource_metrics"][0]["scope_metrics"][0]["metrics"]}
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration["unit"] == "s"
    [point] = duration["data"]["data_points"]
    assert point["attributes"]["gen_ai.provider.name"] == "openai"
    assert point["count"] == 1
    assert metrics["llm_sidecar.requests"]["data"]["is_monotonic"] is True


def test_an_unreadable_certificate_fails_at_startup(tmp_path: Path) -> None:
    """A CA bundle that cannot be loaded is a TelemetryConfigError naming the variable, at startup (the
    SDK's exporter would fail only at its first export)."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.invalid:4318",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(tmp_path / "missing.pem"),
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20secret-token",
    }
    with pytest.raises(TelemetryConfigError, match="OTEL_EXPORTER_OTLP_") as raised:
        Telemetry.from_env(env, service_version="t")
    assert "secret-token" not in str(raised.value)


async def test_gzip_compression_reaches_the_collector(aiohttp_server: Any) -> None:
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip: the SDK exporter sends gzip bodies (aiohttp, the collector
    here, inflates them before the handler reads the spans)."""
    encodings: list[str] = []
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    app = _collector(received)

    @web.middleware
    async def record_encoding(request: web.Request, handler: Any) -> web.StreamResponse:
        encodings.append(request.headers.get("Content-Encoding", ""))
        return await handler(request)

    app.middlewares.append(record_encoding)
    server = await aiohttp_server(app)
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": str(server.make_url("/v1/traces")),
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    telemetry = Telemetry.from_env(env, service_version="t")
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=5)
    assert encodings == ["gzip"]
    [request] = received["traces"]
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "POST /v1/chat/completions"
