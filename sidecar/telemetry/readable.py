"""Span records rendered as SDK ``ReadableSpan``s: the one statement of which attribute each fact becomes.

``to_readable(record)`` is what the console and gRPC exporters and the in-memory test exporter receive
(see ``tracing.ReadableExporter``); ``otlp_encode.SpanEncoder`` writes the same attributes, in the same
order, straight to bytes, and a test checks the two agree byte for byte through the official encoder.
Attributes are listed here in that order. A fact that is None (or False for flags, 1 for the attempt
count, 0 for the resend count) is left out.

SERVER span (``ServerSpan``): ``http.request.method``, ``http.route``, ``sidecar.dialect``,
``url.path`` (only when it differs from ``http.route``), ``sidecar.request.model``,
``sidecar.request.stream``, ``sidecar.route.targets``, ``sidecar.rejected.reason``,
``sidecar.cache.hit``, ``http.response.status_code``, ``sidecar.outcome``, ``sidecar.attempts``,
``sidecar.streamed``, ``sidecar.route``, ``sidecar.served_model``, ``sidecar.fallback.reason``,
``error.type``, ``sidecar.cost_usd``; events ``sidecar.target.skipped`` and ``sidecar.fallback``.

CLIENT span (``ClientSpan``): ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``server.address``, ``server.port``, ``sidecar.target``,
``sidecar.breaker.state``, ``http.request.resend_count``, ``gen_ai.request.stream``,
``http.response.status_code``, ``gen_ai.response.model``, ``gen_ai.response.finish_reasons``,
``error.type``, the ``gen_ai.request.*`` parameters, ``gen_ai.input.messages``, ``gen_ai.response.id``,
``gen_ai.usage.input_tokens`` / ``output_tokens`` / ``cache_read.input_tokens``,
``gen_ai.response.time_to_first_chunk``, ``gen_ai.output.messages``, ``sidecar.content.truncated``.

The order puts first what repeats from one request to the next, which the encoder caches as one piece.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from . import genai
from .spans import ClientSpan, ServerSpan, SpanRecord

_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)
_EMPTY_STATE: Final = TraceState()
_UNSET: Final = Status()

# Attribute names beside the GenAI conventions (genai.py), shared with otlp_encode.
DIALECT: Final = "sidecar.dialect"
REQUESTED_MODEL: Final = "sidecar.request.model"
REQUESTED_STREAM: Final = "sidecar.request.stream"
ROUTE_TARGETS: Final = "sidecar.route.targets"
REJECTED_REASON: Final = "sidecar.rejected.reason"
CACHE_HIT: Final = "sidecar.cache.hit"
OUTCOME: Final = "sidecar.outcome"
ATTEMPTS: Final = "sidecar.attempts"
STREAMED: Final = "sidecar.streamed"
ROUTE: Final = "sidecar.route"
SERVED_MODEL: Final = "sidecar.served_model"
FALLBACK_REASON: Final = "sidecar.fallback.reason"
COST_USD: Final = "sidecar.cost_usd"
TARGET: Final = "sidecar.target"
BREAKER_STATE: Final = "sidecar.breaker.state"
CONTENT_TRUNCATED: Final = "sidecar.content.truncated"


def span_name(record: SpanRecord) -> str:
    if isinstance(record, ClientSpan):
        return f"{record.operation} {record.request_model}"
    assert isinstance(record, ServerSpan)
    return f"{record.method} {record.http_route}"


def server_attributes(span: ServerSpan) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        genai.HTTP_METHOD: span.method,
        genai.HTTP_ROUTE: span.http_route,
        DIALECT: span.dialect,
    }
    if span.path != span.http_route:
        attributes[genai.URL_PATH] = span.path
    if span.requested_model:
        attributes[REQUESTED_MODEL] = span.requested_model
    if span.request_stream:
        attributes[REQUESTED_STREAM] = True
    if span.targets is not None:
        attributes[ROUTE_TARGETS] = list(span.targets)
    if span.rejected_reason:
        attributes[REJECTED_REASON] = span.rejected_reason
    if span.cache_hit is not None:
        attributes[CACHE_HIT] = span.cache_hit
    attributes[genai.HTTP_STATUS_CODE] = span.status_code
    attributes[OUTCOME] = span.outcome
    if span.attempts != 1:
        attributes[ATTEMPTS] = span.attempts
    if span.streamed:
        attributes[STREAMED] = True
    if span.route:
        attributes[ROUTE] = span.route
    if span.served_model:
        attributes[SERVED_MODEL] = span.served_model
    if span.fallback_reason:
        attributes[FALLBACK_REASON] = span.fallback_reason
    if span.error_type:
        attributes[genai.ERROR_TYPE] = span.error_type
    if span.cost_usd is not None:
        attributes[COST_USD] = span.cost_usd
    return attributes


def client_attributes(span: ClientSpan) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        genai.OPERATION_NAME: span.operation,
        genai.PROVIDER_NAME: span.provider_name,
        genai.REQUEST_MODEL: span.request_model,
        genai.SERVER_ADDRESS: span.server_address,
        genai.SERVER_PORT: span.server_port,
        TARGET: span.target,
        BREAKER_STATE: span.breaker_state,
    }
    if span.resend_count:
        attributes[genai.HTTP_RESEND_COUNT] = span.resend_count
    if span.stream:
        attributes[genai.REQUEST_STREAM] = True
    if span.status_code is not None:
        attributes[genai.HTTP_STATUS_CODE] = span.status_code
    if span.response_model:
        attributes[genai.RESPONSE_MODEL] = span.response_model
    if span.finish_reasons:
        attributes[genai.RESPONSE_FINISH_REASONS] = list(span.finish_reasons)
    if span.error_type:
        attributes[genai.ERROR_TYPE] = span.error_type
    if span.request_params is not None:
        attributes.update(genai.request_param_attributes(span.request_params))
    if span.input_messages is not None:
        attributes[genai.INPUT_MESSAGES] = span.input_messages
    if span.response_id:
        attributes[genai.RESPONSE_ID] = span.response_id
    if span.usage is not None:
        attributes.update(genai.usage_attributes(span.usage))
    if span.time_to_first_chunk is not None:
        attributes[genai.RESPONSE_TIME_TO_FIRST_CHUNK] = span.time_to_first_chunk
    if span.output_messages is not None:
        attributes[genai.OUTPUT_MESSAGES] = span.output_messages
    if span.content_truncated:
        attributes[CONTENT_TRUNCATED] = True
    return attributes


def context(record: SpanRecord) -> SpanContext:
    trace_id, span_id = int.from_bytes(record.trace_id, "big"), int.from_bytes(record.span_id, "big")
    return SpanContext(trace_id, span_id, False, _SAMPLED, record.trace_state or _EMPTY_STATE)


def to_readable(record: SpanRecord) -> ReadableSpan:
    """The SDK's view of an ended record (what every SDK exporter consumes)."""
    error_type: str | None
    if isinstance(record, ClientSpan):
        kind = SpanKind.CLIENT
        parent: SpanContext | None = context(record.server)
        attributes = client_attributes(record)
        error_type = record.error_type
        error = bool(error_type)
    else:
        assert isinstance(record, ServerSpan)
        kind = SpanKind.SERVER
        parent = record.parent
        attributes = server_attributes(record)
        error_type = record.error_type
        error = record.error
    events = [Event(event.name, dict(event.attributes), event.time_ns) for event in record.events or ()]
    return ReadableSpan(
        name=span_name(record),
        context=context(record),
        parent=parent,
        resource=record.tracer.resource,
        attributes=attributes,
        events=events,
        kind=kind,
        status=Status(StatusCode.ERROR, error_type) if error else _UNSET,
        start_time=record.start_ns,
        end_time=record.end_ns,
        instrumentation_scope=record.tracer.scope,
    )
