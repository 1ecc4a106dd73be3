"""What the per-request traces of one ``Telemetry`` share (``Core``), and ``later``: the work a recorded
trace leaves until the answer is written.

``later(work, *args)`` runs ``work(*args)`` when the event loop's current step is over (a
callback of ``loop.call_soon``), or at once when no loop is running (tests, scripts). The server writes
an answer in the loop step that produced it, so work left to ``later`` by ``finish`` follows that write
instead of delaying it; anything that reads telemetry (``/metrics``, an exporter's thread, the next
request) comes in a later step and sees it done. A callback runs in the context it was scheduled from
(``call_soon`` copies it), so an exemplar or a log line made there still has the request's span.

Only a recorded trace defers: setting ten attributes on an SDK span and ending it (into the
batch processor's queue) is about 110,000 CPU instructions, the callback about 6,000 (valgrind). A
trace with no span to end has only a few metric updates left, worth little more than the callback
would cost, so they are made at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .genai import ContentCapture

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from .instruments import Instruments
    from .tracing import DecidedIdGenerator


def later(work: Callable[..., None], *args: Any) -> None:
    """Run ``work(*args)`` once the event loop's current step is over; at once if no loop is running."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        work(*args)
        return
    loop.call_soon(work, *args)


@dataclass(frozen=True, slots=True)
class Core:
    """What every trace of one ``Telemetry`` shares."""

    instruments: Instruments
    tracer: Tracer | None
    capture: ContentCapture
    trace_context: bool = True  # W3C trace context read from the app and sent upstream (OTEL_PROPAGATORS)
    ids: DecidedIdGenerator | None = None  # the tracer's id generator (with ``tracer``)
    # the routing decision metric's series by route, then by the decision's (task, complexity, tier) and
    # the arm (``RequestTrace.routed``): the counter's own cells, found without a label tuple per request;
    # kept here, so a core made anew (a new ``Telemetry``) starts its own
    routing_series: dict[str, dict[Any, list[float]]] = field(default_factory=dict)
    # the savings counters' cells (served, requested) by route, then task (``RequestTrace.routing_cost``)
    routing_costs: dict[str, dict[str, tuple[list[float], list[float]]]] = field(default_factory=dict)
