"""W3C trace context in and out of a request, and the current ids for logs: the OpenTelemetry API only.

Every request uses these, traced or not; the SDK's tracing (``tracing``) is loaded only when a trace
exporter is configured.

- ``extract_parent(headers)``: the app's W3C trace context (``traceparent`` and ``tracestate``, read by
  the SDK's ``TraceContextTextMapPropagator``; no other header is ever read). ``inject`` writes a span's.
  The propagator reads the headers through ``HEADER_TEXT``, a ``Getter`` for a mapping of header names
  to their text (a ``dict``, aiohttp's headers): the API's default getter also takes a value that is a
  list of texts, which it asks ``isinstance(value, Iterable)`` of each time (about 1,800 CPU
  instructions of the 40,000 an extraction costs).
- ``dropped_with_app(tracing, parent, headers, ...)``: whether a request continuing an app trace that
  is not sampled (flag 00, ``unsampled_app``) is not sampled here either, asked of the configured
  sampler before any span is made. Such a request needs none: it passes the app's
  ``traceparent``/``tracestate`` upstream as they came (``app_headers``), as W3C Trace Context lets a
  participant that records nothing do (the SDK would make a non-recording span with a span id of its
  own, at some 35,000 CPU instructions, and its propagator would write the same ``traceparent``
  again). Where the sampler is a ``parentbased_`` one (``Tracing.follows_app``), which drops every span
  of an unsampled remote parent, the facade reads the app's context with ``app_trace`` alone and takes its
  answer for an unsampled one without asking the sampler or making the span's name and attributes. A request
  without a valid ``traceparent`` (``extract_parent`` gives ``ROOT`` itself) is a new trace, decided by
  ``Tracing.dropped_root`` and ``Tracing.start_root``.
- ``app_trace(headers, traceparent)``: for a ``parentbased_`` sampler, the app's ``traceparent`` read by the SDK
  propagator's own rules (its pattern and length bounds, as the sidecar's own constants that the corpus test
  holds to the propagator's answers, not its private class attributes; and its checks: ids not all zero, version
  not ``ff``, both made by the pattern as it reads the text, not on the fields cut out of it; nothing after a
  version 00's flags; then the sampled flag). The facade hands it the header's text
  it read (one lookup of the request's headers, not two). For a valid one that is not sampled, ``app_headers``'
  answer, without the ``SpanContext``, the non-recording span and the ``Context`` the propagator builds and
  ``unsampled_app`` reads back (about 38,600 CPU instructions of the 50,000 such a request added,
  docs/benchmarks.md "Wave 44 `trace45`"): only what passing the app's context on needs. For a valid sampled
  one, the parent context the propagator gives (it reads the header again: building that context is the SDK's,
  left to it, for some 15,000 instructions on a request whose spans cost some 500,000). ``ROOT`` for one that is
  not valid (a new trace). The ``tracestate`` is the SDK's (``TraceState.from_header``, as the propagator reads
  it); one longer than the propagator's bound, which the SDK logs and leaves out, goes the propagator's way.
  ``unsampled_app_headers`` gives its answer for an unsampled one (an empty dict for one not valid, None for a
  sampled one). Tests hold both equal to the propagator's over a corpus of valid and invalid headers.
- ``child_headers(parent, span_id, trace_hex)``: the ``traceparent`` (and ``tracestate``) the SDK's propagator
  would write for a span ``Tracer.start_span`` makes under the recorded span context ``parent`` with
  that span id. ``RequestTrace.attempt`` sends it upstream before the CLIENT span exists: the span is
  made when the call ends, with every attribute at once and the call's start time, on the span id drawn
  at the start (``DecidedIdGenerator.decided_span``). That is the same span for the samplers
  ``Tracing.new`` builds, which record every child of a recorded span (``ParentBased`` and
  ``ALWAYS_ON`` at once, ``TraceIdRatioBased`` on the same trace id), keeping the parent's trace state;
  a test holds the text equal to the SDK's for each of them.
- ``current_trace_ids()``: hex ids of the current OTel span (a request's, inside ``with trace:``);
  ``("", "")`` when there is none or it is not sampled. The log processor uses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

    from .tracing import Tracing

INSTRUMENTATION: Final = "llm-sidecar"
PROPAGATOR: Final = TraceContextTextMapPropagator()
ROOT: Final = Context()  # the parent context of a request without a valid traceparent: a new trace


class _HeaderText(Getter[Mapping[str, str]]):
    """The propagator's reader of request headers: a header's text as the one value the W3C fields have."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


HEADER_TEXT: Final = _HeaderText()


def current_trace_ids() -> tuple[str, str]:
    """(trace id, span id) in hex of the current span, or ``("", "")`` if none or not sampled."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def extract_parent(headers: Mapping[str, str]) -> Context:
    """The app's span context (remote parent) from its ``traceparent``/``tracestate``; ``ROOT`` if none
    or invalid."""
    if "traceparent" not in headers:
        return ROOT
    return PROPAGATOR.extract(headers, ROOT, getter=HEADER_TEXT)  # the context given when it is not valid


def unsampled_app(parent: Context) -> SpanContext | None:
    """The app's span context in ``parent`` if it is valid and marked not sampled (flag 00), else None."""
    app = trace.get_current_span(parent).get_span_context()
    if not app.is_valid or app.trace_flags.sampled:
        return None
    return app


