"""``Telemetry``: the one object the server holds; it builds everything once and hands out traces.

Built by ``from_env`` (production) or ``for_tests`` (spans to an in-memory exporter). Each instance owns
its providers and registry, never the process-wide ones (tests build several per process): the
``prometheus_client`` registry behind ``/metrics`` and the instruments (``instruments``), the SDK's
``TracerProvider`` (None when no trace exporter is configured: then no span is ever created), and the
SDK's ``MeterProvider`` with a ``PeriodicExportingMetricReader`` per configured metrics exporter.
Process-wide events (policy reloads, breaker transitions, the features' events) and what is read when
metrics are collected (the targets' bulkheads) are methods here, the cache store's readings its ``cache``
(``cache_readings.CacheReadings``); per-request ones live on ``RequestTrace``. The ``MeterProvider`` is
``export.meter_provider``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from . import attributes as attr
from . import genai
from .cache_readings import CacheReadings
from .config import TelemetryConfig
from .core import Core, HeldWork
from .export import meter_provider
from .genai import ContentCapture
from .instruments import BREAKER_STATES, Instruments
from .metrics import new_registry, render
from .propagation import HEADER_TEXT, INSTRUMENTATION, PROPAGATOR, ROOT, app_trace, dropped_with_app
from .request import RequestTrace

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter

    from .tracing import Tracing

_log = logging.getLogger(__name__)


class Telemetry:
    def __init__(
        self,
        config: TelemetryConfig,
        *,
        service_version: str,
        tracing: Callable[[Resource, Callable[[int], None]], Tracing] | None = None,
        console: TextIO | None = None,
    ) -> None:
        """``tracing``: the tracing from the resource and the callback counting dropped spans (None: none)."""
        self.config = config
        self.registry = new_registry()
        self._meter_provider = None
        exported = tracing is not None or bool(config.metrics.exporters)
        # The SDK's resource (and its modules) only for a signal that is exported.
        resource = build_resource(config, service_version) if exported else None
        if resource is not None and config.metrics.exporters:
            self._meter_provider = meter_provider(config, resource, console)
        meter = None
        if self._meter_provider is not None:
            from .. import __version__

            meter = self._meter_provider.get_meter(INSTRUMENTATION, __version__, schema_url=genai.SCHEMA_URL)
        self.instruments = Instruments(self.registry, meter, service_version=service_version)
        self._tracing = tracing(resource, self._count_dropped) if tracing is not None and resource is not None else None
        self._core = Core(
            self.instruments,
            self._tracing.tracer if self._tracing is not None else None,
            ContentCapture(config.capture_content, config.capture_max_bytes),
            config.trace_context,
            self._tracing.ids if self._tracing is not None else None,
            held=HeldWork(batched=self._tracing is not None and self._tracing.batched),
        )
        self._closed = False
        self.cache = CacheReadings(self.instruments)  # the response cache's store, read for the metrics

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service_version: str, console: TextIO | None = None) -> Telemetry:
        """Everything from ``env`` (standard ``OTEL_*`` plus ``SIDECAR_CAPTURE_CONTENT[_MAX_BYTES]``).

        Raises ``TelemetryConfigError`` (a ``ValueError``) on a value it cannot use. ``console`` is where
        the ``console`` exporters write (default stderr: stdout carries the access log).
        """
        config = TelemetryConfig.from_env(env)

        def tracing(resource: Resource, on_drop: Callable[[int], None]) -> Tracing:
            from .tracing import Tracing  # here: the SDK's tracing only when a trace exporter is configured

            return Tracing.build(config, resource, on_drop, console=console)

        return cls(
            config, service_version=service_version, tracing=tracing if config.tracing else None, console=console
        )

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

        from .tracing import Tracing

        config = TelemetryConfig(capture_content=capture_content, capture_max_bytes=capture_max_bytes)
        exporter = span_exporter if span_exporter is not None else InMemorySpanExporter()
        return cls(config, service_version="test", tracing=lambda resource, _: Tracing.for_tests(exporter, resource))

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
        it for paths that carry a model name, as Gemini's do; ``""``: none, the span named by the method
        as OTel's HTTP conventions say). A request the sampler drops gets no span: if its app trace is not
        sampled either, it passes the app's context on as it came (``propagation.dropped_with_app``; for a
        ``parentbased_`` sampler, ``app_trace`` alone); if it starts a new trace, the ``traceparent`` of
        that trace (``Tracing.start_root``). A request whose ``traceparent`` is not valid starts a new
        trace, decided as one without it (``dropped_root`` first).
        """
        core = self._core
        self.instruments.in_flight.inc()
        tracing = self._tracing
        if tracing is None:
            return RequestTrace(core, None, operation, stream, None)
        traceparent = headers.get("traceparent") if core.trace_context else None  # looked up once
        if traceparent is None:  # a new trace (``extract_parent``'s ROOT)
            parent = ROOT
            dropped = tracing.dropped_root()  # a ratio sampler decides on the trace id alone: before the rest
        else:  # read once (``parentbased_``: the parent, ROOT for one not valid, or the unsampled one's headers)
            follows = tracing.follows_app
            app = app_trace(headers, traceparent) if follows else PROPAGATOR.extract(headers, ROOT, getter=HEADER_TEXT)
            if not isinstance(app, Context):  # the app's trace, not sampled: dropped with it, as ``parentbased_`` does
                return RequestTrace(core, None, operation, stream, app)
            parent = app  # ``extract_parent``'s, its check made (ROOT for one not valid)
            dropped = tracing.dropped_root() if parent is ROOT else None
        if dropped is not None:
            return RequestTrace(core, None, operation, stream, dropped)
        route = path if http_route is None else http_route
        attributes: dict[str, Any] = {genai.HTTP_METHOD: method, genai.HTTP_ROUTE: route, attr.DIALECT: dialect}
        if not route:  # no template: no ``http.route`` (the path in ``url.path``)
            del attributes[genai.HTTP_ROUTE]
        if path != route:
            attributes[genai.URL_PATH] = path
        if requested_model:
            attributes[attr.REQUESTED_MODEL] = requested_model
        if stream:
            attributes[attr.REQUESTED_STREAM] = True
        name = f"{method} {route}" if route else method
        if parent is ROOT:
            root = tracing.start_root(name, SpanKind.SERVER, attributes)  # start_span if decided above
            if isinstance(root, dict):  # dropped by the sampler: only its trace context goes upstream
                return RequestTrace(core, None, operation, stream, root)
            return RequestTrace(core, root, operation, stream, None)
        if tracing.follows_app:  # an app's unsampled context was answered above
            passed_on = None
        else:
            passed_on = dropped_with_app(tracing, parent, headers, name, SpanKind.SERVER, attributes)
        if passed_on is not None:
            return RequestTrace(core, None, operation, stream, passed_on)
        span = tracing.start_child_of_app(name, SpanKind.SERVER, parent, attributes)  # sampled, or asked now
        return RequestTrace(core, span, operation, stream, None)

    def policy_loaded(self, loaded_at: float) -> None:
        """The policy now served was loaded at ``loaded_at`` (Unix time): at start, or by a reload."""
        self.instruments.policy_last_reload_ok.set((), 1)
        self.instruments.policy_loaded_at.set((), loaded_at)

    def policy_reload(self, *, ok: bool, loaded_at: float | None = None) -> None:
        """Count a reload; ``ok`` with the new policy's ``loaded_at``, or rejected (an older policy serves)."""
        self.instruments.policy_reloads.inc(("ok" if ok else "error",))
        if ok and loaded_at is not None:
            self.policy_loaded(loaded_at)
        elif not ok:
            self.instruments.policy_last_reload_ok.set((), 0)

    def breaker_started(self, target: str) -> None:
        """A target's breaker was created (its first call, or new breaker settings): closed, with its
        transition counters at 0 so that Prometheus's rate() sees the first transition of each kind."""
        instruments = self.instruments
        instruments.breaker_state.set((target,), BREAKER_STATES["closed"])
        for to_state in BREAKER_STATES:
            instruments.breaker_transitions.inc((target, to_state), 0)

    def breaker_removed(self, target: str) -> None:
        """A target gone with a reload: its state series goes too (its counters stay, as counters do)."""
        self.instruments.breaker_state.remove((target,))

    def breaker_transition(self, *, target: str, from_state: str, to_state: str) -> None:
        """Count the transition and set the target's state gauge (closed 0, half_open 1, open 2)."""
        self.instruments.breaker_transitions.inc((target, to_state))
        self.instruments.breaker_state.set((target,), BREAKER_STATES.get(to_state, -1))

    def bulkheads(self, use: Mapping[str, tuple[int, int, int]]) -> None:
        """Each target's bulkhead as ``TargetStates.bulkheads()`` reads it (in flight, queued, limit), read
        when metrics are collected: the series of a target not in ``use`` (a reload removed it) go."""
        instruments = self.instruments
        instruments.bulkhead_in_flight.replace({(key,): in_flight for key, (in_flight, _, _) in use.items()})
        instruments.bulkhead_queued.replace({(key,): queued for key, (_, queued, _) in use.items()})
        instruments.bulkhead_max_concurrent.replace({(key,): limit for key, (_, _, limit) in use.items()})

    def ensemble_decided(self, *, route: str, strategy: str, decided: str, members: Mapping[str, str]) -> None:
        """One ensemble vote: how it was decided, and each member's result (``Decision.states`` values:
        a rank, 1 for the winning answer, or failed / unusable / cancelled)."""
        instruments = self.instruments
        instruments.ensemble_decisions.inc((route, strategy, decided))
        for member, state in members.items():
            result = ("won" if state == "1" else "outvoted") if state.isdigit() else state.split(" ", 1)[0]
            instruments.ensemble_members.inc((route, member, result))

    def gate_failed(self, *, route: str, gate: str, action: str) -> None:
        self.instruments.gate_failures.inc((route, gate, action))

    def shadow_result(
        self,
        *,
        route: str,
        task: str,
        candidate: str,
        result: str,
        cost_usd: float = 0.0,
        served_cost_usd: float = 0.0,
        duration_s: float | None = None,
        judge_cost_usd: float = 0.0,
    ) -> None:
        """One shadow call (or a sample skipped: result ``skipped``, no cost, no duration)."""
        instruments = self.instruments
        labels = (route, task, candidate)
        instruments.shadow_results.inc((*labels, result))
        if cost_usd:
            instruments.shadow_cost.inc((*labels, "candidate"), cost_usd)
        if served_cost_usd:
            instruments.shadow_cost.inc((*labels, "served"), served_cost_usd)
        if judge_cost_usd:
            instruments.shadow_cost.inc((*labels, "judge"), judge_cost_usd)
        if duration_s is not None:
            instruments.shadow_duration.observe(labels, duration_s)

    def metrics_text(self) -> bytes:
        """Every metric in the Prometheus text exposition format 0.0.4 (for ``GET /metrics``)."""
        self._core.held.run()  # what finished traces left is counted first (``core.HeldWork``)
        return render(self.registry)

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and stop the exporters, waiting ``timeout_s`` at most; idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        self._core.held.run()  # what finished traces left runs first, held or (next line) a loop callback
        await asyncio.sleep(0)
        tracing, meters = self._tracing, self._meter_provider
        if tracing is None and meters is None:
            return

        def stop() -> None:
            if tracing is not None:
                tracing.shutdown()
            if meters is not None:  # one last export of the totals
                meters.shutdown(timeout_millis=timeout_s * 1000)

        await _off_loop(stop, timeout_s)
        if tracing is not None:
            tracing.count_left()

    def _count_dropped(self, count: int) -> None:
        self.instruments.spans_dropped.inc((), count)


def build_resource(config: TelemetryConfig, service_version: str) -> Resource:
    """The process's resource (``resource.HashedResource``), the SDK's resources module loaded only now."""
    from .resource import process_resource

    return process_resource(config, service_version)


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
