"""Per-request telemetry: ``RequestTrace`` (the app's request, a SERVER span) and ``AttemptTrace`` (one
upstream call, a CLIENT span, child of it).

Lifecycle, as the pipeline calls it::

    trace = telemetry.start_request(...)        # SERVER span continues the app's traceparent; in-flight +1
    with trace.activate():                      # optional: log lines inside carry its trace/span ids
        trace.request_parsed(...)               # optional: requested model and stream flag, once known
        trace.route_decided(...) | trace.rejected(...)
        attempt = trace.attempt(...)            # CLIENT span "{operation} {model}"
        attempt.inject(upstream_headers)
        attempt.first_chunk(); attempt.chunk()  # streams
        attempt.finish(...)                     # GenAI metrics; ends the CLIENT span
        trace.skipped(...) / trace.fallback(...) / trace.cache_result(...)
    trace.finish(...)                           # request metrics; ends the SERVER span; in-flight -1

Both ``finish`` methods are idempotent; ``RequestTrace.finish`` also ends any attempt left open. With
tracing off (no exporter) ``span`` is None everywhere and only the registry is touched: span attributes
are never even built. Attributes come only from the explicit arguments; no header but ``traceparent``
and ``tracestate`` is ever read.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import SpanContext, SpanKind

from . import genai
from .genai import ContentCapture, Usage
from .spans import LiteSpan
from .tracing import ACTIVE_IDS, context_ids, write_traceparent

if TYPE_CHECKING:
    from .instruments import Instruments
    from .metrics import Series
    from .spans import LiteTracer

_NO_CONTEXT: Final = nullcontext()
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
        "_context",
        "_core",
        "_done",
        "_operation",
        "_route",
        "_span",
        "_started",
        "_stream",
        "span_id",
        "trace_id",
    )

    def __init__(self, core: Core, span: LiteSpan | SpanContext | None, operation: str, stream: bool) -> None:
        self._core = core
        if isinstance(span, LiteSpan):
            self._span: LiteSpan | None = span
            self._context: SpanContext | None = span.context
            self.trace_id, self.span_id = context_ids(span.context)
        else:  # not traced, or not sampled (a context to propagate the decision)
            self._span = None
            self._context = span
            self.trace_id = self.span_id = ""
        self._operation = _OPERATIONS.get(operation, operation)
        self._stream = stream
        self._started = perf_counter()
        self._done = False
        self._route = ""
        self._attempts: list[AttemptTrace] = []

    @property
    def span(self) -> LiteSpan | None:
        """The SERVER span (None when tracing is off or the request is not sampled)."""
        return self._span

    def activate(self) -> AbstractContextManager[None]:
        """Make the SERVER span's ids the active ones (for log lines) while the ``with`` block runs."""
        if self._span is None:
            return _NO_CONTEXT
        return _Activation((self.trace_id, self.span_id))

    def request_parsed(self, *, requested_model: str | None, stream: bool) -> None:
        """The model the app asked for and whether it asked for a stream, once the body is read."""
        self._stream = stream
        if self._span is not None:
            if requested_model:
                self._span.set_attribute("sidecar.request.model", requested_model)
            if stream:
                self._span.set_attribute("sidecar.request.stream", True)

    def route_decided(self, *, route: str, targets: Sequence[str]) -> None:
        self._route = route
        if self._span is not None:
            self._span.set_attributes({"sidecar.route": route, "sidecar.route.targets": list(targets)})

    def rejected(self, *, status: int, reason: str) -> None:
        """Refused before any upstream call (bad JSON, no route, denied, body too large, ...)."""
        self._core.instruments.rejections.inc((reason,))
        if self._span is not None:
            self._span.set_attributes({"sidecar.rejected.reason": reason, genai.HTTP_STATUS_CODE: status})

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
        span: LiteSpan | SpanContext | None = self._context
        tracer = self._core.tracer
        if tracer is not None and self._span is not None:
            attributes: dict[str, Any] = {
                genai.OPERATION_NAME: self._operation,
                genai.PROVIDER_NAME: provider_name,
                genai.REQUEST_MODEL: request_model,
                genai.SERVER_ADDRESS: server_address,
                genai.SERVER_PORT: server_port,
                "sidecar.target": target,
                "sidecar.breaker.state": breaker_state,
            }
            if resend_count:
                attributes[genai.HTTP_RESEND_COUNT] = resend_count
            if self._stream:
                attributes[genai.REQUEST_STREAM] = True
            if request_params is not None:
                attributes.update(genai.request_param_attributes(request_params))
            _capture(self._core.capture, attributes, genai.INPUT_MESSAGES, input_messages)
            span = tracer.start(f"{self._operation} {request_model}", SpanKind.CLIENT, self._span.context, attributes)
        attempt = AttemptTrace(self._core, span, target, (self._operation, provider_name, request_model))
        self._attempts.append(attempt)
        return attempt

    def skipped(self, *, target: str, reason: str) -> None:
        """A target passed over without a call (breaker open, rate limited, bulkhead full, ...)."""
        self._core.instruments.skips.inc((target, reason))
        if self._span is not None:
            self._span.add_event("sidecar.target.skipped", {"sidecar.target": target, "sidecar.skip.reason": reason})

    def fallback(self, *, from_target: str, reason: str) -> None:
        """Moving on from ``from_target`` to the next target of the chain."""
        self._core.instruments.fallbacks.inc((reason,))
        if self._span is not None:
            self._span.add_event("sidecar.fallback", {"sidecar.target": from_target, "sidecar.fallback.reason": reason})

    def cache_result(self, *, hit: bool) -> None:
        self._core.instruments.cache.inc(("hit" if hit else "miss",))
        if self._span is not None:
            self._span.set_attribute("sidecar.cache.hit", hit)

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
        span = self._span
        if span is None:
            return
        attributes = span.attrs
        attributes[genai.HTTP_STATUS_CODE] = status
        attributes["sidecar.outcome"] = outcome
        if attempts != 1:
            attributes["sidecar.attempts"] = attempts
        if streamed:
            attributes["sidecar.streamed"] = True
        if route_label:
            attributes["sidecar.route"] = route_label
        if served_model:
            attributes["sidecar.served_model"] = served_model
        if fallback_reason:
            attributes["sidecar.fallback.reason"] = fallback_reason
        if cost_usd is not None:
            attributes["sidecar.cost_usd"] = cost_usd
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
        if status >= 500 or (error_type and status < 400):
            span.set_error(error_type)
        span.end()


