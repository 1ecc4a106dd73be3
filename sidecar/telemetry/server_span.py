"""``ServerSpan``: a recorded request's SERVER span until it ends, when the SDK makes it, as a CLIENT span
is made when its call ends (``attempt``).

What a request needs of its SERVER span while it runs is its context (the ids its CLIENT spans'
``traceparent`` carries, their parent, the ids its log lines carry) and a place for what it learns
(attributes, events, status). ``ServerSpan`` is an OpenTelemetry API ``Span`` that holds them: its
``SpanContext`` is the one ``Tracer.start_span`` gives the span it makes at the end (the ids drawn at the
start, the trace id too for a new trace, which the provider's ``DecidedIdGenerator`` hands to that
``start_span``; the sampled and random-trace-id flags as ``start_span`` sets them; the parent's trace
state, which the SDK's samplers pass on), and ``end`` makes the SDK's span in one ``start_span`` with
every attribute and the start time, gives it the events and status it holds, with their times, and ends
it. One ``start_span`` with every attribute costs the SDK about 61,000 CPU instructions less than a span
started with some and given the others when it ends (``set_attributes`` cleans and locks them one by one;
docs/benchmarks.md, "Wave 45 `trace46`"), and nothing of the SDK's span work is left before the answer.

``Tracing`` makes one only where the sampler is one of the SDK's that ``Tracing.new`` builds and it keeps
the span: those decide on the trace id and the parent alone, so the ``start_span`` at the end, which asks
the sampler again (with every attribute), records it too; a span that a sampler then dropped would make a
non-recording span, exported by no one. Event attributes are copied when they are given (a caller may
reuse its dict); their values are read at the end, as the span's attributes are.

What the object costs beside the SDK's one ``start_span`` (docs/benchmarks.md, "Wave 46 `trace47`"): about
14,000 CPU instructions a span (16,000 before wave 46), its ``SpanContext`` some 4,700 of them (the SDK makes
its own in ``start_span`` and takes none from its caller; this one is the CLIENT spans' parent and the log
lines' ids), the object and its calls the rest. It takes the attribute dict it is given (the facade's, made
for it) as ``held_attributes``, into which the request's trace (``request.RequestTrace``) writes what it learns
and which it hands back at the end (no second dict, no update: about 2,200 instructions less a sampled request,
docs/benchmarks.md "Wave 47 `trace48`"), and makes the list of what it keeps for later only when something is
kept. Its ``SpanContext`` made by ``tuple.__new__`` on the tuple the SDK's constructor builds would cost some
2,800 instructions less; that is not the SDK's public API, and is not done.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from .propagation import ROOT

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer
    from opentelemetry.util import types

    from .tracing import DecidedIdGenerator


class ServerSpan(Span):
    """A recorded span made by the SDK when it ends (module docstring): the SERVER span of a request."""

    __slots__ = ("_context", "_ids", "_later", "_name", "_parent", "_start", "_tracer", "held_attributes")

    def __init__(
        self,
        tracer: Tracer,
        ids: DecidedIdGenerator,
        name: str,
        parent: Context,
        trace_id: int,
        random_trace_id: bool,
        trace_state: TraceState | None,
        attributes: dict[str, Any],
    ) -> None:
        """The span the sampler records on ``trace_id``, to be made by ``tracer.start_span(name, parent,
        SpanKind.SERVER, ...)`` at its end: its span id drawn now (the SDK's draw), its context the one
        ``Tracer.start_span`` gives a recorded span (not remote; sampled, and the random-trace-id flag where
        the id generator, or the parent, says the trace id is random; ``trace_state``, the sampler's: the
        parent's). ``parent``: the app's (its trace id is ``trace_id``) or ``ROOT`` (a new trace:
        ``trace_id`` is handed to the id generator at the end). ``attributes`` becomes the span's (not
        copied: what is set on this span is set in it)."""
        flags = _SAMPLED_RANDOM if random_trace_id else _SAMPLED
        self._context = SpanContext(trace_id, _random_span_id(ids), False, flags, trace_state)
        self._tracer = tracer
        self._ids = ids
        self._name = name
        self._parent = parent
        self.held_attributes = attributes  # the request's trace writes what it learns straight in
        self._start = time_ns()
        # events, exceptions, status as (Span method, arguments): a list from the first on; None once ended
        self._later: list[tuple[str, tuple[Any, ...]]] | tuple[()] | None = ()

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._later is not None

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        held = self.held_attributes
        if attributes is not held:  # the request's end hands the held dict itself (``request_end``)
            held.update(attributes)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self.held_attributes[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        self._do_later("add_event", (name, dict(attributes or {}), timestamp or time_ns()))

    def update_name(self, name: str) -> None:
        self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._do_later("set_status", (status, description))

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        attributes = None if attributes is None else dict(attributes)
        self._do_later("record_exception", (exception, attributes, timestamp or time_ns(), escaped))

    def _do_later(self, method: str, arguments: tuple[Any, ...]) -> None:
        """Keep a call of ``method`` for the SDK's span, made at the end (none once ended, as the SDK's)."""
        later = self._later
        if later:
            later.append((method, arguments))
        elif later is not None:
            self._later = [(method, arguments)]

    def end(self, end_time: int | None = None) -> None:
        """Make the SDK's span with what this one holds, on its ids, and end it (at ``end_time``, else now)."""
        later = self._later
        if later is None:
            return
        self._later = None
        ids, context = self._ids, self._context
        if self._parent is ROOT:  # a new trace, whose id start_span draws
            ids.decided = context.trace_id
        ids.decided_span = context.span_id
        span = self._tracer.start_span(self._name, self._parent, _SERVER, self.held_attributes, start_time=self._start)
        for method, arguments in later:
            getattr(span, method)(*arguments)
        span.end(end_time)


_SERVER = SpanKind.SERVER
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_random_span_id = RandomIdGenerator.generate_span_id  # the SDK's draw, never the decided one
