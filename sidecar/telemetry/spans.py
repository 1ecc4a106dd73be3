"""Lightweight spans: the sidecar's two span kinds built without the SDK's per-span machinery.

The SDK's ``Tracer.start_span`` + ``end`` costs about 11 us bare and ~0.5 us per attribute here (a lock,
bounded attribute validation, a readable copy at end). The sidecar's spans are few and their attributes
are built by this package from typed arguments, so ``LiteTracer`` keeps only what the export needs:

- ``start``: W3C ids (``random.getrandbits``), the sampling decision, a plain attribute dict;
- ``LiteSpan.end``: the span itself, a ``opentelemetry.sdk.trace.ReadableSpan`` (what every exporter
  consumes) holding its fields where ``ReadableSpan`` keeps them, handed without a copy to the span
  processors (``BoundedBatchSpanProcessor`` or, in tests, ``SimpleSpanProcessor``).

Sampling follows the standard samplers (``OTEL_TRACES_SAMPLER``): ``always_on``, ``always_off``,
``traceidratio`` (the SDK's rule: low 64 bits of the trace id below ratio x 2^64) and their
``parentbased_*`` forms (a parent's sampled flag decides). An unsampled span is not created at all: the
caller keeps its ``SpanContext`` (flag 00) to propagate the decision downstream.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, SpanProcessor
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link

_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED: Final = TraceFlags(TraceFlags.DEFAULT)
_EMPTY_STATE: Final = TraceState()
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

    def sampled(self, trace_id: int, parent: SpanContext | None) -> bool:
        if self._parent_based and parent is not None:
            return parent.trace_flags.sampled
        return (trace_id & _LOW_64) < self._bound


class LiteSpan(ReadableSpan):
    """A recording span: set attributes, add events, set status, ``end`` once.

    It is also the ``ReadableSpan`` the processors receive at ``end``: its fields are the ones
    ``ReadableSpan``'s properties read (``_name``, ``_context``, ...), so ending a span copies nothing.
    ``attrs`` is the live attribute dict (``attributes``, as for any ``ReadableSpan``, is a read-only view).
    """

    def __init__(
        self,
        tracer: LiteTracer,
        name: str,
        kind: SpanKind,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
    ) -> None:  # ReadableSpan.__init__ is not called: every field it sets is set here
        self._tracer: LiteTracer | None = tracer
        self._name = name
        self._kind = kind
        self._context = context
        self._parent = parent
        self._attributes = self.attrs = attributes
        self._start_time = time.time_ns()
        self._end_time: int | None = None
        self._events: Sequence[Event] = ()
        self._links: Sequence[Link] = ()
        self._status = tracer.unset
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.scope
        self._instrumentation_info = None

    @property
    def context(self) -> SpanContext:
        return self._context  # type: ignore[return-value]  # always set

    def set_attribute(self, key: str, value: Any) -> None:
        self.attrs[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.attrs.update(attributes)

    def add_event(self, name: str, attributes: Mapping[str, Any]) -> None:
        tracer = self._tracer
        if tracer is not None:
            self._events = (*self._events, tracer.event(name, dict(attributes), time.time_ns()))

    def set_error(self, description: str | None) -> None:
        tracer = self._tracer
        if tracer is not None:
            self._status = tracer.error(description)

    def end(self) -> None:
        """Hand the finished span to the processors; later calls do nothing."""
        tracer = self._tracer
        if tracer is None:
            return
        self._tracer = None
        self._end_time = time.time_ns()
        for processor in tracer.processors:
            processor.on_end(self)

    @property
    def ended(self) -> bool:
        return self._tracer is None


class LiteTracer:
    """Starts ``LiteSpan``s for one resource and instrumentation scope; ends them into processors."""

    def __init__(
        self,
        resource: Resource,
        scope: InstrumentationScope,
        sampler: Sampler,
        processors: Sequence[SpanProcessor],
    ) -> None:
        from opentelemetry.sdk.trace import Event
        from opentelemetry.trace.status import Status, StatusCode

        self.unset = Status()
        self.event = Event
        self.error = partial(Status, StatusCode.ERROR)
        self.resource = resource
        self.scope = scope
        self.sampler = sampler
        self.processors = tuple(processors)

    def start(
        self, name: str, kind: SpanKind, parent: SpanContext | None, attributes: dict[str, Any]
    ) -> LiteSpan | SpanContext:
        """A recording span, or when the sampler says no, just the context to propagate."""
        getrandbits = random.getrandbits
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            state = parent.trace_state
        else:
            parent = None
            trace_id = getrandbits(128) or 1
            state = _EMPTY_STATE
        sampled = self.sampler.sampled(trace_id, parent)
        context = SpanContext(trace_id, getrandbits(64) or 1, False, _SAMPLED if sampled else _NOT_SAMPLED, state)
        if not sampled:
            return context
        return LiteSpan(self, name, kind, context, parent, attributes)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()