class AttemptTrace:
    """Telemetry of one upstream call; ``finish`` records the GenAI client metrics."""

    __slots__ = (
        "_chunks",
        "_context",
        "_core",
        "_done",
        "_first",
        "_labels",
        "_last",
        "_span",
        "_started",
        "_target",
    )

    def __init__(
        self, core: Core, span: LiteSpan | SpanContext | None, target: str, labels: tuple[str, str, str]
    ) -> None:
        self._core = core
        if isinstance(span, LiteSpan):
            self._span: LiteSpan | None = span
            self._context: SpanContext | None = span.context
        else:  # not traced, or the unsampled context to propagate
            self._span = None
            self._context = span
        self._target = target
        self._labels = labels  # (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model)
        self._started = perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._chunks: Series | None = None
        self._done = False

    @property
    def span(self) -> LiteSpan | None:
        """The CLIENT span (None when tracing is off or the request is not sampled)."""
        return self._span

    def activate(self) -> AbstractContextManager[None]:
        """Make the CLIENT span's ids the active ones while the ``with`` block runs."""
        return _Activation(context_ids(self._span.context)) if self._span is not None else _NO_CONTEXT

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the W3C ``traceparent`` of this call (flag 00 if unsampled) into the upstream headers."""
        if self._context is not None:
            write_traceparent(self._context, headers)

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
        span = self._span
        if span is None:
            return
        attributes = span.attrs
        if status is not None:
            attributes[genai.HTTP_STATUS_CODE] = status
        if response_model:
            attributes[genai.RESPONSE_MODEL] = response_model
        if response_id:
            attributes[genai.RESPONSE_ID] = response_id
        if finish_reasons:
            attributes[genai.RESPONSE_FINISH_REASONS] = list(finish_reasons)
        if usage is not None:
            attributes.update(genai.usage_attributes(usage))
        if self._first is not None:
            attributes[genai.RESPONSE_TIME_TO_FIRST_CHUNK] = self._first - self._started
        _capture(self._core.capture, attributes, genai.OUTPUT_MESSAGES, output_messages)
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
            span.set_error(error_type)
        span.end()


class _Activation:
    """Context manager: ``ids`` are the active span's (``current_trace_ids``) inside the block."""

    __slots__ = ("_ids", "_token")

    def __init__(self, ids: tuple[str, str]) -> None:
        self._ids = ids

    def __enter__(self) -> None:
        self._token = ACTIVE_IDS.set(self._ids)

    def __exit__(self, *_: object) -> None:
        ACTIVE_IDS.reset(self._token)


def _capture(capture: ContentCapture, attributes: dict[str, Any], key: str, content: Any) -> None:
    if not capture.enabled:
        return
    encoded = capture.encode(content)
    if encoded is not None:
        attributes[key] = encoded[0]
        if encoded[1]:
            attributes["sidecar.content.truncated"] = True
