"""The OTLP/HTTP span exporter against a real collector stand-in on loopback (http.server in a thread)."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from sidecar.telemetry import Telemetry, TelemetryConfigError, Usage
from sidecar.telemetry.config import OtlpTarget, TelemetryConfig
from sidecar.telemetry.otlp_encode import SpanEncoder, compiled_available
from sidecar.telemetry.otlp_http import MAX_ATTEMPTS, OtlpHttpSpanExporter
from sidecar.telemetry.spans import LiteTracer
from sidecar.telemetry.tracing import ReadableExporter, Tracing, build_resource, span_exporter

from .helpers import attempt, finish, span_records, start, value


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes  # decompressed
    client_port: int

    @property
    def span_names(self) -> list[str]:
        request = ExportTraceServiceRequest.FromString(self.body)
        return [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


@dataclass
class Collector:
    """Answers each POST with the next scripted (status, headers), then 200s; records every request."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    drop_connection_after_response: bool = False
    got_request: threading.Event = field(default_factory=threading.Event)

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            headers = {k.lower(): v for k, v in self.headers.items()}
            collector.received.append(Received(self.path, headers, body, self.client_address[1]))
            status, extra = collector.script.pop(0) if collector.script else (200, {})
            reply = ExportTraceServiceResponse().SerializeToString() if status == 200 else b"busy"
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            for name, header_value in extra.items():
                self.send_header(name, header_value)
            self.end_headers()
            self.wfile.write(reply)
            if collector.drop_connection_after_response:  # close without saying so (an idle timeout)
                self.close_connection = True
            collector.got_request.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _serve(collector: Collector, context: ssl.SSLContext | None = None) -> Iterator[Collector]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(collector))
    server.daemon_threads = True
    scheme = "http"
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    collector.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    yield from _serve(Collector())


def _spans(count: int = 2) -> list[tuple[LiteTracer, bytes]]:
    """Spans as the exporter's prepare makes them when they end."""
    encoder = SpanEncoder()
    return [encoder.span(record) for record in span_records(count)]


_OPEN: list[OtlpHttpSpanExporter] = []


@pytest.fixture(autouse=True)
def _shut_exporters() -> Iterator[None]:
    """Every exporter a test makes is shut down after it (its kept-alive socket closed)."""
    yield
    while _OPEN:
        _OPEN.pop().shutdown()


def _exporter(
    endpoint: str, *, timeout_s: float = 5.0, backoff_s: float = 0.01, headers: dict[str, str] | None = None
) -> OtlpHttpSpanExporter:
    target = OtlpTarget("http/protobuf", endpoint, headers or {}, timeout_s)
    exporter = OtlpHttpSpanExporter(target, backoff_s=backoff_s)
    _OPEN.append(exporter)
    return exporter


async def test_spans_are_posted_as_protobuf_and_decoded_by_the_collector(collector: Collector) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT set: the request's spans arrive at /v1/traces as x-protobuf."""
    telemetry = Telemetry.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_METRICS_EXPORTER": "none"}, service_version="t"
    )
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=5)
    [request] = collector.received
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["user-agent"].startswith("llm-sidecar/")
    assert request.span_names == ["POST /v1/chat/completions"]


async def test_the_exporter_encodes_with_the_compiled_fast_path(collector: Collector) -> None:
    """The OTLP/HTTP exporter's prepare is the span encoder's C fast path (when built, which
    tests/test_extensions.py checks), and the collector decodes what it writes (the second request's
    spans come from the cached shapes)."""
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_METRICS_EXPORTER": "none"})
    tracing = Tracing.build(config, build_resource(config, "t"))
    [processor] = tracing.processors
    assert isinstance(processor.exporter, OtlpHttpSpanExporter)
    assert processor.exporter.compiled is compiled_available()
    telemetry = Telemetry(config, service_version="t", tracing=tracing)
    for _ in range(2):
        trace = start(telemetry)
        attempt(trace).finish(status=200, error_type=None, response_model="gpt-4o", usage=Usage(3, 4))
        finish(trace)
    await telemetry.shutdown(timeout_s=5)
    names = [name for request in collector.received for name in request.span_names]
    assert sorted(names) == ["POST /v1/chat/completions", "POST /v1/chat/completions", "chat gpt-4o", "chat gpt-4o"]


def test_one_connection_carries_every_batch(collector: Collector) -> None:
    """Consecutive exports reuse one kept-alive connection."""
    exporter = _exporter(collector.traces_url)
    for _ in range(3):
        assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert len(collector.received) == 3
    assert len({r.client_port for r in collector.received}) == 1


