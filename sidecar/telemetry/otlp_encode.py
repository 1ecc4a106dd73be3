"""OTLP protobuf encoding of span records, written by hand: ``SpanEncoder().encode(records) -> bytes``.

The OTLP/HTTP exporter's encoder. It writes an ``ExportTraceServiceRequest`` straight from the
``spans.ServerSpan``/``ClientSpan`` records, byte for byte what the official encoder
(``encode_spans(...).SerializeToString()``) makes of ``readable.to_readable(record)``: the same
attributes in the same order. The tests hold the two together for every fact, value type, event,
parent, trace state and status. The official path builds a dict per span, then one protobuf object per
span, attribute and value: about 45 us per span in the export thread, which shares the GIL with the
event loop. This takes about 1 us, because most of a span is the same from one request to the next:

- a span's *shape* is encoded once and reused as bytes: its name and kind, every attribute whose value
  repeats (for a SERVER span: method, route, dialect, requested model, targets, status, outcome,
  attempts, served model, fallback reason, error; for a CLIENT span: operation, provider, model,
  address, port, target, breaker state, resend count, stream flag, status, response model, finish
  reasons, error and the request parameters when they are a ``RequestParams`` tuple), and its status;
  the shape is keyed by the tuple of those facts, one dict lookup per span;
- what differs per request (ids, times, the response id, token counts, the cost, time to first chunk)
  goes between the shape's constant pieces in one ``struct`` call: for a SERVER span the shape fixes
  every size (the key adds whether there is a parent, remote or not, and the cost's type); for a CLIENT
  span a writer is made per combination of the sizes of its varying values (both in ``otlp_packed``).
  Spans with a trace state, events, captured content, parameters that are not a tuple, or values of
  unusual types are written piece by piece from prefixes built once (the general path, same bytes);
- every cache is cleared when it reaches ``CACHE_LIMIT`` entries, so unique values cannot grow it (the
  client writers count together: at ``CACHE_LIMIT`` of them the client shapes are dropped);
- resources and instrumentation scopes are encoded once; records are grouped by resource, then scope,
  in first-seen order, as ``encode_spans`` groups them.

The attribute order (``readable``'s) puts the repeated attributes first so that a shape is one piece.

``SpanEncoder.span`` is, where the package was built with a C compiler, ``_otlp_fast.SpanWriter``: the
fast path above (a known shape and layout) in C, reading the same slots, keys and dicts and writing the
same bytes, and calling ``python_span`` for anything else, which then adds what was missing to the caches.
``SpanEncoder(compiled=False)``, ``SIDECAR_NO_EXTENSIONS=1`` or a build without a compiler uses
``python_span`` alone (``sidecar.extensions``). The tests run every case through both.

Values and attribute records are written by ``otlp_wire`` (as ``encode_spans`` writes them). Not
thread-safe, with one exception: ``span`` (the event loop, at the end of each span) and ``request``
(the export thread, per batch) share no state.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from .. import extensions
from . import genai
from . import readable as names
from .otlp_packed import (
    CACHE_READ_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    RESPONSE_ID,
    SPAN_FLAGS_LOCAL,
    SPAN_FLAGS_REMOTE,
    PackedClientSpan,
    PackedServerSpan,
    Sizes,
    client_values,
)
from .otlp_wire import (
    TAG_EVENT_ATTRIBUTES,
    TAG_RESOURCE_ATTRIBUTES,
    TAG_SCOPE_ATTRIBUTES,
    attributes_into,
    field,
    pack_double,
    pack_fixed64,
    record,
    varint,
)
from .spans import ClientSpan, ServerSpan, SpanRecord

_otlp_fast: Final = extensions.load("sidecar.telemetry._otlp_fast")  # None: Python only (built without it, or off)

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import TraceState

    from .spans import LiteTracer, SpanEvent

CACHE_LIMIT: Final = 4096
# Span.start_time_unix_nano (field 7) and end_time_unix_nano (field 8), fixed64 each, in one call.
_pack_times: Final[Callable[[int, int, int, int], bytes]] = struct.Struct("<BQBQ").pack

# Span.kind (field 6): SERVER = 2, CLIENT = 3 in the proto enum.
_KIND_SERVER: Final = b"\x30\x02"
_KIND_CLIENT: Final = b"\x30\x03"


def compiled_available() -> bool:
    """Whether the C fast path (``_otlp_fast``) is there to use: built, and not turned off."""
    return _otlp_fast is not None


def _request_params(params: Any) -> bytes:
    """The ``gen_ai.request.*`` records of a request's parameters."""
    attributes = genai.request_param_attributes(params)
    return b"".join([record(name, value) for name, value in attributes.items()])


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


