"""OTLP/HTTP span exporter: spans encoded by ``otlp_encode.SpanEncoder``, POSTed on a kept-alive connection.

Replaces the SDK's ``OTLPSpanExporter`` for ``http/protobuf`` (gRPC keeps the SDK's exporter).
``prepare`` encodes each span when it ends, on the event loop (``SpanEncoder.span``, a few us straight
from the record; ``batch`` says why there). ``export`` runs in the batch processor's worker thread and
does per batch:

- frame the encoded spans into one ``ExportTraceServiceRequest`` (``SpanEncoder.request``);
- gzip it when ``OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION=gzip`` (zlib releases the GIL meanwhile);
- POST it with ``Content-Type: application/x-protobuf`` and the configured headers on an
  ``http.client`` connection kept open between batches (TLS for ``https://`` endpoints, with the
  configured CA bundle and client certificate);
- on 429, 502, 503 or 504 (the OTLP spec's retryable codes) retry after ``Retry-After`` or an
  exponential backoff with jitter (1 s, 2 s, 4 s ... capped at 16 s), at most ``MAX_ATTEMPTS`` requests
  and never past the export timeout (``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT``); any other status, a
  timeout or a refused connection fails the batch at once (the processor counts it as dropped). A
  kept-alive connection the collector has closed meanwhile is reopened and the batch sent once more.

``shutdown()`` may be called from any thread while an export runs: a backoff wait ends at once and the
connection is closed when the export returns. Failures are logged at most once per ``LOG_EVERY_S``
with the number of failures since; neither headers nor URL credentials ever appear in a message.
"""

from __future__ import annotations

import base64
import http.client
import logging
import random
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from opentelemetry.sdk.trace.export import SpanExportResult

from .config import OtlpTarget, TelemetryConfigError
from .otlp_encode import SpanEncoder

if TYPE_CHECKING:
    from .spans import LiteTracer, SpanRecord

_log = logging.getLogger(__name__)

RETRYABLE: Final = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS: Final = 6
LOG_EVERY_S: Final = 30.0
_GZIP_LEVEL: Final = 6
_GZIP_WBITS: Final = 31  # zlib.compress with a gzip header and trailer


class OtlpHttpSpanExporter:
    def __init__(self, target: OtlpTarget, *, backoff_s: float = 1.0, max_backoff_s: float = 16.0) -> None:
        from .. import __version__

        url = urlsplit(target.endpoint)
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme not in ("http", "https") or not url.hostname or (port is not None and port <= 0):
            raise TelemetryConfigError(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT: "
                "the OTLP/HTTP traces endpoint must be an http:// or https:// URL with a host"
            )
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = port or (443 if self._https else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._where = f"{url.scheme}://{self._host}:{self._port}{url.path or '/'}"  # for logs: no credentials
        self._ssl = _ssl_context(target) if self._https else None
        headers = {"Content-Type": "application/x-protobuf", "User-Agent": f"llm-sidecar/{__version__}"}
        if url.username is not None:
            credentials = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        headers.update(target.headers)
        self._gzip = target.compression == "gzip"
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
        self._headers = headers
        self._timeout_s = target.timeout_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._encoder = SpanEncoder()
        # The batch processor calls prepare at each span's end, on the event loop (``batch`` says why):
        # the encoder's own method, so that no call of ours sits in between.
        self.prepare: Callable[[SpanRecord], tuple[LiteTracer, bytes]] = self._encoder.span
        self._connection: http.client.HTTPConnection | None = None
        self._stop = threading.Event()
        self._busy = threading.Lock()  # one export at a time; shutdown closes the connection only when idle
        self._last_log = -LOG_EVERY_S
        self._unlogged = 0

    @property
    def compiled(self) -> bool:
        """Whether ``prepare`` is the span encoder's C fast path."""
        return self._encoder.compiled

    def export(self, spans: Sequence[tuple[LiteTracer, bytes]]) -> SpanExportResult:
        if self._stop.is_set():
            return SpanExportResult.FAILURE
        with self._busy:
            try:
                body = self._encoder.request(spans)
            except Exception:
                _log.exception("encoding %d spans for OTLP failed", len(spans))
                return SpanExportResult.FAILURE
            if self._gzip:
                body = zlib.compress(body, _GZIP_LEVEL, _GZIP_WBITS)
            try:
                return self._send(body, len(spans))
            finally:
                if self._stop.is_set():
                    self._close()

    def _send(self, body: bytes, count: int) -> SpanExportResult:
        deadline = time.monotonic() + self._timeout_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                status, retry_after = self._post(body, deadline)
            except (OSError, http.client.HTTPException) as error:
                self._close()
                self._failed(f"{type(error).__name__}: {error}", count)
                return SpanExportResult.FAILURE
            if 200 <= status < 300:
                return SpanExportResult.SUCCESS
            if status not in RETRYABLE:
                self._failed(f"HTTP {status}", count)
                return SpanExportResult.FAILURE
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if attempt == MAX_ATTEMPTS or time.monotonic() + delay >= deadline:
                self._failed(f"HTTP {status} after {attempt} attempts", count)
                return SpanExportResult.FAILURE
            if self._stop.wait(delay):
                self._failed(f"HTTP {status}, retry cancelled by shutdown", count)
                return SpanExportResult.FAILURE
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return min(self._backoff_s * 2.0 ** (attempt - 1), self._max_backoff_s) * random.uniform(0.8, 1.2)

    def _post(self, body: bytes, deadline: float) -> tuple[int, float | None]:
        """One request (two if a kept-alive connection turns out closed): status and Retry-After seconds."""
        timeout = max(deadline - time.monotonic(), 0.001)
        connection = self._connection
        if connection is None:
            return self._exchange(self._connect(timeout), body)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            return self._exchange(connection, body)
        except ConnectionError:  # includes RemoteDisconnected: the collector closed the idle connection
            self._close()
            return self._exchange(self._connect(max(deadline - time.monotonic(), 0.001)), body)

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        self._connection = connection
        return connection

    def _exchange(self, connection: http.client.HTTPConnection, body: bytes) -> tuple[int, float | None]:
        connection.request("POST", self._path, body, self._headers)
        response = connection.getresponse()
        response.read()  # the whole response, so that the connection can carry the next batch
        if response.will_close:
            self._close()
        return response.status, _retry_after_s(response.getheader("Retry-After"))

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _failed(self, reason: str, count: int) -> None:
        now = time.monotonic()
        if now - self._last_log < LOG_EVERY_S:
            self._unlogged += 1
            return
        since = f" ({self._unlogged} more failed exports since the last message)" if self._unlogged else ""
        _log.error("OTLP span export to %s failed: %s; %d spans dropped%s", self._where, reason, count, since)
        self._last_log, self._unlogged = now, 0

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is buffered here

    def shutdown(self) -> None:
        """Fail later exports at once, end a backoff wait now, close the connection (now if idle)."""
        self._stop.set()
        if self._busy.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._busy.release()


def _ssl_context(target: OtlpTarget) -> ssl.SSLContext:
    """The TLS context for an https collector; a missing or unreadable file is a configuration error."""
    try:
        context = ssl.create_default_context(cafile=target.certificate)
        if target.client_certificate:
            context.load_cert_chain(target.client_certificate, target.client_key)
    except (OSError, ssl.SSLError) as error:
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE / CLIENT_CERTIFICATE / CLIENT_KEY: cannot load: {error}"
        ) from None
    return context


def _retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds from now (delay-seconds or an HTTP date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - time.time(), 0.0)
