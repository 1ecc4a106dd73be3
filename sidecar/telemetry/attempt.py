"""``AttemptTrace``: the telemetry of one upstream call, started by ``RequestTrace.attempt``: a CLIENT span
(child of the request's SERVER span, when recorded), the ``traceparent`` sent upstream, and the GenAI
client metrics (duration, token usage, time to first chunk and per chunk of a stream). ``finish`` ends
it as ``RequestTrace.finish`` does its request: timings now, the rest through ``core.HeldWork``; or, for
a successful call it is told to ``keep``, when its request finishes (``release``: after the answer).

A recorded call's CLIENT span is made by that rest, at once with every attribute, its start time
(taken when the call started) and its end time: one ``start_span`` with all the attributes costs the
SDK less than a span started with some and given the others when it ends (one attribute validation
and one ``set_attributes`` less), and nothing before the upstream call needs the span object. What
does need it is its id, in the ``traceparent`` sent upstream: ``ClientSpan`` holds the id drawn at the
start from the provider's ``DecidedIdGenerator``, which hands it to that ``start_span``
(``propagation.child_headers`` says why the span is the same).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

from . import attributes as attr
from . import genai
from .held_series import CallSeries
from .propagation import inject

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from .core import Core
    from .genai import Tokens
    from .metrics import Series


class ClientSpan(NamedTuple):
    """The CLIENT span of a recorded call, until it is made: its name, the parent's context, the span id
    drawn for it (sent upstream) and its start time (ns since the epoch)."""

    name: str
    parent: Context
    span_id: int
    start_ns: int


@dataclass(slots=True)
class FinishedCall:
    """What ``AttemptTrace.finish`` was told of a call, and its duration and end: what its metrics and
    CLIENT span are made of, now, later (``core.HeldWork``), or when its request finishes
    (``keep``). A slotted dataclass, not a tuple: made for about the same instructions, and ``usage``,
    when the server reads it after the answer is out, is set in place (``AttemptTrace.kept_usage``)."""

    status: int | None
    error_type: str | None
    response_model: str | None
    response_id: str | None
    finish_reasons: Sequence[str] | None
    usage: Tokens | None
    encoded: tuple[str, bool] | None  # the output messages captured on the span (recorded calls), and cut
    elapsed: float  # seconds from the call's start to ``finish``
    end: int | None  # the CLIENT span's end, ns since the epoch (recorded calls)


class AttemptTrace:
    """Telemetry of one upstream call; ``finish`` records the GenAI client metrics."""

    __slots__ = (
        "_chunks",
        "_client",
        "_context",
        "_core",
        "_first",
        "_known",
        "_labels",
        "_last",
        "_params",
        "_passed_on",
        "_started",
        "_target",
        "_token",
        "done",
        "kept",
        "span",
    )

    def __init__(
        self,
        core: Core,
        client: ClientSpan | None,
        context: Context | None,
        target: str,
        labels: tuple[str, str, str],
        known: dict[str, Any] | None = None,
        params: Mapping[str, Any] | object | None = None,
        passed_on: Mapping[str, str] | None = None,
    ) -> None:
        """``client``: the CLIENT span to make when the call ends (a recorded request), with ``known``, the
        attributes known at the start, and the ``gen_ai.request.*`` ones of ``params`` (a mapping or an
        object with ``RequestParams``' fields). ``passed_on``: the trace context headers to send
        upstream as they are (the CLIENT span's; or an unrecorded request continuing an app trace, or a
        new trace the sampler dropped); else ``context``, the unrecorded request's, is propagated."""
        self._core = core
        self._client = client
        self.span: Span | None = None  # the CLIENT span, once made (recorded requests, when they end)
        self._known = known
        self._params = params
        self._context = context  # what ``inject`` propagates: this span's, or the unsampled request's
        self._passed_on = passed_on
        self._target = target
        self._labels = labels  # (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model)
        self._started = perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._chunks: Series | None = None
        self.done = False  # ``finish`` has run: the request's end finishes only the attempts left open
        self.kept: FinishedCall | None = None  # a successful call's, kept for ``release`` (``finish``)

    def __enter__(self) -> None:
        """``with attempt:`` makes the CLIENT span's context (the ids it will have) the current one while
        the block runs; nothing when the request is not recorded."""
        client = self._client
        if client is not None:
            parent = otel_trace.get_current_span(client.parent).get_span_context()
            context = SpanContext(parent.trace_id, client.span_id, False, parent.trace_flags, parent.trace_state)
            current = otel_trace.set_span_in_context(NonRecordingSpan(context), client.parent)
            self._token = otel_context.attach(current)

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            otel_context.detach(self._token)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the W3C ``traceparent`` of this call (flag 00 if unsampled) into the upstream headers, and
        the ``tracestate`` of its trace if it has one, in place of the app's (nothing when
        ``OTEL_PROPAGATORS`` leaves ``tracecontext`` out). The app's ``tracestate`` never goes on beside
        another trace's ``traceparent``: with a ``traceparent`` not valid the call is a new trace, and a
        ``tracestate`` the SDK refused (out of the W3C format, over 32 entries) is left out (W3C Trace
        Context: a new trace drops it; an entry list that cannot be parsed is not passed on)."""
        if not self._core.trace_context:
            return
        headers.pop("tracestate", None)  # the forwarded app's (lower-case names): the context's own, if any
        if self._context is not None:
            inject(self._context, headers)
        elif self._passed_on is not None:
            headers.update(self._passed_on)

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
        usage: Tokens | None = None,
        output_messages: Any = None,
        keep: bool = False,
    ) -> None:
        """End the call: its duration and end time now; its GenAI metrics and the end of its CLIENT span, if
        recorded, later (``core.HeldWork``: after the answer). Later calls do nothing.

        ``keep``: a successful call (no ``error_type``) of a request whose answer goes out before its
        telemetry (the server's own requests): its metrics and span are left to ``release``, which the
        request's ``finish`` calls, once that answer is written."""
        if self.done:
            return
        self.done = True
        elapsed = perf_counter() - self._started
        end = None
        encoded = None
        if self._client is not None:
            end = time_ns()
            encoded = self._core.capture.encode(output_messages)  # now: the caller may reuse its objects
        call = FinishedCall(
            status, error_type, response_model, response_id, finish_reasons, usage, encoded, elapsed, end
        )
        if keep and error_type is None:
            self.kept = call
        elif end is None:
            self._record(call)  # metric updates only: cheaper now than a loop callback (``core``)
        else:
            self._core.held.hold(self._record, call)

    def kept_usage(self, usage: Tokens | None) -> None:
        """The usage of a call whose telemetry is kept (``finish(keep=True)``), read after it finished (the
        server reads an answer's usage after the answer is out when nothing needs it before)."""
        kept = self.kept
        if kept is not None:
            kept.usage = usage

    def release(self) -> None:
        """Record what ``finish(keep=True)`` kept (its timings those of the call's end)."""
        kept = self.kept
        if kept is not None:
            self.kept = None
            self._record(kept)

    def _record(self, call: FinishedCall) -> None:
        error_type, response_model, usage = call.error_type, call.response_model, call.usage
        self._record_metrics(
            error_type, self._core.instruments.response_models(response_model or ""), usage, call.elapsed
        )
        client, tracer, ids = self._client, self._core.tracer, self._core.ids
        if client is None or tracer is None or ids is None:
            return
        attributes = self._span_attributes(call.status, response_model, call.response_id, call.finish_reasons, usage)
        encoded = call.encoded
        if encoded is not None:
            attributes[genai.OUTPUT_MESSAGES] = encoded[0]
            if encoded[1]:
                attributes[attr.CONTENT_TRUNCATED] = True
        if error_type:
            attributes[genai.ERROR_TYPE] = error_type
        ids.decided_span = client.span_id
        span = self.span = tracer.start_span(
            client.name, client.parent, SpanKind.CLIENT, attributes, start_time=client.start_ns
        )
        if error_type:
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.end(call.end)

    def _record_metrics(
        self, error_type: str | None, response_label: str, usage: Tokens | None, elapsed: float
    ) -> None:
        """The call's GenAI client metrics (duration, tokens) and the sidecar's attempt and error counts,
        through the series held for its kind (``held_series``)."""
        ins = self._core.instruments
        key = (self._target, self._labels, response_label, error_type or "")
        series = ins.call_series.get(key)
        if series is None:
            series = ins.call_series[key] = CallSeries(ins, *key)
        series.record(usage, elapsed)

    def _span_attributes(
        self,
        status: int | None,
        response_model: str | None,
        response_id: str | None,
        finish_reasons: Sequence[str] | None,
        usage: Tokens | None,
    ) -> dict[str, Any]:
        """The CLIENT span's attributes known at the start, with the request's parameters and what the
        answer said (status, model, id, finish reasons, usage, time to first chunk)."""
        attributes = self._known if self._known is not None else {}
        if self._params is not None:
            genai.request_param_attributes(self._params, attributes)
        if status is not None:
            attributes[genai.HTTP_STATUS_CODE] = status
        if response_model:
            attributes[genai.RESPONSE_MODEL] = response_model
        if response_id:
            attributes[genai.RESPONSE_ID] = response_id
        if finish_reasons:
            attributes[genai.RESPONSE_FINISH_REASONS] = list(finish_reasons)
        if usage is not None:
            genai.usage_attributes(usage, attributes)
        if self._first is not None:
            attributes[genai.RESPONSE_TIME_TO_FIRST_CHUNK] = self._first - self._started
        return attributes
