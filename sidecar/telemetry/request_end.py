"""The end of one request's telemetry (``request.RequestTrace.finish``): its metrics (count, duration,
in flight, tokens, cost) and, when the request is recorded, its SERVER span's last attributes (those
learnt during the request, kept by the trace, with those known at the end, in one ``set_attributes``
call), its status and its end.

``finish`` takes the timings at once; it calls ``record_end`` itself for a request without a span (a
few metric updates: cheaper now than a loop callback, ``core``) and through ``core.later`` for a
recorded one (once the answer is written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import Status, StatusCode

from . import attributes as attr
from . import genai

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .core import Core
    from .genai import Usage
    from .instruments import Instruments

_STATUS_CLASS: Final = tuple(f"{n}xx" for n in range(10))


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
    usage: Usage | None,
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
    usage: Usage | None,
    cost_usd: float | None,
    elapsed: float,
) -> None:
    """The request's metrics: its count and duration, in flight, tokens and cost."""
    ins.requests.inc((route_label, model_label, outcome, _STATUS_CLASS[status // 100 % 10]))
    ins.request_duration.observe((route_label, outcome), elapsed)
    ins.in_flight.dec()
    if usage is not None:
        if usage.input_tokens:
            ins.tokens.inc((model_label, route_label, "input"), usage.input_tokens)
        if usage.output_tokens:
            ins.tokens.inc((model_label, route_label, "output"), usage.output_tokens)
        if usage.cached_input_tokens:
            ins.tokens.inc((model_label, route_label, "cached_input"), usage.cached_input_tokens)
    if cost_usd:
        ins.cost.inc((model_label, route_label), cost_usd)
