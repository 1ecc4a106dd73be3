"""Spans as typed records: the sidecar's two span kinds, filled in as the request runs, rendered when ended.

A span here is not an SDK span with an attribute dict. It is a record of facts in plain slots
(``ServerSpan`` for the app's request, ``ClientSpan`` for one upstream call), which ``request`` sets
as the request goes on. Which attribute each fact becomes is decided only once the span has ended, by
one of two renderers kept in step by a test:

- ``otlp_encode.SpanEncoder``: OTLP protobuf bytes straight from the record, as the span ends (the
  OTLP/HTTP exporter's ``prepare``), byte for byte what the official encoder makes of the
  ``ReadableSpan``; the repeating part of a span is encoded once and reused;
- ``readable.to_readable``: an SDK ``ReadableSpan``, in the export thread (console and gRPC
  exporters) or at the end (the in-memory exporter of the tests).

So while the request runs the event loop does what tracing must (ids, clock reads, slot writes) and
nothing else: no attribute dicts, no span names, no ``SpanContext`` objects (``docs/observability.md``
has the instruction counts).

- ``Sampler``: the standard samplers (``OTEL_TRACES_SAMPLER``): ``always_on``, ``always_off``,
  ``traceidratio`` (the SDK's rule: low 64 bits of the trace id below ratio x 2^64) and their
  ``parentbased_*`` forms (the app's sampled flag decides).
- ``LiteTracer.start_server``: a ``ServerSpan``, or, not sampled, only the ``Propagated`` ids to pass
  the decision downstream (flag 00); ``ClientSpan(server, ...)`` is a child of a recorded server span
  (a sampled parent means a sampled child, whatever the sampler).
- ``record.end()``: the record goes to the tracer's sinks (``batch.BoundedBatchSpanProcessor``, or in
  tests ``tracing.ExportAtEnd``) and is never written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import getrandbits
from time import time_ns
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, TraceState

    from .genai import Usage

_LOW_64: Final = (1 << 64) - 1


class Sampler:
    """A standard sampler by name: ``[parentbased_](always_on|always_off|traceidratio)``."""

    __slots__ = ("_bound", "_parent_based")

    def __init__(self, name: str, ratio: float = 1.0) -> None:
        self._parent_based = name.startswith("parentbased_")
        root = name.removeprefix("parentbased_")
        if root == "always_on":
            self._bound = _LOW_64 + 1
        elif root == "always_off":
            self._bound = 0
        elif root == "traceidratio":
            self._bound = round(ratio * (_LOW_64 + 1))
        else:
            raise ValueError(f"unknown sampler {name!r}")

    @property
    def samples_every_root(self) -> bool:
        """Whether every span without a parent is sampled (``always_on``, alone or parent-based)."""
        return self._bound > _LOW_64

    def sampled(self, trace_id: bytes, parent: SpanContext | None) -> bool:
        """The decision for a span of trace ``trace_id`` (16 bytes, big-endian) under ``parent``."""
        if self._parent_based and parent is not None:
            return parent.trace_flags.sampled
        bound = self._bound
        if bound > _LOW_64 or not bound:  # always_on, always_off
            return bound != 0
        return int.from_bytes(trace_id[8:], "big") < bound


class Propagated(NamedTuple):
    """The trace context of a request that is not recorded: propagated downstream with flag 00."""

    trace_id: bytes
    span_id: bytes
    trace_state: TraceState | None


class SpanEvent(NamedTuple):
    name: str
    time_ns: int
    attributes: dict[str, str]


class SpanSink(Protocol):
    """Where ended records go: ``on_end`` must not block; ``shutdown`` may."""

    def on_end(self, record: SpanRecord) -> None: ...

    def shutdown(self) -> None: ...


class SpanRecord:
    """What both span kinds have: ids, times, the tracer (resource, scope, sinks), events.

    Ids are kept as the big-endian bytes OTLP carries (16 and 8): hex for logs and ``traceparent`` is
    one ``.hex()``, and the encoder copies them as they are.
    """

    __slots__ = ("end_ns", "events", "span_id", "start_ns", "trace_id", "trace_state", "tracer")

    # Set by each kind's __init__ (written out there: one call less per span on the request path).
    tracer: LiteTracer
    trace_id: bytes
    span_id: bytes
    trace_state: TraceState | None
    start_ns: int
    end_ns: int
    events: list[SpanEvent] | None

    @property
    def ended(self) -> bool:
        return self.end_ns != 0

    def add_event(self, name: str, attributes: dict[str, str]) -> None:
        if not self.end_ns:
            event = SpanEvent(name, time_ns(), attributes)
            if self.events is None:
                self.events = [event]
            else:
                self.events.append(event)

    def end(self) -> None:
        """Hand the record to the sinks; later calls do nothing, and the record is not written again."""
        if self.end_ns:
            return
        self.end_ns = time_ns()
        for sink in self.tracer.sinks:
            sink.on_end(self)


class ServerSpan(SpanRecord):
    """The app's request (SpanKind.SERVER), named ``"{method} {http_route}"``. See ``readable`` for
    the attribute each fact becomes."""

    __slots__ = (
        "attempts",
        "cache_hit",
        "cost_usd",
        "dialect",
        "error",
        "error_type",
        "fallback_reason",
        "http_route",
        "method",
        "outcome",
        "parent",
        "path",
        "rejected_reason",
        "request_stream",
        "requested_model",
        "route",
        "served_model",
        "status_code",
        "streamed",
        "targets",
    )

    def __init__(
        self,
        tracer: LiteTracer,
        trace_id: bytes,
        trace_state: TraceState | None,
        parent: SpanContext | None,
        method: str,
        http_route: str,
        path: str,
        dialect: str,
    ) -> None:
        self.tracer = tracer
        self.trace_id = trace_id
        self.span_id = (getrandbits(64) or 1).to_bytes(8, "big")
        self.trace_state = trace_state
        self.start_ns = time_ns()
        self.end_ns = 0
        self.events = None
        self.parent = parent  # the app's span (remote), or None for a root span
        self.method = method
        self.http_route = http_route
        self.path = path
        self.dialect = dialect
        self.requested_model: str | None = None
        self.request_stream = False
        self.targets: Sequence[str] | None = None
        self.rejected_reason: str | None = None
        self.cache_hit: bool | None = None
        self.status_code = 0
        self.outcome = ""
        self.attempts = 1
        self.streamed = False
        self.route = ""
        self.served_model: str | None = None
        self.fallback_reason: str | None = None
        self.error_type: str | None = None
        self.error = False  # status ERROR, described by error_type
        self.cost_usd: float | None = None


class ClientSpan(SpanRecord):
    """One upstream call (SpanKind.CLIENT), child of ``server``, named ``"{operation} {request_model}"``."""

    __slots__ = (
        "breaker_state",
        "content_truncated",
        "error_type",
        "finish_reasons",
        "input_messages",
        "operation",
        "output_messages",
        "provider_name",
        "request_model",
        "request_params",
        "resend_count",
        "response_id",
        "response_model",
        "server",
        "server_address",
        "server_port",
        "status_code",
        "stream",
        "target",
        "time_to_first_chunk",
        "usage",
    )

    def __init__(
        self,
        server: ServerSpan,
        operation: str,
        provider_name: str,
        request_model: str,
        server_address: str,
        server_port: int,
        target: str,
        breaker_state: str,
        resend_count: int,
        stream: bool,
        request_params: Any,
    ) -> None:
        self.tracer = server.tracer
        self.trace_id = server.trace_id
        self.span_id = (getrandbits(64) or 1).to_bytes(8, "big")
        self.trace_state = server.trace_state
        self.start_ns = time_ns()
        self.end_ns = 0
        self.events = None
        self.server = server
        self.operation = operation
        self.provider_name = provider_name
        self.request_model = request_model
        self.server_address = server_address
        self.server_port = server_port
        self.target = target
        self.breaker_state = breaker_state
        self.resend_count = resend_count
        self.stream = stream
        self.request_params = request_params  # a mapping or an object with RequestParams' field names
        self.input_messages: str | None = None
        self.status_code: int | None = None
        self.response_model: str | None = None
        self.finish_reasons: Sequence[str] | None = None
        self.response_id: str | None = None
        self.usage: Usage | None = None
        self.time_to_first_chunk: float | None = None
        self.output_messages: str | None = None
        self.content_truncated = False
        self.error_type: str | None = None  # also the status: ERROR, described by it


class LiteTracer:
    """Starts span records for one resource and instrumentation scope; ends them into ``sinks``."""

    def __init__(
        self,
        resource: Resource,
        scope: InstrumentationScope,
        sampler: Sampler,
        sinks: Sequence[SpanSink],
    ) -> None:
        self.resource = resource
        self.scope = scope
        self.sampler = sampler
        self._every_root = sampler.samples_every_root  # then a root span needs no sampler call
        self.sinks = tuple(sinks)

    def start_server(
        self, parent: SpanContext | None, method: str, http_route: str, path: str, dialect: str
    ) -> ServerSpan | Propagated:
        """A recorded SERVER span continuing ``parent`` (the app's), or the ids to propagate unsampled."""
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id.to_bytes(16, "big")
            state = parent.trace_state or None
            sampled = self.sampler.sampled(trace_id, parent)
        else:
            parent = state = None
            trace_id = (getrandbits(128) or 1).to_bytes(16, "big")
            sampled = self._every_root or self.sampler.sampled(trace_id, None)
        if not sampled:
            return Propagated(trace_id, (getrandbits(64) or 1).to_bytes(8, "big"), state)
        return ServerSpan(self, trace_id, state, parent, method, http_route, path, dialect)

    def shutdown(self) -> None:
        for sink in self.sinks:
            sink.shutdown()