_CONTENT_TRUNCATED: Final = record(names.CONTENT_TRUNCATED, True)


class SpanEncoder:
    """Encodes batches of span records into a serialized ``ExportTraceServiceRequest``."""

    __slots__ = (
        "_client_layouts",
        "_client_shapes",
        "_float_heads",
        "_resources",
        "_scopes",
        "_server_shapes",
        "_statuses",
        "span",
    )

    def __init__(self, *, compiled: bool = True) -> None:
        """``compiled``: use the C fast path when the package has it (``compiled_available()``)."""
        self._float_heads: dict[str, bytes] = {}  # the record up to the 8 bytes of the double
        self._statuses: dict[tuple[bool, str | None], bytes] = {}
        # A span's shape: its name, the attributes repeated from request to request, its status; keyed
        # by the facts they are made of (see the module docstring).
        self._server_shapes: dict[tuple[Any, ...], ServerShape] = {}
        self._client_shapes: dict[tuple[Any, ...], ClientShape] = {}
        self._client_layouts = 0  # one-call writers made for the client shapes (see _client_layout)
        # id(object) -> (object, encoded field); the object is kept so that its id is not reused.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}
        # One ended record as a ``ScopeSpans.spans`` field, with its tracer (what ``request`` takes).
        self.span: Callable[[SpanRecord], tuple[LiteTracer, bytes]] = self.python_span
        if compiled and _otlp_fast is not None:
            self.span = _otlp_fast.SpanWriter(
                self._server_shapes,
                self._client_shapes,
                self.python_span,
                ServerSpan,
                ClientSpan,
                PackedServerSpan,
                PackedClientSpan,
                genai.Usage,
            )

    @property
    def compiled(self) -> bool:
        """Whether ``span`` is the C fast path."""
        return self.span != self.python_span

    def encode(self, records: Sequence[SpanRecord]) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` for ended ``records``."""
        return self.request([self.span(record) for record in records])

    def python_span(self, record: SpanRecord) -> tuple[LiteTracer, bytes]:
        """``span`` in Python: every case, and the caches the C fast path reads."""
        if type(record) is ClientSpan:
            return record.tracer, self._client(record)
        assert isinstance(record, ServerSpan)
        return record.tracer, self._server(record)

    def request(self, spans: Sequence[tuple[LiteTracer, bytes]]) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` of encoded spans (``span``'s results): grouped by
        their tracer's resource, then scope, in first-seen order.

        The nested messages' heads (tag and length) are written from the summed lengths of what they
        hold, and the whole request is joined once: one copy of the batch's bytes, not one per level of
        nesting (a batch is hundreds of KB; each extra copy was fresh memory for the export thread to
        fault in)."""
        groups: list[tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]] = []
        last_tracer: object = None
        current: list[bytes] = []
        for tracer, encoded in spans:
            if tracer is not last_tracer:
                current = _group(groups, tracer.resource, tracer.scope or None)
                last_tracer = tracer
            current.append(encoded)
        pieces: list[bytes] = []
        for resource, scopes in groups:
            resource_head = len(pieces)
            pieces.append(b"")  # ResourceSpans' head, once its length is known
            resource_bytes = self._resource(resource)
            pieces.append(resource_bytes)
            length = len(resource_bytes)
            for scope, encoded_spans in scopes:
                scope_bytes = self._scope(scope)
                tail = b""
                schema_url = scope.schema_url if scope is not None else None
                if schema_url:
                    tail = field(b"\x1a", schema_url.encode())
                scope_length = len(scope_bytes) + sum(map(len, encoded_spans)) + len(tail)
                head = b"\x12" + varint(scope_length)  # ResourceSpans.scope_spans
                pieces += (head, scope_bytes)
                pieces += encoded_spans
                pieces.append(tail)
                length += len(head) + scope_length
            if resource.schema_url:
                tail = field(b"\x1a", resource.schema_url.encode())
                pieces.append(tail)
                length += len(tail)
            pieces[resource_head] = b"\x0a" + varint(length)  # ExportTraceServiceRequest.resource_spans
        return b"".join(pieces)

    def _server(self, span: ServerSpan) -> bytes:
        """``ScopeSpans.spans`` (field 2) for a SERVER span: its fields in field-number order."""
        targets = span.targets
        parent = span.parent
        cost = span.cost_usd
        key = (
            span.method,
            span.http_route,
            span.path,
            span.dialect,
            span.requested_model,
            span.request_stream,
            targets if type(targets) is tuple or targets is None else tuple(targets),
            span.rejected_reason,
            span.cache_hit,
            span.status_code,
            span.outcome,
            span.attempts,
            span.streamed,
            span.route,
            span.served_model,
            span.fallback_reason,
            span.error_type,
            span.error,
            0 if parent is None else 2 if parent.is_remote else 1,  # the parent field and the flags
            type(cost),
        )
        shape = self._server_shapes.get(key) or self._server_shape(span, key)
        packed = shape[3]
        if packed is not None and not span.trace_state and not span.events:
            linked = b"" if parent is None else b"\x22\x08" + parent.span_id.to_bytes(8, "big")
            if cost is None:
                return packed.pack(
                    packed.head, span.trace_id, b"\x12\x08", span.span_id, linked, packed.middle,
                    span.start_ns, 0x41, span.end_ns, packed.attributes,
                )  # fmt: skip
            return packed.pack(
                packed.head, span.trace_id, b"\x12\x08", span.span_id, linked, packed.middle,
                span.start_ns, 0x41, span.end_ns, packed.attributes, cost, packed.after_cost,
            )  # fmt: skip
        parts = [b"\x0a\x10", span.trace_id, b"\x12\x08", span.span_id]
        if span.trace_state:
            parts.append(_trace_state(span.trace_state))
        parent = span.parent
        if parent is not None:
            parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
        parts += (shape[0], _pack_times(0x39, span.start_ns, 0x41, span.end_ns), shape[1])
        if span.cost_usd is not None:
            parts.append(self._float(names.COST_USD, span.cost_usd))
        if span.events:
            parts += [field(b"\x5a", _event(event)) for event in span.events]
        parts += (shape[2], SPAN_FLAGS_REMOTE if parent is not None and parent.is_remote else SPAN_FLAGS_LOCAL)
        body = b"".join(parts)
        return b"\x12" + varint(len(body)) + body

    def _client(self, span: ClientSpan) -> bytes:
        """``ScopeSpans.spans`` (field 2) for a CLIENT span: its fields in field-number order."""
        finish_reasons = span.finish_reasons
        params = span.request_params
        shared_params = params if isinstance(params, tuple) else None  # see _client_shape
        key = (
            span.operation,
            span.provider_name,
            span.request_model,
            span.server_address,
            span.server_port,
            span.target,
            span.breaker_state,
            span.resend_count,
            span.stream,
            span.status_code,
            span.response_model,
            tuple(finish_reasons) if finish_reasons else None,
            span.error_type,
            shared_params,
        )
        try:
            shape = self._client_shapes.get(key) or self._client_shape(span, key)
        except TypeError:  # a parameter tuple holding an unhashable value: encoded for each span
            shared_params = None
            shape = self._client_shape(span, None)
        layouts = shape[3]
        if (
            layouts is not None
            and (params is None or shared_params is not None)  # the parameters are in the shape
            and not span.trace_state
            and span.input_messages is None
            and span.output_messages is None
            and not span.content_truncated
        ):
            values = client_values(span)
            if values is not None:
                sizes = (len(values[0]), len(values[1]), len(values[2]), len(values[3]), len(values[4]))
                packed = layouts.get(sizes) or self._client_layout(layouts, shape, sizes)
                return packed.pack(
                    packed.head, span.trace_id, b"\x12\x08", span.span_id, b"\x22\x08", span.server.span_id,
                    packed.middle, span.start_ns, 0x41, span.end_ns, packed.attributes, values[0], packed.input_head,
                    values[1], packed.output_head, values[2], packed.cached_head, values[3], packed.chunk_head,
                    values[4], packed.status,
                )  # fmt: skip
        parts = [b"\x0a\x10", span.trace_id, b"\x12\x08", span.span_id]
        if span.trace_state:
            parts.append(_trace_state(span.trace_state))
        parts += (
            b"\x22\x08",
            span.server.span_id,
            shape[0],
            _pack_times(0x39, span.start_ns, 0x41, span.end_ns),
            shape[1],
        )
        if params is not None and shared_params is None:
            parts.append(_request_params(params))
        if span.input_messages is not None:
            parts.append(record(genai.INPUT_MESSAGES, span.input_messages))
        if span.response_id:
            parts.append(RESPONSE_ID.text(span.response_id))
        usage = span.usage
        if usage is not None:
            if usage.input_tokens is not None:
                parts.append(INPUT_TOKENS.number(usage.input_tokens))
            if usage.output_tokens is not None:
                parts.append(OUTPUT_TOKENS.number(usage.output_tokens))
            if usage.cached_input_tokens is not None:
                parts.append(CACHE_READ_TOKENS.number(usage.cached_input_tokens))
        if span.time_to_first_chunk is not None:
            parts.append(self._float(genai.RESPONSE_TIME_TO_FIRST_CHUNK, span.time_to_first_chunk))
        if span.output_messages is not None:
            parts.append(record(genai.OUTPUT_MESSAGES, span.output_messages))
        if span.content_truncated:
            parts.append(_CONTENT_TRUNCATED)
        parts += (shape[2], SPAN_FLAGS_LOCAL)
        body = b"".join(parts)
        return b"\x12" + varint(len(body)) + body

    def _server_shape(self, span: ServerSpan, key: tuple[Any, ...]) -> ServerShape:
        """(name and kind fields, every attribute record but the cost, the status record, and the whole
        span in one call when the cost is a float or None: ``PackedServerSpan``)."""
        attributes = [
            record(genai.HTTP_METHOD, span.method),
            record(genai.HTTP_ROUTE, span.http_route),
            record(names.DIALECT, span.dialect),
        ]
        if span.path != span.http_route:
            attributes.append(record(genai.URL_PATH, span.path))
        if span.requested_model:
            attributes.append(record(names.REQUESTED_MODEL, span.requested_model))
        if span.request_stream:
            attributes.append(record(names.REQUESTED_STREAM, True))
        if span.targets is not None:
            attributes.append(record(names.ROUTE_TARGETS, list(span.targets)))
        if span.rejected_reason:
            attributes.append(record(names.REJECTED_REASON, span.rejected_reason))
        if span.cache_hit is not None:
            attributes.append(record(names.CACHE_HIT, span.cache_hit))
        attributes += (record(genai.HTTP_STATUS_CODE, span.status_code), record(names.OUTCOME, span.outcome))
        if span.attempts != 1:
            attributes.append(record(names.ATTEMPTS, span.attempts))
        if span.streamed:
            attributes.append(record(names.STREAMED, True))
        if span.route:
            attributes.append(record(names.ROUTE, span.route))
        if span.served_model:
            attributes.append(record(names.SERVED_MODEL, span.served_model))
        if span.fallback_reason:
            attributes.append(record(names.FALLBACK_REASON, span.fallback_reason))
        if span.error_type:
            attributes.append(record(genai.ERROR_TYPE, span.error_type))
        name = _name(names.span_name(span)) + _KIND_SERVER
        shape = (name, b"".join(attributes), self._status(span.error, span.error_type))
        link, cost_type = key[-2], key[-1]
        packed = None
        if cost_type is float or cost_type is type(None):
            cost_head = self._float_head(names.COST_USD) if cost_type is float else None
            packed = PackedServerSpan(*shape, link, cost_head)
        return _remember(self._server_shapes, key, (*shape, packed))  # type: ignore[no-any-return]

    def _client_shape(self, span: ClientSpan, key: tuple[Any, ...] | None) -> ClientShape:
        """(name and kind fields, the attribute records fixed by target, attempt and response, then the
        request parameters if they are a tuple, the status, and the shape's one-call writers by the sizes
        of what varies: ``PackedClientSpan``). Not cached if ``key`` is None.

        Parameters given as a tuple (``RequestParams``) are part of the shape, cached by value: their
        values must have exact types (ints for counts, floats for temperature, top_p and penalties, no
        bool as a number) and no negative zero, as ``extract_request_params`` makes them, since
        1 == 1.0 == True and -0.0 == 0.0. A mapping or another object is encoded for each span.
        """
        attributes = [
            record(genai.OPERATION_NAME, span.operation),
            record(genai.PROVIDER_NAME, span.provider_name),
            record(genai.REQUEST_MODEL, span.request_model),
            record(genai.SERVER_ADDRESS, span.server_address),
            record(genai.SERVER_PORT, span.server_port),
            record(names.TARGET, span.target),
            record(names.BREAKER_STATE, span.breaker_state),
        ]
        if span.resend_count:
            attributes.append(record(genai.HTTP_RESEND_COUNT, span.resend_count))
        if span.stream:
            attributes.append(record(genai.REQUEST_STREAM, True))
        if span.status_code is not None:
            attributes.append(record(genai.HTTP_STATUS_CODE, span.status_code))
        if span.response_model:
            attributes.append(record(genai.RESPONSE_MODEL, span.response_model))
        if span.finish_reasons:
            attributes.append(record(genai.RESPONSE_FINISH_REASONS, list(span.finish_reasons)))
        if span.error_type:
            attributes.append(record(genai.ERROR_TYPE, span.error_type))
        if key is not None and key[-1] is not None:  # the parameters are part of the shape
            attributes.append(_request_params(span.request_params))
        name = _name(names.span_name(span)) + _KIND_CLIENT
        status = self._status(bool(span.error_type), span.error_type)
        if key is None:
            return (name, b"".join(attributes), status, None)
        return _remember(self._client_shapes, key, (name, b"".join(attributes), status, {}))  # type: ignore[no-any-return]

    def _client_layout(
        self, layouts: dict[Sizes, PackedClientSpan], shape: ClientShape, sizes: Sizes
    ) -> PackedClientSpan:
        """A new one-call writer for ``shape``'s spans whose varying values have ``sizes``. Once
        ``CACHE_LIMIT`` of them were made, every client shape is dropped with its writers."""
        if self._client_layouts >= CACHE_LIMIT:
            self._client_shapes.clear()
            self._client_layouts = 0
        self._client_layouts += 1
        name_kind, attributes, status, _ = shape
        chunk_head = self._float_head(genai.RESPONSE_TIME_TO_FIRST_CHUNK)
        packed = layouts[sizes] = PackedClientSpan(name_kind, attributes, status, sizes, chunk_head)
        return packed

    def _float(self, key: str, value: float) -> bytes:
        if type(value) is not float:
            return record(key, value)
        return (self._float_heads.get(key) or self._float_head(key)) + pack_double(value)

    def _float_head(self, key: str) -> bytes:
        """The record of a double attribute ``key`` up to the value's 8 bytes."""
        head = self._float_heads.get(key)
        if head is None:
            head = _remember(self._float_heads, key, record(key, 0.0)[:-8])
        return head

    def _status(self, error: bool, description: str | None) -> bytes:
        """``Span.status`` (field 15): UNSET, or ERROR with the description, as ``encode_spans`` sets it."""
        key = (error, description if error else None)
        cached = self._statuses.get(key)
        if cached is None:
            parts: list[bytes] = []
            if error:
                if description:
                    parts.append(field(b"\x12", description.encode()))
                parts.append(b"\x18\x02")  # STATUS_CODE_ERROR
            cached = _remember(self._statuses, key, field(b"\x7a", b"".join(parts)))
        return cached

    def _resource(self, resource: Resource) -> bytes:
        """``ResourceSpans.resource`` (field 1), encoded once per resource object."""
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        parts: list[bytes] = []
        attributes_into(parts, TAG_RESOURCE_ATTRIBUTES, resource.attributes)
        encoded = field(b"\x0a", b"".join(parts))
        if len(self._resources) >= 64:
            self._resources.clear()
        self._resources[id(resource)] = (resource, encoded)
        return encoded

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        """``ScopeSpans.scope`` (field 1), encoded once per scope object."""
        cached = self._scopes.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        parts: list[bytes] = []
        if scope is not None:
            if scope.name:
                parts.append(field(b"\x0a", scope.name.encode()))
            if scope.version:
                parts.append(field(b"\x12", scope.version.encode()))
            attributes_into(parts, TAG_SCOPE_ATTRIBUTES, scope.attributes)
        encoded = field(b"\x0a", b"".join(parts))
        if len(self._scopes) >= 64:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, encoded)
        return encoded


