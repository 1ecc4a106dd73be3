"""The end of one request's telemetry (``request.RequestTrace.finish``): its metrics (count, duration,
in flight, tokens, cost) and, when the request is recorded, its SERVER span's last attributes (those
learnt during the request, kept by the trace, with those known at the end, in one ``set_attributes``
call), its status and its end.

``finish`` takes the timings at once; it calls ``record_end`` itself for a request without a span (a
few metric updates: cheaper now than a loop callback, ``core``) and through ``core.HeldWork`` for a
recorded one (after the answer is written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Status, StatusCode

from . import attributes as attr
from . import genai
from .held_series import STATUS_CLASSES, RequestSeries

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .core import Core
    from .genai import Tokens
    from .instruments import Instruments


def record_end(
    core: Core,
    span: Span | None,
    pending: dict[str, Any],
    status: int,
    outcome: str,
    route_label: str,
    served_model: str | None,
    attempts: int,
    fallback_reason: str | None,
    usage: Tokens | None,
    cost_usd: float | None,
    error_type: str | None,
    streamed: bool,
    elapsed: float,
    end: int | None,
) -> None:
    """Record the end of a request: its metrics; then, when recorded (``span``), the SERVER span's
    attributes (``pending``: those learnt during the request, added to), its status, its end (``end``)."""
    model_label = served_model or ""
    _record_metrics(core.instruments, status, outcome, route_label, model_label, usage, cost_usd, elapsed)
    if span is None:
        return
    attributes = pending
    attributes[genai.HTTP_STATUS_CODE] = status
    attributes[attr.OUTCOME] = outcome
    if attempts != 1:
        attributes[attr.ATTEMPTS] = attempts
    if streamed:
        attributes[attr.STREAMED] = True
    if route_label:
        attributes[attr.ROUTE] = route_label
    if served_model:
        attributes[attr.SERVED_MODEL] = served_model
    if fallback_reason:
        attributes[attr.FALLBACK_REASON] = fallback_reason
    if error_type:
        attributes[genai.ERROR_TYPE] = error_type
    if cost_usd is not None:
        attributes[attr.COST_USD] = float(cost_usd)
    span.set_attributes(attributes)
    if status >= 500 or (error_type and status < 400):  # a 4xx is the client's error (HTTP conventions)
        span.set_status(Status(StatusCode.ERROR, error_type))
    span.end(end)


def _record_metrics(
    ins: Instruments,
    status: int,
    outcome: str,
    route_label: str,
    model_label: str,
    usage: Tokens | None,
    cost_usd: float | None,
    elapsed: float,
) -> None:
    """The request's metrics: its count and duration, tokens and cost (through the series held for its
    kind: ``held_series``), and in flight."""
    key = (route_label, model_label, outcome, STATUS_CLASSES[status // 100 % 10])
    series = ins.request_series.get(key)
    if series is None:
        series = ins.request_series[key] = RequestSeries(ins, *key)
    series.record(usage, cost_usd, elapsed)
    ins.in_flight.dec()