def test_a_connection_closed_by_the_collector_is_reopened(collector: Collector) -> None:
    """When the collector drops the idle connection, the next batch goes out once on a new one."""
    collector.drop_connection_after_response = True
    exporter = _exporter(collector.traces_url)
    assert exporter.export(_spans(1)) is SpanExportResult.SUCCESS
    time.sleep(0.05)
    assert exporter.export(_spans(2)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert [len(r.span_names) for r in collector.received] == [1, 2]
    assert collector.received[0].client_port != collector.received[1].client_port


def test_the_traces_endpoint_is_used_as_is(collector: Collector) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL: its path and query are kept."""
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{collector.url}/custom/path?x=1"})
    assert config.traces.otlp is not None
    exporter = span_exporter("otlp", config.traces.otlp, None)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert collector.received[0].path == "/custom/path?x=1"


def test_503_is_retried_until_the_collector_accepts(collector: Collector) -> None:
    """Two 503s, then 200: the same batch is sent three times and the export succeeds."""
    collector.script = [(503, {}), (503, {})]
    exporter = _exporter(collector.traces_url)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    assert len(collector.received) == 3
    assert collector.received[0].body == collector.received[2].body


@pytest.mark.parametrize("status", [429, 502, 504])
def test_the_other_retryable_codes_are_retried(collector: Collector, status: int) -> None:
    """429, 502 and 504 are retried like 503."""
    collector.script = [(status, {})]
    assert _exporter(collector.traces_url).export(_spans()) is SpanExportResult.SUCCESS
    assert len(collector.received) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_other_errors_fail_at_once(collector: Collector, status: int) -> None:
    """A non-retryable status fails the batch after a single request."""
    collector.script = [(status, {})]
    assert _exporter(collector.traces_url).export(_spans()) is SpanExportResult.FAILURE
    assert len(collector.received) == 1


def test_retries_stop_after_max_attempts(collector: Collector) -> None:
    """A collector that always answers 503 gets MAX_ATTEMPTS requests, then the batch fails."""
    collector.script = [(503, {})] * 100
    assert _exporter(collector.traces_url).export(_spans()) is SpanExportResult.FAILURE
    assert len(collector.received) == MAX_ATTEMPTS


def test_retries_never_outlast_the_export_timeout(collector: Collector) -> None:
    """With a backoff longer than the timeout left, the export gives up instead of waiting."""
    collector.script = [(503, {})] * 100
    started = time.monotonic()
    assert _exporter(collector.traces_url, timeout_s=0.5, backoff_s=0.2).export(_spans()) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 0.5
    assert 1 <= len(collector.received) <= 3


def test_retry_after_is_honoured_and_bounded_by_the_timeout(collector: Collector) -> None:
    """Retry-After: 0 retries at once despite a long backoff; Retry-After beyond the timeout gives up."""
    collector.script = [(429, {"Retry-After": "0"})]
    started = time.monotonic()
    assert _exporter(collector.traces_url, backoff_s=30).export(_spans()) is SpanExportResult.SUCCESS
    assert time.monotonic() - started < 2
    collector.script = [(503, {"Retry-After": "60"})]
    started = time.monotonic()
    assert _exporter(collector.traces_url, timeout_s=2).export(_spans()) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 1


def test_shutdown_ends_a_retry_wait_at_once(collector: Collector) -> None:
    """shutdown() from another thread ends an export waiting out its backoff; it fails its batch."""
    collector.script = [(503, {})] * 100
    exporter = _exporter(collector.traces_url, timeout_s=60, backoff_s=30)
    results: list[SpanExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export(_spans())))
    worker.start()
    assert collector.got_request.wait(5)
    time.sleep(0.05)
    started = time.monotonic()
    exporter.shutdown()
    worker.join(5)
    assert time.monotonic() - started < 1
    assert results == [SpanExportResult.FAILURE]
    assert exporter.export(_spans()) is SpanExportResult.FAILURE
    assert len(collector.received) == 1


def test_an_unreachable_collector_fails_the_batch_without_retrying() -> None:
    """Connection refused: the batch fails at once."""
    with _serve_then_close() as url:
        started = time.monotonic()
        assert _exporter(url, backoff_s=30).export(_spans()) is SpanExportResult.FAILURE
        assert time.monotonic() - started < 2


async def test_a_failing_collector_never_blocks_the_event_loop(collector: Collector) -> None:
    """Collector always 503: requests stay fast, the loop keeps ticking, shutdown is bounded, drops count."""
    collector.script = [(503, {})] * 10_000
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
        "OTEL_BSP_SCHEDULE_DELAY": "10",
    }
    telemetry = Telemetry.from_env(env, service_version="t")
    gaps: list[float] = []
    ticking = True

    async def ticker() -> None:
        last = time.monotonic()
        while ticking:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    for _ in range(10):
        started = time.monotonic()
        for _ in range(16):
            finish(start(telemetry))
        assert time.monotonic() - started < 0.1
        await asyncio.sleep(0.05)
    assert collector.received  # the worker is exporting, and backing off, meanwhile
    started = time.monotonic()
    await telemetry.shutdown(timeout_s=0.5)
    assert time.monotonic() - started < 1.5
    ticking = False
    await task
    assert max(gaps) < 0.25
    for _ in range(100):  # the worker counts its cancelled batch as it returns
        if value(telemetry, "llm_sidecar_spans_dropped_total") == 160:
            break
        await asyncio.sleep(0.01)
    assert value(telemetry, "llm_sidecar_spans_dropped_total") == 160


async def test_configured_headers_are_sent(collector: Collector) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_HEADERS wins over OTEL_EXPORTER_OTLP_HEADERS; values are percent-decoded."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-generic=ignored",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=secret%20value,x-tenant=acme",
    }
    telemetry = Telemetry.from_env(env, service_version="t")
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=5)
    [request] = collector.received
    assert request.headers["x-api-key"] == "secret value"
    assert request.headers["x-tenant"] == "acme"
    assert "x-generic" not in request.headers


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"])
async def test_gzip_compression_when_configured(collector: Collector, variable: str) -> None:
    """COMPRESSION=gzip: the body is gzip with Content-Encoding: gzip, and decodes to the spans."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_METRICS_EXPORTER": "none", variable: "gzip"}
    telemetry = Telemetry.from_env(env, service_version="t")
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=5)
    [request] = collector.received
    assert request.headers["content-encoding"] == "gzip"
    assert request.span_names == ["POST /v1/chat/completions"]