# (name and kind fields, shared attribute records, status record, one-call writers by sizes; None for a
# shape made for one span, whose parameters could not be part of a key)
ClientShape = tuple[bytes, bytes, bytes, "dict[Sizes, PackedClientSpan] | None"]
# (name and kind fields, shared attribute records, status record, the one-call writer if there is one)
ServerShape = tuple[bytes, bytes, bytes, "PackedServerSpan | None"]


def _group(
    groups: list[tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]],
    resource: Resource,
    scope: InstrumentationScope | None,
) -> list[bytes]:
    """The span list for (resource, scope), found by equality as ``encode_spans``'s dicts do, or new."""
    for known_resource, scopes in groups:
        if known_resource is resource or known_resource == resource:
            for known_scope, spans in scopes:
                if known_scope is scope or (known_scope is not None and known_scope == scope):
                    return spans
            spans = []
            scopes.append((scope, spans))
            return spans
    spans = []
    groups.append((resource, [(scope, spans)]))
    return spans


def _name(name: str) -> bytes:
    """``Span.name`` (field 5), absent when empty."""
    return field(b"\x2a", name.encode()) if name else b""


def _trace_state(state: TraceState) -> bytes:
    """``Span.trace_state`` (field 3) as ``encode_spans`` writes it."""
    return field(b"\x1a", ",".join([f"{k}={v}" for k, v in state.items()]).encode())


def _event(event: SpanEvent) -> bytes:
    parts: list[bytes] = []
    if event.time_ns:
        parts += (b"\x09", pack_fixed64(event.time_ns))
    if event.name:
        parts.append(field(b"\x12", event.name.encode()))
    attributes_into(parts, TAG_EVENT_ATTRIBUTES, event.attributes)
    return b"".join(parts)
