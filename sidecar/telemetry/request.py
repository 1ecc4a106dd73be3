"""Per-request telemetry: ``RequestTrace`` (the app's request, a SERVER span) and ``AttemptTrace`` (one
upstream call, a CLIENT span, child of it).

Lifecycle, as the pipeline calls it::

    trace = telemetry.start_request(...)        # SERVER span continues the app's traceparent; in-flight +1
    with trace:                                 # optional: log lines inside carry its trace/span ids
        trace.request_parsed(...)               # optional: requested model and stream flag, once known
        trace.route_decided(...) | trace.rejected(...)
        attempt = trace.attempt(...)            # CLIENT span "{operation} {model}"
        attempt.inject(upstream_headers)
        attempt.first_chunk(); attempt.chunk()  # streams
        attempt.finish(...)                     # GenAI metrics; ends the CLIENT span
        trace.skipped(...) / trace.fallback(...) / trace.cache_result(...)
    trace.finish(...)                           # request metrics; ends the SERVER span; in-flight -1

Both ``finish`` methods are idempotent; ``RequestTrace.finish`` also ends any attempt left open. A
traced request writes its facts into span records (``spans.ServerSpan``/``ClientSpan``: slots, no
attribute dicts); they become attributes once a span ends (``otlp_encode``, ``readable``). With
tracing off (no exporter) ``span`` is None everywhere and only the registry is
touched. Facts come only from the explicit arguments; no header but ``traceparent`` and
``tracestate`` is ever read.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

from .genai import ContentCapture, Usage
from .spans import ClientSpan, Propagated, ServerSpan
from .tracing import ACTIVE_IDS

if TYPE_CHECKING:
    from .instruments import Instruments
    from .metrics import Series
    from .spans import LiteTracer

_STATUS_CLASS: Final = tuple(f"{n}xx" for n in range(10))
# The sidecar's operation names -> gen_ai.operation.name (the Responses API is a chat operation).
_OPERATIONS: Final = {"responses": "chat"}


@dataclass(frozen=True, slots=True)
class Core:
    """What every trace of one ``Telemetry`` shares."""

    instruments: Instruments
    tracer: LiteTracer | None
    capture: ContentCapture


class RequestTrace:
    """Telemetry of one proxied request. ``trace_id``/``span_id`` are hex, ``""`` when not traced."""

    __slots__ = (
        "_attempts",
        "_core",
        "_done",
        "_operation",
        "_propagated",
        "_route",
        "_started",
        "_stream",
        "_token",
        "span",
        "span_id",
        "trace_id",
    )

    def __init__(self, core: Core, span: ServerSpan | Propagated | None, operation: str, stream: bool) -> None:
        self._core = core
        if type(span) is ServerSpan:
            # The SERVER span's record; None when tracing is off or the request is not sampled (a plain
            # attribute: the pipeline reads it per attempt).
            self.span: ServerSpan | None = span
            self._propagated: Propagated | None = None
            span.request_stream = stream
            self.trace_id, self.span_id = span.trace_id.hex(), span.span_id.hex()
        else:  # not traced (None), or not sampled (the ids to propagate the decision)
            self.span = None
            self._propagated = span  # type: ignore[assignment]  # a Propagated or None
            self.trace_id = self.span_id = ""
        self._operation = _OPERATIONS.get(operation, operation)
        self._stream = stream
        self._started = perf_counter()
        self._done = False
        self._route = ""
        self._attempts: list[AttemptTrace] = []

    def __enter__(self) -> None:
        """``with trace:`` makes the SERVER span's ids the active ones (for log lines) while the block
        runs (one block at a time); nothing when the request is not recorded."""
        if self.span is not None:
            self._token = ACTIVE_IDS.set((self.trace_id, self.span_id))

    def __exit__(self, *_: object) -> None:
        if self.span is not None:
            ACTIVE_IDS.reset(self._token)

    def request_parsed(self, *, requested_model: str | None, stream: bool) -> None:
        """The model the app asked for and whether it asked for a stream, once the body is read."""
        self._stream = stream
        span = self.span
        if span is not None:
            if requested_model:
                span.requested_model = requested_model
            span.request_stream = stream

    def route_decided(self, *, route: str, targets: Sequence[str]) -> None:
        self._route = route
        span = self.span
        if span is not None:
            span.route = route
            span.targets = targets

    def rejected(self, *, status: int, reason: str) -> None:
        """Refused before any upstream call (bad JSON, no route, denied, body too large, ...)."""
        self._core.instruments.rejections.inc((reason,))
        span = self.span
        if span is not None:
            span.rejected_reason = reason
            span.status_code = status

    def attempt(
        self,
        *,
        target: str,
        provider: str,
        provider_name: str,
        request_model: str,
        server_address: str,
        server_port: int,
        resend_count: int,
        breaker_state: str,
        request_params: Mapping[str, Any] | object | None = None,
        input_messages: Any = None,
    ) -> AttemptTrace:
        """Start one upstream call: a CLIENT span ``"{operation} {request_model}"``, child of the request."""
        server = self.span
        span: ClientSpan | Propagated | None
        if server is not None:
            span = ClientSpan(
                server,
                self._operation,
                provider_name,
                request_model,
                server_address,
                server_port,
                target,
                breaker_state,
                resend_count,
                self._stream,
                request_params,
            )
            capture = self._core.capture
            if capture.enabled:
                encoded = capture.encode(input_messages)
                if encoded is not None:
                    span.input_messages, span.content_truncated = encoded
        else:
            span = self._propagated
        attempt = AttemptTrace(self._core, span, target, (self._operation, provider_name, request_model), self.trace_id)
        self._attempts.append(attempt)
        return attempt

    def skipped(self, *, target: str, reason: str) -> None:
        """A target passed over without a call (breaker open, rate limited, bulkhead full, ...)."""
        self._core.instruments.skips.inc((target, reason))
        if self.span is not None:
            self.span.add_event("sidecar.target.skipped", {"sidecar.target": target, "sidecar.skip.reason": reason})

    def fallback(self, *, from_target: str, reason: str) -> None:
        """Moving on from ``from_target`` to the next target of the chain."""
        self._core.instruments.fallbacks.inc((reason,))
        if self.span is not None:
            self.span.add_event("sidecar.fallback", {"sidecar.target": from_target, "sidecar.fallback.reason": reason})

    def cache_result(self, *, hit: bool) -> None:
        self._core.instruments.cache.inc(("hit" if hit else "miss",))
        if self.span is not None:
            self.span.cache_hit = hit

    def finish(
        self,
        *,
        status: int,
        outcome: str,
        route: str | None,
        served_model: str | None,
        provider: str | None,
        attempts: int,
        fallback_reason: str | None,
        usage: Usage | None,
        cost_usd: float | None,
        error_type: str | None,
        streamed: bool,
    ) -> None:
        """Record the request's metrics and end its SERVER span; later calls do nothing."""
        if self._done:
            return
        self._done = True
        elapsed = perf_counter() - self._started
        for attempt in self._attempts:
            attempt.finish(status=None, error_type="unfinished")
        ins = self._core.instruments
        route_label = route or self._route
        model_label = served_model or ""
        ins.requests.inc((route_label, model_label, outcome, _STATUS_CLASS[status // 100 % 10]))
        ins.request_duration.observe((route_label, outcome), elapsed)
        ins.in_flight.dec()
        if usage is not None:
            if usage.input_tokens:
                ins.tokens.inc((model_label, "input"), usage.input_tokens)
            if usage.output_tokens:
                ins.tokens.inc((model_label, "output"), usage.output_tokens)
            if usage.cached_input_tokens:
                ins.tokens.inc((model_label, "cached_input"), usage.cached_input_tokens)
        if cost_usd:
            ins.cost.inc((model_label, route_label), cost_usd)
        span = self.span
        if span is None:
            return
        span.status_code = status
        span.outcome = outcome
        span.attempts = attempts
        span.streamed = streamed
        span.route = route_label
        span.served_model = served_model
        span.fallback_reason = fallback_reason
        span.cost_usd = float(cost_usd) if cost_usd is not None else None
        span.error_type = error_type
        span.error = status >= 500 or bool(error_type and status < 400)
        span.end()


class AttemptTrace:
    """Telemetry of one upstream call; ``finish`` records the GenAI client metrics."""

    __slots__ = (
        "_chunks",
        "_core",
        "_done",
        "_first",
        "_ids",
        "_labels",
        "_last",
        "_started",
        "_target",
        "_token",
        "_trace_hex",
        "span",
    )

    def __init__(
        self,
        core: Core,
        span: ClientSpan | Propagated | None,
        target: str,
        labels: tuple[str, str, str],
        trace_hex: str = "",
    ) -> None:
        self._core = core
        self._trace_hex = trace_hex  # the request's, when recorded (computed once for its log lines)
        if type(span) is ClientSpan:
            self.span: ClientSpan | None = span  # the CLIENT span's record, or None (as RequestTrace.span)
            self._ids: ClientSpan | Propagated | None = span
        else:  # not traced, or the unsampled ids to propagate
            self.span = None
            self._ids = span
        self._target = target
        self._labels = labels  # (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model)
        self._started = perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._chunks: Series | None = None
        self._done = False

    def __enter__(self) -> None:
        """``with attempt:`` makes the CLIENT span's ids the active ones while the block runs (one block
        at a time); nothing when the request is not recorded."""
        if self.span is not None:
            self._token = ACTIVE_IDS.set((self._trace_hex, self.span.span_id.hex()))

    def __exit__(self, *_: object) -> None:
        if self.span is not None:
            ACTIVE_IDS.reset(self._token)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the W3C ``traceparent`` of this call (flag 00 if unsampled) into the upstream headers."""
        ids = self._ids
        if ids is None:
            return
        if ids is self.span:
            headers["traceparent"] = f"00-{self._trace_hex}-{ids.span_id.hex()}-01"
        else:
            headers["traceparent"] = f"00-{ids.trace_id.hex()}-{ids.span_id.hex()}-00"
        if ids.trace_state:
            headers["tracestate"] = ids.trace_state.to_header()

    def first_chunk(self) -> None:
        """The first chunk of a stream reached the client (time to first chunk)."""
        if self._first is not None:
            return
        now = perf_counter()
        self._first = self._last = now
        self._core.instruments.genai_ttfc.observe(self._labels, now - self._started)
        self._chunks = self._core.instruments.genai_chunk.series(self._labels)

    def chunk(self) -> None:
        """One more output chunk: records the gap since the previous one (the first is ``first_chunk``)."""
        chunks = self._chunks
        if chunks is None:
            self.first_chunk()
            return
        now = perf_counter()
        chunks.observe(now - self._last)
        self._last = now

    def finish(
        self,
        *,
        status: int | None,
        error_type: str | None,
        response_model: str | None = None,
        response_id: str | None = None,
        finish_reasons: Sequence[str] | None = None,
        usage: Usage | None = None,
        output_messages: Any = None,
    ) -> None:
        """Record the call's GenAI metrics and end its CLIENT span; later calls do nothing."""
        if self._done:
            return
        self._done = True
        elapsed = perf_counter() - self._started
        ins = self._core.instruments
        operation, provider, model = self._labels
        response_label = response_model or ""
        ins.genai_duration.observe((operation, provider, model, response_label, error_type or ""), elapsed)
        ins.attempts.inc((self._target, "error" if error_type else "ok"))
        if error_type:
            ins.upstream_errors.inc((self._target, error_type))
        if usage is not None:
            if usage.input_tokens is not None:
                ins.genai_tokens.observe((operation, provider, model, response_label, "input"), usage.input_tokens)
            if usage.output_tokens is not None:
                ins.genai_tokens.observe((operation, provider, model, response_label, "output"), usage.output_tokens)
        span = self.span
        if span is None:
            return
        span.status_code = status
        span.response_model = response_model
        span.response_id = response_id
        span.finish_reasons = finish_reasons
        span.usage = usage
        if self._first is not None:
            span.time_to_first_chunk = self._first - self._started
        capture = self._core.capture
        if capture.enabled:
            encoded = capture.encode(output_messages)
            if encoded is not None:
                span.output_messages = encoded[0]
                span.content_truncated = span.content_truncated or encoded[1]
        span.error_type = error_type
        span.end()
