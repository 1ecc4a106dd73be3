"""``Telemetry``: the one object the server holds; it builds everything once and hands out traces.

Built by ``from_env`` (production) or ``for_tests`` (in-memory spans). It owns the metrics registry and
instruments, the tracer (None when no trace exporter is configured: then no span is ever created), and
the optional OTLP metrics pusher. Process-wide events (policy reloads, breaker transitions) are methods
here; per-request ones live on ``RequestTrace``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from .config import TelemetryConfig
from .genai import ContentCapture
from .instruments import BREAKER_STATES, Instruments
from .metrics import Registry
from .push import MetricsPusher
from .request import Core, RequestTrace
from .spans import ServerSpan
from .tracing import Tracing, build_resource, parse_traceparent

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

_log = logging.getLogger(__name__)


class Telemetry:
    def __init__(
        self,
        config: TelemetryConfig,
        *,
        service_version: str,
        tracing: Tracing | None = None,
        console: TextIO | None = None,
    ) -> None:
        self.config = config
        self.registry = Registry()
        self.instruments = Instruments(self.registry, service_version=service_version)
        self._tracing = tracing
        self._core = Core(
            self.instruments,
            tracing.tracer if tracing is not None else None,
            ContentCapture(config.capture_content, config.capture_max_bytes),
        )
        self._pusher: MetricsPusher | None = None
        if config.metrics.exporters:
            resource = build_resource(config, service_version)
            self._pusher = MetricsPusher.build(config, self.registry, resource, console=console)
        if tracing is not None and tracing.processors:
            self.registry.on_collect(self._count_dropped)
        self._closed = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service_version: str, console: TextIO | None = None) -> Telemetry:
        """Everything from ``env`` (standard ``OTEL_*`` plus ``SIDECAR_CAPTURE_CONTENT[_MAX_BYTES]``).

        Raises ``TelemetryConfigError`` (a ``ValueError``) on a value it cannot use. ``console`` is where
        the ``console`` exporters write (default stderr: stdout carries the access log).
        """
        config = TelemetryConfig.from_env(env)
        tracing = None
        if config.tracing:
            tracing = Tracing.build(config, build_resource(config, service_version), console=console)
        return cls(config, service_version=service_version, tracing=tracing, console=console)

    @classmethod
    def for_tests(
        cls,
        span_exporter: SpanExporter | None = None,
        *,
        capture_content: bool = False,
        capture_max_bytes: int = 8192,
    ) -> Telemetry:
        """Spans exported synchronously at ``end`` to ``span_exporter`` (a new in-memory one if None)."""
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        config = TelemetryConfig(capture_content=capture_content, capture_max_bytes=capture_max_bytes)
        exporter = span_exporter if span_exporter is not None else InMemorySpanExporter()
        tracing = Tracing.for_tests(exporter, build_resource(config, "test"))
        return cls(config, service_version="test", tracing=tracing)

    @property
    def tracing_enabled(self) -> bool:
        return self._tracing is not None

    def start_request(
        self,
        *,
        method: str,
        path: str,
        headers: Mapping[str, str],
        dialect: str,
        operation: str,
        requested_model: str | None,
        stream: bool,
        http_route: str | None = None,
    ) -> RequestTrace:
        """Begin a request: SERVER span continuing the app's W3C trace context; in-flight + 1.

        ``http_route`` is the low-cardinality path template for the span name (default ``path``; pass
        it for paths that carry a model name, as Gemini's do).
        """
        core = self._core
        self.instruments.in_flight.inc()
        tracer = core.tracer
        if tracer is None:
            return RequestTrace(core, None, operation, stream)
        traceparent = headers.get("traceparent")
        parent = None if traceparent is None else parse_traceparent(traceparent, headers.get("tracestate"))
        span = tracer.start_server(parent, method, http_route or path, path, dialect)
        if requested_model and type(span) is ServerSpan:
            span.requested_model = requested_model
        return RequestTrace(core, span, operation, stream)

    def policy_reload(self, *, ok: bool) -> None:
        self.instruments.policy_reloads.inc(("ok" if ok else "error",))

    def breaker_transition(self, *, target: str, from_state: str, to_state: str) -> None:
        """Count the transition and set the target's state gauge (closed 0, half_open 1, open 2)."""
        self.instruments.breaker_transitions.inc((target, to_state))
        self.instruments.breaker_state.set((target,), BREAKER_STATES.get(to_state, -1))

    def metrics_text(self) -> bytes:
        """Every metric in the Prometheus text exposition format 0.0.4 (for ``GET /metrics``)."""
        return self.registry.render()

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and stop the exporters, waiting ``timeout_s`` at most; idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        tracing, pusher = self._tracing, self._pusher
        if (tracing is None or not tracing.processors) and pusher is None:
            return

        def stop() -> None:
            if tracing is not None:
                tracing.shutdown(timeout_s / 2 if pusher is not None else timeout_s)
            if pusher is not None:
                pusher.shutdown(timeout_s / 2 if tracing is not None else timeout_s)

        await _off_loop(stop, timeout_s)
        self._count_dropped()

    def _count_dropped(self) -> None:
        if self._tracing is not None:
            self.instruments.spans_dropped.values[()] = self._tracing.dropped


async def _off_loop(work: Callable[[], None], timeout_s: float) -> None:
    """Run blocking ``work`` in a daemon thread; stop waiting after ``timeout_s`` (the thread may go on
    but never holds up interpreter exit, unlike the default executor's threads)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            work()
        except Exception:
            _log.exception("telemetry shutdown failed")
        with contextlib.suppress(RuntimeError):  # the loop closed while we were flushing
            loop.call_soon_threadsafe(finished)

    threading.Thread(target=run, name="sidecar-telemetry-shutdown", daemon=True).start()
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout_s + 0.5)
    except TimeoutError:
        return
