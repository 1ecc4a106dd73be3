"""Per-request telemetry: ``RequestTrace`` (the app's request, a SERVER span) and the ``AttemptTrace``s
it starts (``attempt``: one upstream call, a CLIENT span, child of it). Spans are the OpenTelemetry SDK's.

Lifecycle, as the pipeline calls it::

    trace = telemetry.start_request(...)        # SERVER span continues the app's traceparent; in-flight +1
    with trace:                                 # optional: its span is the current one (log lines carry its ids)
        trace.request_parsed(...)               # optional: requested model and stream flag, once known
        trace.route_decided(...) | trace.rejected(...)
        attempt = trace.attempt(...)            # CLIENT span "{operation} {model}"
        attempt.inject(upstream_headers)
        attempt.first_chunk(); attempt.chunk()  # streams
        attempt.finish(...)                     # GenAI metrics; ends the CLIENT span (keep=True: at trace.finish)
        trace.forwarded(...)                    # a passthrough's call: a CLIENT span alone, made at its end
        trace.skipped(...) / trace.fallback(...) / trace.cache_result(...)
        branch = trace.branch(...)              # INTERNAL span (an ensemble member): its own attempts
        branch.end_branch(...)                  #   and events below it; no request metrics
    trace.finish(...)                           # request metrics; ends the SERVER span; in-flight -1

Both ``finish`` methods are idempotent; ``RequestTrace.finish`` also ends any attempt left open.
``span`` is the recording span (the SDK's; a SERVER span a ``ServerSpan``), or None when tracing is off
(no exporter) or the sampler dropped the request; then only the metrics are touched, and an unsampled
request still passes its trace context upstream (flag 00). Facts come only from the explicit arguments;
no header but ``traceparent`` and ``tracestate`` is ever read.

What it costs where (docs/observability.md, "Cost"): the work that must precede the upstream call is
done at once (the sampling decision and the SERVER span's ids; drawing the CLIENT span's id, which goes
upstream in ``traceparent``). The rest is kept off the answer's way:

- The SERVER span is made when the request ends (``server_span.ServerSpan``, where the sampler is one the
  configuration names: ``Tracing.new``), in one ``start_span`` with every attribute, its start time, its
  events and status; until then the request holds its context (the ids drawn at the start) and what it
  learns. Attributes learnt during the request (``request_parsed``, ``route_decided``, ``rejected``,
  ``cache_result``) are kept here and given with those known at the end, in one ``set_attributes`` call
  (``request_end``). A CLIENT span is made when its call ends, in one ``start_span`` with all its
  attributes and its start time (``attempt`` module).
- Both ``finish`` methods of a recorded trace take their timings at once (durations, the span's end
  time) and leave the rest, metric updates and making and ending the spans (the request's: ``request_end``;
  a CLIENT span kept until the answer, ``AttemptTrace.release``, before it), to ``core.HeldWork``: with an
  event loop running, until the next upstream call has been sent where spans are exported in batches (as
  configured), else until the loop's current step is over; either way after the answer is written
  (``core`` says why, and why a trace without a span does its few metric updates at once). Without a
  running loop (tests, scripts) it is done at once. ``attempt`` tells ``core.HeldWork`` a call starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from . import attributes as attr
from . import genai
from .attempt import AttemptTrace, ClientSpan
from .core import Core
from .propagation import child_headers, inject
from .request_end import record_end
from .routing_calls import RoutingCalls

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from .genai import Tokens

# The sidecar's operation names -> gen_ai.operation.name (the Responses API is a chat operation).
_OPERATIONS: Final = {"responses": "chat"}


class RequestTrace(RoutingCalls):
    """Telemetry of one proxied request. ``trace_id``/``span_id`` are hex, ``""`` when not recorded."""

    __slots__ = (
        "_attempts",
        "_context",
        "_core",
        "_done",
        "_operation",
        "_passed_on",
        "_pending",
        "_route",
        "_started",
        "_stream",
        "_token",
        "span",
        "span_id",
        "trace_id",
    )

    def __init__(
        self,
        core: Core,
        span: Span | None,
        operation: str,
        stream: bool,
        passed_on: Mapping[str, str] | None,
        *,
        context: Context | None = None,
    ) -> None:
        """``span``: the SERVER span as started (recording or not), None when tracing is off or no span
        was made; then ``passed_on``: the trace context headers every upstream call carries (the app's
        as they came, or those of a new trace the sampler dropped: ``Tracing.start_root``), or
        ``context``: the unrecorded context to propagate (a branch of an unrecorded request).
        ``passed_on`` is given by position by every caller (None too): a keyword costs a sampled-out
        request about 1,000 CPU instructions, a default filled in about 300 (valgrind, Python 3.11)."""
        self._core = core
        # The context of the SERVER span: parent of the CLIENT spans, the ids propagated when unsampled.
        self._context: Context | None = context
        self._passed_on = passed_on
        self.span: Span | None = None  # a plain attribute: the pipeline reads it per attempt
        self.trace_id = self.span_id = ""
        self._pending: dict[str, Any] = {}  # SERVER span attributes learnt, set with ``finish``'s (recorded only)
        if span is not None:
            self._context = set_span_in_context(span)
            if span.is_recording():
                self.span = span
                ids = span.get_span_context()
                # the hex of format(id, "032x") / "016x", at half its cost
                self.trace_id, self.span_id = ids.trace_id.to_bytes(16).hex(), ids.span_id.to_bytes(8).hex()
                try:  # a ``ServerSpan``'s own dict, handed to ``start_span`` at its end: written straight in
                    self._pending = span.held_attributes  # type: ignore[attr-defined]
                except AttributeError:  # a span the SDK started at once: given them at the end
                    self._pending = {}
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
        if self.span is not None:
            if requested_model:
                self._pending[attr.REQUESTED_MODEL] = requested_model
            if stream:
                self._pending[attr.REQUESTED_STREAM] = True

    def route_decided(self, *, route: str, targets: Sequence[str]) -> None:
        self._route = route
        if self.span is not None:
            self._pending[attr.ROUTE] = route
            # A list, even of the compiled route's tuple: the SDK copies any sequence into a tuple, and its
            # isinstance(value, Sequence) is some 2,000 CPU instructions quicker on a list (``abc`` caches
            # the list's answer, never a tuple's: tuple is registered with Sequence itself).
            self._pending[attr.ROUTE_TARGETS] = list(targets)

    def rejected(self, *, status: int, reason: str) -> None:
        """Refused before any upstream call (bad JSON, no route, denied, body too large, ...)."""
        self._core.instruments.rejections.inc((reason,))
        if self.span is not None:
            self._pending[attr.REJECTED_REASON] = reason
            self._pending[genai.HTTP_STATUS_CODE] = status

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
        """Start one upstream call: a CLIENT span ``"{operation} {request_model}"``, child of the request.

        Only what must precede the upstream call is done now: the CLIENT span's id is drawn and its
        ``traceparent`` made (``propagation.child_headers``), and the attributes known now are kept by the
        ``AttemptTrace``, which makes the span when the call ends, with those of its ``finish`` and the
        call's start time (request parameters turned into attributes there too)."""
        held = self._core.held
        if held.work:  # what finished traces left runs once this call is sent (``core.HeldWork``)
            held.upstream_call()
        parent = self._context  # unsampled: the request's context, propagated with flag 00
        ids = self._core.ids
        if self.span is None or parent is None or ids is None:
            labels = (self._operation, provider_name, request_model)
            attempt = AttemptTrace(self._core, None, parent, target, labels, None, None, self._passed_on)
            self._attempts.append(attempt)
            return attempt
        known: dict[str, Any] = {
            genai.OPERATION_NAME: self._operation,
            genai.PROVIDER_NAME: provider_name,
            genai.REQUEST_MODEL: request_model,
            genai.SERVER_ADDRESS: server_address,
            genai.SERVER_PORT: server_port,
            attr.TARGET: target,
            attr.BREAKER_STATE: breaker_state,
        }
        if resend_count:
            known[genai.HTTP_RESEND_COUNT] = resend_count
        if self._stream:
            known[genai.REQUEST_STREAM] = True
        encoded = self._core.capture.encode(input_messages)  # now: the caller may reuse its objects
        if encoded is not None:
            known[genai.INPUT_MESSAGES] = encoded[0]
            if encoded[1]:
                known[attr.CONTENT_TRUNCATED] = True
        client = ClientSpan(f"{self._operation} {request_model}", parent, ids.generate_span_id(), time_ns())
        attempt = AttemptTrace(
            self._core,
            client,
            None,
            target,
            (self._operation, provider_name, request_model),
            known,
            request_params,
            child_headers(self.span.get_span_context(), client.span_id, self.trace_id),
        )
        self._attempts.append(attempt)
        return attempt

    def forwarding(self) -> tuple[int, Mapping[str, str] | None]:
        """A passthrough's call about to be made (``server.forward``): the id drawn for its CLIENT span (0
        when the request is not recorded) and the W3C headers it carries upstream in place of the app's, as
        an attempt's would (``AttemptTrace.inject``): the CLIENT span's ``traceparent``; unrecorded, the
        request's context or ``passed_on``. None (``OTEL_PROPAGATORS`` without ``tracecontext``): the app's
        pass as they came, with the rest of its headers."""
        core = self._core
        if not core.trace_context:
            return 0, None
        ids, span = core.ids, self.span
        if span is not None and ids is not None:
            span_id = ids.generate_span_id()
            return span_id, child_headers(span.get_span_context(), span_id, self.trace_id)
        if self._context is not None:
            carrier: dict[str, str] = {}
            inject(self._context, carrier)
            return 0, carrier
        return 0, self._passed_on

    def forwarded(
        self, name: str, attributes: dict[str, Any], start_ns: int, error_type: str | None, span_id: int
    ) -> None:
        """A passthrough's call to its provider (``server.forward``), ended now: a CLIENT span ``name``,
        child of the request's, from ``start_ns`` with ``attributes`` (and ``error.type``, status ERROR,
        for a failure), its id ``span_id`` (``forwarding``'s, sent upstream); no GenAI metric (it is no
        inference call). Nothing when the request is not recorded."""
        tracer, ids = self._core.tracer, self._core.ids
        if self.span is None or tracer is None:
            return
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
        if span_id and ids is not None:
            ids.decided_span = span_id
        span = tracer.start_span(name, self._context, SpanKind.CLIENT, attributes, start_time=start_ns)
        if error_type:
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.end()

    def skipped(self, *, target: str, reason: str) -> None:
        """A target passed over without a call (breaker open, rate limited, bulkhead full, ...)."""
        self._core.instruments.skips.inc((target, reason))
        if self.span is not None:
            self.span.add_event(attr.TARGET_SKIPPED, {attr.TARGET: target, attr.SKIP_REASON: reason})

    def waited_for_slot(self, *, target: str, seconds: float, outcome: str) -> None:
        """A call queued for a slot of ``target``'s full bulkhead for ``seconds``, and how the wait ended
        (``outcome``: ``slot``, ``timeout``, ``cancelled``): ``llm_sidecar_bulkhead_wait_seconds``. One
        that got a slot is also the SERVER span's event (its CLIENT span starts with the slot: the wait
        shows here); one that got none is a skip (``skipped``)."""
        self._core.instruments.bulkhead_wait.observe((target, outcome), seconds)
        if outcome == "slot" and self.span is not None:
            self.span.add_event(attr.BULKHEAD_WAITED, {attr.TARGET: target, attr.BULKHEAD_WAIT_S: round(seconds, 6)})

    def fallback(self, *, from_target: str, reason: str) -> None:
        """Moving on from ``from_target`` to the next target of the chain."""
        self._core.instruments.fallbacks.inc((reason,))
        if self.span is not None:
            self.span.add_event(attr.FALLBACK, {attr.TARGET: from_target, attr.FALLBACK_REASON: reason})

    def budget_decided(self, *, verdict: str, limit: str, attributes: Mapping[str, Any] | None) -> None:
        """A budget limit acted (``verdict``: deny, downgrade, warn, unavailable): counted; with
        ``attributes``, the ``sidecar.budget`` span event."""
        self._core.instruments.budget_decisions.inc((limit, verdict))
        if self.span is not None and attributes:
            self.span.add_event("sidecar.budget", attributes)

    def cache_result(self, *, result: str, reason: str | None = None) -> None:
        """The response cache's say: ``hit``, ``miss``, ``refresh`` (the app asked for a new answer),
        ``stale`` (the last resort) or ``bypass`` (``reason``: not cacheable, or the app's directive)."""
        self._core.instruments.cache.inc((result,))
        span = self.span
        if span is not None:
            self._pending[attr.CACHE_HIT] = result in ("hit", "stale")
            event = {attr.CACHE_RESULT: result}
            if reason is not None:
                event[attr.CACHE_REASON] = reason
            span.add_event(attr.CACHE, event)

    def branch(self, role: str, name: str) -> RequestTrace:
        """A part of this request that makes calls of its own (an ensemble member, its judge): an INTERNAL
        span ``"{role} {name}"``, child of this one, parent of the CLIENT spans of its calls. Its
        ``attempt``, ``skipped`` and ``fallback`` work as this trace's; end it with ``end_branch``, never
        ``finish`` (the request's metrics are this trace's)."""
        tracer = self._core.tracer
        if self.span is None or tracer is None:  # unrecorded: its calls carry the request's context
            return RequestTrace(self._core, None, self._operation, self._stream, self._passed_on, context=self._context)
        attributes = {attr.BRANCH: role, attr.BRANCH_NAME: name}
        span = tracer.start_span(f"{role} {name}", self._context, SpanKind.INTERNAL, attributes)
        return RequestTrace(self._core, span, self._operation, self._stream, None)

    def end_branch(self, result: str) -> None:
        """End a ``branch``: its attempts left open, then its span, with ``sidecar.branch.result``."""
        if self._done:
            return
        self._done = True
        for attempt in self._attempts:
            if not attempt.done:
                attempt.finish(status=None, error_type="unfinished")
        if self.span is not None:
            self.span.set_attribute(attr.BRANCH_RESULT, result)
            self.span.end()

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
        usage: Tokens | None,
        cost_usd: float | None,
        error_type: str | None,
        streamed: bool,
    ) -> None:
        """End the request: its duration and end time now; its metrics and the end of its SERVER span, if
        recorded, once the answer is written (``core.HeldWork``). Later calls do nothing; attempts left open
        end first, and the telemetry of those that kept it (``AttemptTrace.finish(keep=True)``) is
        recorded first."""
        if self._done:
            return
        self._done = True
        elapsed = perf_counter() - self._started
        end = time_ns() if self.span is not None else None
        for attempt in self._attempts:
            if not attempt.done:  # a call cut by the request's end (those that ended are not called again)
                attempt.finish(status=None, error_type="unfinished")
            elif attempt.kept is not None:  # an answered call's telemetry, kept until the answer was out
                if end is not None and self._core.held.batched:  # held with the SERVER span, before it
                    self._core.held.hold(attempt.release)
                else:
                    attempt.release()
        record = (
            self._core,
            self.span,
            self._pending,
            status,
            outcome,
            route or self._route,
            served_model,
            attempts,
            fallback_reason,
            usage,
            cost_usd,
            error_type,
            streamed,
            elapsed,
            end,
        )
        if end is None:
            record_end(*record)  # metric updates only: cheaper now than a loop callback (``core``)
        else:
            self._core.held.hold(record_end, *record)
