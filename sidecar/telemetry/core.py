"""What the per-request traces of one ``Telemetry`` share (``Core``), and ``HeldWork``: the work a recorded
trace leaves until its answer is written.

``HeldWork.hold(work, *args)`` runs ``work(*args)`` later, in the context it was held from (a copy, as
``loop.call_soon`` makes one, so an exemplar or a log line made there still has the request's span), or at
once when no loop is running (tests, scripts). When is later depends on where the spans go:

- spans exported in batches (``Tracing.batched``: every processor the SDK's ``BatchSpanProcessor``, as
  configured, whose exports wait up to ``OTEL_BSP_SCHEDULE_DELAY`` anyway): **when the event loop would
  otherwise wait**: once the next upstream call has been sent (``upstream_call``, which ``RequestTrace.attempt``
  calls; two loop steps later, after aiohttp's task that writes the request body), or within ``FALLBACK_S``
  (10 ms) when no call comes first (one timer at a time, armed by a hold when none is, left to fire). At
  one connection the work of a traced request (its two spans made by the SDK: some 455,000 CPU instructions)
  otherwise ran between its answer and the next request, and delayed that request by the part of it longer
  than the client's turnaround; run while the next request waits for its provider, it mostly overlaps that
  wait (docs/benchmarks.md, "Wave 52 `trace53`").
- spans handed to an exporter at once (the SDK's ``SimpleSpanProcessor``: tests' in-memory exporter):
  when the event loop's current step is over (``loop.call_soon``), i.e. just after the answer is written.

Held work runs in the order it was held (spans reach the processors in the order they end, as before), all
of it at each run. Whatever reads what it records runs it first: ``Telemetry.metrics_text`` (``/metrics``)
and ``Telemetry.shutdown`` (before the providers flush). Only a recorded trace holds work: a trace with no
span to end has only a few metric updates left, cheaper made at once than held.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .genai import ContentCapture

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from .instruments import Instruments
    from .tracing import DecidedIdGenerator


FALLBACK_S: Final = 0.010  # held work with no upstream call to wait on runs after this long


class HeldWork:
    """Work held until the event loop would otherwise wait (module docstring); ``batched``: where spans are
    exported in batches (else it runs once the loop's current step is over)."""

    __slots__ = ("_asked", "_timer", "batched", "work")

    def __init__(self, *, batched: bool = False) -> None:
        self.batched = batched
        self.work: list[tuple[contextvars.Context, Callable[..., None], tuple[Any, ...]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._asked = False  # a run is scheduled after an upstream call's send

    def hold(self, work: Callable[..., None], *args: Any) -> None:
        """Run ``work(*args)`` later (module docstring), in a copy of the current context; at once if no loop
        is running."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            work(*args)
            return
        if not self.batched:
            loop.call_soon(work, *args)
            return
        self.work.append((contextvars.copy_context(), work, args))
        if self._timer is None:  # one at a time, left to fire (not cancelled and made again each request)
            self._timer = loop.call_later(FALLBACK_S, self._fallen_back)

    def upstream_call(self) -> None:
        """An upstream call starts, with work held (the caller checks ``work``): run it once the call's request
        is sent (two loop steps on: the step that sends it, and the step of aiohttp's task that writes its
        body)."""
        if not self._asked:
            self._asked = True
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self.run)

    def _fallen_back(self) -> None:
        self._timer = None
        self.run()

    def run(self) -> None:
        """Run all that is held, in order."""
        self._asked = False
        held = self.work
        if not held:
            return
        self.work = []
        for context, work, args in held:
            try:
                context.run(work, *args)
            except Exception as exc:  # as a loop callback's: reported to the loop, the rest still run
                asyncio.get_running_loop().call_exception_handler({"message": "held work failed", "exception": exc})


@dataclass(frozen=True, slots=True)
class Core:
    """What every trace of one ``Telemetry`` shares."""

    instruments: Instruments
    tracer: Tracer | None
    capture: ContentCapture
    trace_context: bool = True  # W3C trace context read from the app and sent upstream (OTEL_PROPAGATORS)
    ids: DecidedIdGenerator | None = None  # the tracer's id generator (with ``tracer``)
    held: HeldWork = field(default_factory=HeldWork)  # what recorded traces leave until after their answer
    # the routing decision metric's series by route, then by the decision's (task, complexity, tier) and
    # the arm (``RequestTrace.routed``): the counter's own cells, found without a label tuple per request;
    # kept here, so a core made anew (a new ``Telemetry``) starts its own
    routing_series: dict[str, dict[Any, list[float]]] = field(default_factory=dict)
    # the savings counters' cells (served, requested) by route, then task (``RequestTrace.routing_cost``)
    routing_costs: dict[str, dict[str, tuple[list[float], list[float]]]] = field(default_factory=dict)
