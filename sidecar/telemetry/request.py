"""Per-request telemetry: ``RequestTrace`` (the app's request, a SERVER span) and ``AttemptTrace`` (one
upstream call, a CLIENT span, child of it). Spans are the OpenTelemetry SDK's.

Lifecycle, as the pipeline calls it::

    trace = telemetry.start_request(...)        # SERVER span continues the app's traceparent; in-flight +1
    with trace:                                 # optional: its span is the current one (log lines carry its ids)
        trace.request_parsed(...)               # optional: requested model and stream flag, once known
        trace.route_decided(...) | trace.rejected(...)
        attempt = trace.attempt(...)            # CLIENT span "{operation} {model}"
        attempt.inject(upstream_headers)
        attempt.first_chunk(); attempt.chunk()  # streams
        attempt.finish(...)                     # GenAI metrics; ends the CLIENT span
        trace.skipped(...) / trace.fallback(...) / trace.cache_result(...)
    trace.finish(...)                           # request metrics; ends the SERVER span; in-flight -1

Both ``finish`` methods are idempotent; ``RequestTrace.finish`` also ends any attempt left open.
``span`` is the recording SDK span, or None when tracing is off (no exporter) or the sampler dropped the
request; then only the metrics are touched, and an unsampled request still passes its trace context
upstream (flag 00). The attributes a sampler may read are given when a span starts; those known at the
end are set in one ``set_attributes`` call. Facts come only from the explicit arguments; no header but
``traceparent`` and ``tracestate`` is ever read.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from . import attributes as attr
from . import genai
from .genai import ContentCapture, Usage
from .tracing import inject

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from .instruments import Instruments
    from .metrics import Series

_STATUS_CLASS: Final = tuple(f"{n}xx" for n in range(10))
# The sidecar's operation names -> gen_ai.operation.name (the Responses API is a chat operation).
_OPERATIONS: Final = {"responses": "chat"}


@dataclass(frozen=True, slots=True)
class Core:
    """What every trace of one ``Telemetry`` shares."""

    instruments: Instruments
    tracer: Tracer | None
    capture: ContentCapture


class RequestTrace:
    """Telemetry of one proxied request. ``trace_id``/``span_id`` are hex, ``""`` when not recorded."""

    __slots__ = (
        "_attempts",
        "_context",
        "_core",
        "_done",
        "_operation",
        "_route",
        "_started",
        "_stream",
        "_token",
        "span",
        "span_id",
        "trace_id",
    )

    def __init__(self, core: Core, span: Span | None, operation: str, stream: bool) -> None:
        """``span``: the SERVER span as started (recording or not), None when tracing is off."""
        self._core = core
        # The context of the SERVER span: parent of the CLIENT spans, the ids propagated when unsampled.
        self._context: Context | None = None
        self.span: Span | None = None  # a plain attribute: the pipeline reads it per attempt
        self.trace_id = self.span_id = ""
        if span is not None:
            self._context = set_span_in_context(span)
            if span.is_recording():
                self.span = span
                ids = span.get_span_context()
                self.trace_id, self.span_id = format(ids.trace_id, "032x"), format(ids.span_id, "016x")
        self._operation = _OPERATIONS.get(operation, operation)
        self._stream = stream
        self._started = perf_counter()
        self._done = False
        self._route = ""
        self._attempts: list[AttemptTrace] = []

    def __enter__(self) -> None:
        """``with trace:`` makes the SERVER span the current OTel span while the block runs (one block at
        a time); nothing when the request is not recorded."""
        if self.span is not None:
            self._token = otel_context.attach(self._context)  # type: ignore[arg-type]  # set with span

    def __exit__(self, *_: object) -> None:
        if self.span is not None:
            otel_context.detach(self._token)

    def request_parsed(self, *, requested_model: str | None, stream: bool) -> None:
        """The model the app asked for and whether it asked for a stream, once the body is read."""
        self._stream = stream
        span = self.span
        if span is not None:
            if requested_model:
                span.set_attribute(attr.REQUESTED_MODEL, requested_model)
            if stream:
                span.set_attribute(attr.REQUESTED_STREAM, True)

    def route_decided(self, *, route: str, targets: Sequence[str]) -> None:
        self._route = route
        span = self.span
        if span is not None:
            span.set_attributes({attr.ROUTE: route, attr.ROUTE_TARGETS: list(targets)})

    def rejected(self, *, status: int, reason: str) -> None:
        """Refused before any upstream call (bad JSON, no route, denied, body too large, ...)."""
        self._core.instruments.rejections.inc((reason,))
        span = self.span
        if span is not None:
            span.set_attributes({attr.REJECTED_REASON: reason, genai.HTTP_STATUS_CODE: status})

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
        span: Span | None = None
        context = self._context  # unsampled: the request's context, propagated with flag 00
        tracer = self._core.tracer
        if self.span is not None and tracer is not None:
            attributes: dict[str, Any] = {
                genai.OPERATION_NAME: self._operation,
                genai.PROVIDER_NAME: provider_name,
                genai.REQUEST_MODEL: request_model,
                genai.SERVER_ADDRESS: server_address,
                genai.SERVER_PORT: server_port,
                attr.TARGET: target,
                attr.BREAKER_STATE: breaker_state,
            }
            if resend_count:
                attributes[genai.HTTP_RESEND_COUNT] = resend_count
            if self._stream:
                attributes[genai.REQUEST_STREAM] = True
            if request_params is not None:
                attributes.update(genai.request_param_attributes(request_params))
            encoded = self._core.capture.encode(input_messages)
            if encoded is not None:
                attributes[genai.INPUT_MESSAGES] = encoded[0]
                if encoded[1]:
                    attributes[attr.CONTENT_TRUNCATED] = True
            name = f"{self._operation} {request_model}"
            span = tracer.start_span(name, self._context, SpanKind.CLIENT, attributes)
            context = set_span_in_context(span)
        labels = (self._operation, provider_name, request_model)
        attempt = AttemptTrace(self._core, span, context, target, labels)
        self._attempts.append(attempt)
        return attempt

    def skipped(self, *, target: str, reason: str) -> None:
        """A target passed over without a call (breaker open, rate limited, bulkhead full, ...)."""
        self._core.instruments.skips.inc((target, reason))
        if self.span is not None:
            self.span.add_event(attr.TARGET_SKIPPED, {attr.TARGET: target, attr.SKIP_REASON: reason})

    def fallback(self, *, from_target: str, reason: str) -> None:
        """Moving on from ``from_target`` to the next target of the chain."""
        self._core.instruments.fallbacks.inc((reason,))
        if self.span is not None:
            self.span.add_event(attr.FALLBACK, {attr.TARGET: from_target, attr.FALLBACK_REASON: reason})

    def cache_result(self, *, hit: bool) -> None:
        self._core.instruments.cache.inc(("hit" if hit else "miss",))
        if self.span is not None:
            self.span.set_attribute(attr.CACHE_HIT, hit)

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
        attributes: dict[str, Any] = {genai.HTTP_STATUS_CODE: status, attr.OUTCOME: outcome}
        if attempts != 1:
            attributes[attr.ATTEMPTS] = attempts
        if streamed:
            attributes[attr.STREAMED] = True
        if route_label:
            attributes[attr.ROUTE] = route_label
        if served_model:
            attributes[attr.SERVED_MODEL] = served_model
        if fallback_reason:
            attributes[attr.FALLBACK_REASON] = fallback_reason
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
        if cost_usd is not None:
            attributes[attr.COST_USD] = float(cost_usd)
        span.set_attributes(attributes)
        if status >= 500 or (error_type and status < 400):  # a 4xx is the client's error (HTTP conventions)
            span.set_status(Status(StatusCode.ERROR, error_type))
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
        "_started",
        "_target",
        "_token",
        "span",
    )

    def __init__(
        self,
        core: Core,
        span: Span | None,
        context: Context | None,
        target: str,
        labels: tuple[str, str, str],
    ) -> None:
        self._core = core
        self.span = span  # the CLIENT span, or None (as RequestTrace.span)
        self._context = context  # what ``inject`` propagates: this span's, or the unsampled request's
        self._target = target
        self._labels = labels  # (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model)
        self._started = perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._chunks: Series | None = None
        self._done = False

    def __enter__(self) -> None:
        """``with attempt:`` makes the CLIENT span the current one while the block runs; nothing when the
        request is not recorded."""
        if self.span is not None:
            self._token = otel_context.attach(self._context)  # type: ignore[arg-type]  # set with span

    def __exit__(self, *_: object) -> None:
        if self.span is not None:
            otel_context.detach(self._token)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the W3C ``traceparent`` of this call (flag 00 if unsampled) into the upstream headers."""
        if self._context is not None:
            inject(self._context, headers)

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
        attributes: dict[str, Any] = {}
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
        encoded = self._core.capture.encode(output_messages)
        if encoded is not None:
            attributes[genai.OUTPUT_MESSAGES] = encoded[0]
            if encoded[1]:
                attributes[attr.CONTENT_TRUNCATED] = True
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.set_attributes(attributes)
        span.end()