def dropped_with_app(
    tracing: Tracing, parent: Context, headers: Mapping[str, str], name: str, kind: SpanKind, attributes: Attributes
) -> dict[str, str] | None:
    """If ``parent`` (read from ``headers``) is a valid app span context marked not sampled and
    ``tracing``'s sampler, asked as ``Tracer.start_span`` would ask it, does not record the span either:
    the headers to pass upstream (``app_headers``). Else None."""
    app = unsampled_app(parent)
    if app is None:
        return None
    result = tracing.sampler.should_sample(parent, app.trace_id, name, kind, attributes)
    if result.decision.is_recording():  # type: ignore[no-untyped-call]
        return None
    return app_headers(app, parent, headers)


def app_headers(app: SpanContext, parent: Context, headers: Mapping[str, str]) -> dict[str, str]:
    """What a request continuing the app's unsampled span context ``app`` (``parent``, read from ``headers``)
    passes upstream when it records nothing: the app's ``traceparent`` as it came (version 00, the one
    the SDK writes: the same text it would write) and the ``tracestate`` the SDK read."""
    traceparent = headers["traceparent"].strip()
    if not traceparent.startswith("00-"):  # a later version, with fields the SDK leaves out: as it writes it
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier, parent)
        return carrier
    carrier = {"traceparent": traceparent}
    if app.trace_state:
        carrier["tracestate"] = app.trace_state.to_header()
    return carrier


# The SDK propagator's rules for a traceparent (``TraceContextTextMapPropagator.extract``, 1.45): its pattern
# (its groups: version, trace id, span id, flags, what follows the flags) with three of its checks made while
# the text is read (lookaheads: a version not ``ff``, ids not all zero; the propagator checks them on the
# fields it cut out, which read the ids a second time: 3,800 CPU instructions of a 7,300-instruction reading
# of an all-zero trace id, none more for a valid one), and the lengths past which it reads nothing (the
# traceparent's; the tracestate's, which it then leaves out). The sidecar's own constants, not the SDK's
# private ones; tests/telemetry/test_propagation.py holds ``app_trace``'s answers equal to the propagator's
# over a corpus of headers, at these lengths' edges too.
_TRACEPARENT_PATTERN: Final = re.compile(
    r"^[ \t]*(?!ff)([0-9a-f]{2})-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)$"
)
_TRACEPARENT_MAXIMUM: Final = 512
_TRACESTATE_MAXIMUM: Final = 8192


def app_trace(headers: Mapping[str, str], traceparent: str | None = None) -> Context | dict[str, str]:
    """The app's ``traceparent`` (and ``tracestate``) in ``headers``, read once by the propagator's rules
    without the objects it builds for an unsampled one (module docstring): ``ROOT`` itself if it is not
    valid (as ``extract_parent`` gives it: a new trace); for a valid one marked not sampled,
    ``app_headers``' answer (the headers to pass on); for a valid sampled one, the parent context
    ``extract_parent`` gives (the propagator's own). ``traceparent``: the header's text, where the caller
    has read it (else it is read here)."""
    if traceparent is None:
        traceparent = headers["traceparent"]
    match = _TRACEPARENT_PATTERN.match(traceparent) if len(traceparent) <= _TRACEPARENT_MAXIMUM else None
    if match is None:
        return ROOT
    version, trace_hex, span_hex, flags, rest = match.groups()
    if rest and version == "00":  # the pattern checked the rest (version, ids not all zero)
        return ROOT
    state = headers.get("tracestate")
    if int(flags, 16) & TraceFlags.SAMPLED or (state is not None and len(state) > _TRACESTATE_MAXIMUM):
        # the span's parent, as the SDK's propagator makes it (it reads the header again); or a tracestate
        # over its bound, which the SDK warns of and leaves out: its own way
        parent = PROPAGATOR.extract(headers, ROOT, getter=HEADER_TEXT)
        app = unsampled_app(parent)
        return parent if app is None else app_headers(app, parent, headers)
    trace_state = None if state is None else TraceState.from_header([state])
    if version == "00":
        carrier = {"traceparent": traceparent.strip()}  # as it came: the text the SDK would write
    else:  # a later version, with fields the SDK leaves out: as it writes it (version 00)
        carrier = {"traceparent": f"00-{trace_hex}-{span_hex}-{flags}"}
    if trace_state:
        carrier["tracestate"] = trace_state.to_header()
    return carrier


def unsampled_app_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """``app_trace``'s answer for an app trace that is valid and not sampled (the headers to pass on); an
    empty dict if it is not valid (``extract_parent`` would give ``ROOT``), None if it is sampled."""
    read = app_trace(headers)
    if read is ROOT:
        return {}
    return None if isinstance(read, Context) else read


def inject(context: Context, headers: MutableMapping[str, str]) -> None:
    """Write the W3C ``traceparent`` (and ``tracestate``) of ``context``'s span into ``headers``."""
    PROPAGATOR.inject(headers, context)


_CHILD_FLAGS: Final = f"-{TraceFlags.SAMPLED:02x}"
_CHILD_FLAGS_RANDOM: Final = f"-{TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID:02x}"
_RANDOM_TRACE_ID: Final = TraceFlags.RANDOM_TRACE_ID


def child_headers(parent: SpanContext, span_id: int, trace_hex: str) -> dict[str, str]:
    """The W3C headers of the sampled child of ``parent`` (a recorded span's context, its trace id
    ``trace_hex`` in hex: the request's, made once) with ``span_id``, as ``Tracer.start_span`` would make
    it (sampled; the random-trace-id flag and the trace state of the parent) and the SDK's propagator
    would write them (version 00; module docstring)."""
    flags = _CHILD_FLAGS_RANDOM if parent.trace_flags & _RANDOM_TRACE_ID else _CHILD_FLAGS
    headers = {"traceparent": f"00-{trace_hex}-{span_id.to_bytes(8).hex()}{flags}"}
    trace_state = parent.trace_state
    if trace_state:
        headers["tracestate"] = trace_state.to_header()
    return headers
