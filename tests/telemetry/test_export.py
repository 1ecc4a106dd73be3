"""Real export: OTLP over HTTP to a local collector stand-in (plain, TLS with a test CA from trustme,
mutual TLS, through a proxy), and the metrics push's data model."""

from __future__ import annotations

import asyncio
import io
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme
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

from .helpers import attempt, finish, start, value


@pytest.fixture(autouse=True)
def _no_proxy_or_netrc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporters' transport as in a pod without proxy variables or ``NETRC`` (whatever this shell has)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


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


def _recording_header(received: dict[str, list[Any]], name: str) -> tuple[web.Application, list[str | None]]:
    """A collector that also keeps the value of header ``name`` of every export request it gets."""
    seen: list[str | None] = []
    app = _collector(received)

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.headers.get(name))
        return await handler(request)

    app.middlewares.append(record)
    return app, seen


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
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    app, encodings = _recording_header(received, "Content-Encoding")
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


def _span_names(received: dict[str, list[Any]]) -> list[str]:
    return sorted(
        span.name
        for request in received["traces"]
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    )


async def _export_one(env: dict[str, str]) -> Telemetry:
    """A ``Telemetry`` from ``env`` that traces one request (two spans) and is shut down."""
    telemetry = Telemetry.from_env(env, service_version="t")
    trace = start(telemetry)
    attempt(trace).finish(status=200, error_type=None, response_model="gpt-4o")
    finish(trace)
    await telemetry.shutdown(timeout_s=8)
    return telemetry


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls(ca: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


def _pem(tmp_path: Path, name: str, blob: trustme.Blob) -> str:
    blob.write_to_path(str(tmp_path / name))
    return str(tmp_path / name)


def test_building_the_otlp_http_exporters_does_not_import_requests() -> None:
    """The OTLP/HTTP span and metric exporters send with the SDK's urllib3 transport: a sidecar process
    that builds them never imports ``requests`` (nor ``charset_normalizer``), about 3.3 MB of RSS. Fails when
    an SDK upgrade drops the ``_transport`` keyword or moves the transport."""
    code = (
        "import sys\n"
        "from sidecar.telemetry import Telemetry\n"
        "Telemetry.from_env({'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}, service_version='t')\n"
        "print(sorted({'requests', 'charset_normalizer', 'urllib3'} & set(sys.modules)))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['urllib3']"


async def test_spans_reach_an_https_collector_verified_with_the_configured_ca(
    aiohttp_server: Any, ca: trustme.CA, tmp_path: Path
) -> None:
    """OTEL_EXPORTER_OTLP_CERTIFICATE names the CA of an https collector: the spans are delivered."""
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    server = await aiohttp_server(_collector(received), ssl=_tls(ca))
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://127.0.0.1:{server.port}/v1/traces",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": _pem(tmp_path, "ca.pem", ca.cert_pem),
    }
    await _export_one(env)
    assert _span_names(received) == ["POST /v1/chat/completions", "chat gpt-4o"]


async def test_a_collector_certificate_from_another_ca_is_refused(
    aiohttp_server: Any, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification stays on: a collector whose certificate the configured CA did not sign gets nothing,
    and the spans are counted dropped."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    server = await aiohttp_server(_collector(received), ssl=_tls(ca))
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://127.0.0.1:{server.port}/v1/traces",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": _pem(tmp_path, "other.pem", trustme.CA().cert_pem),
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    }
    telemetry = await _export_one(env)
    assert received["traces"] == []
    assert value(telemetry, "llm_sidecar_spans_dropped_total") == 2


async def test_a_client_certificate_is_shown_to_a_collector_that_requires_one(
    aiohttp_server: Any, ca: trustme.CA, tmp_path: Path
) -> None:
    """OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY: a mutual-TLS collector accepts the spans."""
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    server = await aiohttp_server(_collector(received), ssl=_tls(ca, require_client_cert=True))
    leaf = ca.issue_cert("sidecar.test")
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://127.0.0.1:{server.port}/v1/traces",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": _pem(tmp_path, "ca.pem", ca.cert_pem),
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": _pem(tmp_path, "client.pem", leaf.cert_chain_pems[0]),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": _pem(tmp_path, "client.key", leaf.private_key_pem),
    }
    await _export_one(env)
    assert _span_names(received) == ["POST /v1/chat/completions", "chat gpt-4o"]


async def test_configured_headers_reach_the_collector(aiohttp_server: Any) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS are sent with every export request."""
    app, seen = _recording_header({"traces": [], "metrics": []}, "Authorization")
    server = await aiohttp_server(app)
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": str(server.make_url("/v1/traces")),
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20collector-token",
    }
    await _export_one(env)
    assert seen == ["Bearer collector-token"]


async def test_a_collector_answering_503_is_retried(aiohttp_server: Any) -> None:
    """A 503 from the collector is retried (the SDK's backoff, within the timeout): the spans arrive."""
    statuses: list[int] = []
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    app = _collector(received)

    @web.middleware
    async def first_unavailable(request: web.Request, handler: Any) -> web.StreamResponse:
        if not statuses:
            statuses.append(503)
            return web.Response(status=503, headers={"Retry-After": "0"})
        statuses.append(200)
        return await handler(request)

    app.middlewares.append(first_unavailable)
    server = await aiohttp_server(app)
    await _export_one({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": str(server.make_url("/v1/traces"))})
    assert statuses == [503, 200]
    assert _span_names(received) == ["POST /v1/chat/completions", "chat gpt-4o"]


async def test_a_collector_slower_than_the_timeout_loses_the_batch(aiohttp_server: Any) -> None:
    """OTEL_EXPORTER_OTLP_TIMEOUT bounds an export: a collector that answers after 3 s, past a 1 s timeout
    (and before shutdown's 8 s are over), loses the batch, which is counted dropped."""
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    app = _collector(received)

    @web.middleware
    async def stall(request: web.Request, handler: Any) -> web.StreamResponse:
        await asyncio.sleep(3)
        return await handler(request)

    app.middlewares.append(stall)
    server = await aiohttp_server(app)
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": str(server.make_url("/v1/traces")), "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}
    telemetry = await _export_one(env)
    assert value(telemetry, "llm_sidecar_spans_dropped_total") == 2


async def test_a_proxy_variable_sends_the_spans_through_the_proxy(
    aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY set: the exporter sends through that proxy (the SDK's default transport, ``requests``,
    which reads it), here a stand-in that takes the absolute-form request for a collector it names."""
    received: dict[str, list[Any]] = {"traces": [], "metrics": []}
    proxy = await aiohttp_server(_collector(received))
    monkeypatch.setenv("HTTP_PROXY", str(proxy.make_url("")).rstrip("/"))
    await _export_one({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector.invalid:4318/v1/traces"})
    assert _span_names(received) == ["POST /v1/chat/completions", "chat gpt-4o"]