def test_credentials_in_the_url_become_basic_auth(collector: Collector) -> None:
    """user:password@ in the endpoint is sent as an Authorization: Basic header."""
    url = collector.traces_url.replace("http://", "http://us%40er:p%3Ass@")
    assert _exporter(url).export(_spans()) is SpanExportResult.SUCCESS
    assert collector.received[0].headers["authorization"] == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss


def test_https_with_a_configured_ca_bundle(tmp_path: Path) -> None:
    """An https collector whose certificate is signed by OTEL_EXPORTER_OTLP_CERTIFICATE's CA is trusted."""
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for collector in _serve(Collector(), context):
        config = TelemetryConfig.from_env(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)}
        )
        assert config.traces.otlp is not None
        exporter = span_exporter("otlp", config.traces.otlp, None)
        assert exporter.export(_spans()) is SpanExportResult.SUCCESS
        exporter.shutdown()
        untrusted = _exporter(collector.traces_url)  # system CAs only
        assert untrusted.export(_spans()) is SpanExportResult.FAILURE
        assert len(collector.received) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "deflate"}, "use gzip or none"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector/v1/traces"}, "http:// or https://"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:99999/v1/traces"}, "http:// or https://"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"},
            "cannot load",
        ),
    ],
)
def test_unusable_settings_fail_at_startup(env: dict[str, str], message: str) -> None:
    """Bad compression, endpoint or CA file: a TelemetryConfigError when telemetry is built."""
    with pytest.raises(TelemetryConfigError, match=message):
        Telemetry.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", **env}, service_version="t")


def test_grpc_keeps_the_sdk_exporter() -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc still builds the SDK's gRPC span exporter."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = span_exporter("otlp", OtlpTarget("grpc", "http://localhost:4317", {}, 1.0), None)
    assert isinstance(exporter, ReadableExporter)
    assert isinstance(exporter.exporter, OTLPSpanExporter)
    exporter.shutdown()


def test_failures_are_logged_at_most_once_per_interval(collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    """Repeated failed exports log one error (no header values), not one per batch."""
    collector.script = [(400, {})] * 5
    exporter = _exporter(collector.traces_url, headers={"x-api-key": "sk-secret"})
    with caplog.at_level(logging.ERROR, logger="sidecar.telemetry.otlp_http"):
        for _ in range(5):
            assert exporter.export(_spans()) is SpanExportResult.FAILURE
    [record] = caplog.records
    assert "HTTP 400" in record.getMessage()
    assert "sk-secret" not in caplog.text


class _serve_then_close:
    """A loopback URL on which nothing listens any more."""

    def __enter__(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        port = server.server_address[1]
        server.server_close()
        return f"http://127.0.0.1:{port}/v1/traces"

    def __exit__(self, *exc: object) -> None:
        return None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test collector")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
