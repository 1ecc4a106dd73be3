"""The policy's ``access_log`` block: which access lines are written (docs/logs.md, "Sampling").

By default every proxied request writes its access line. In a busy pod those lines are the bulk of the
log volume, so an SRE may keep a share of the plain successes (``sample``) while always keeping the lines
that matter (``always``: an error status, a client that left, a stream cut, a fallback, a retry, a
budget's say, a stale cache answer, a slow answer), as Envoy's access-log filters and nginx's
``access_log ... if=`` do::

    access_log:
      sample: 0.1                  # share of the other lines written; 1 (default) writes every line
      by: trace_id                 # or random (default): the draw, per request
      always: [error, client_closed, stream_error, drain_cut, degraded, fallback, retry, budget, cache_stale]
      slower_than_s: 5             # also keep every answer slower than this
    routes:
      - name: checkout
        access_log: {sample: 1.0}  # this route's own share

``AccessSampling.weight`` decides once per request (``passthrough_weight`` for a forwarded one's line),
after its outcome is known and before its line is built: ``None`` (sampled out: the line is not
built), ``1.0`` (written as always), or the route's rate below 1 (written, with ``sample_rate``: each
such line stands for ``1 / sample_rate`` requests).
``by: trace_id`` draws from the trace id (the sidecar's span's, else the app's ``traceparent``'s, else
the request id) as OpenTelemetry's ``TraceIdRatioBased`` sampler does: a trace sampled at the same ratio
and its line agree. A policy whose rates are all 1 compiles to no ``AccessSampling``: nothing per request.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, get_args

from opentelemetry.trace import SpanContext, get_current_span
from pydantic import Field

from ..telemetry.propagation import extract_parent
from .base import Spec

if TYPE_CHECKING:
    from ..server.exchange import Exchange

AlwaysKept = Literal[
    "error",
    "client_closed",
    "stream_error",
    "drain_cut",
    "degraded",
    "fallback",
    "retry",
    "budget",
    "cache_stale",
    "app_sampled",
]
DEFAULT_ALWAYS: tuple[AlwaysKept, ...] = tuple(kind for kind in get_args(AlwaysKept) if kind != "app_sampled")
"""Every kind but ``app_sampled`` (an app whose tracer samples every trace would keep every line)."""

_ID_RANGE = 1 << 64  # the trace id's low 64 bits are drawn from, as TraceIdRatioBased does


class AccessLogSpec(Spec):
    """The top-level ``access_log`` block: the share of access lines written, and what is always kept."""

    sample: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of the access lines that no 'always' kind keeps which are written (0 to 1). "
        "1 (default): every line, as without the block. Lines written at a rate below 1 say it (sample_rate).",
    )
    by: Literal["random", "trace_id"] = Field(
        "random",
        description="How a request is drawn: random, or by its trace id (the sidecar's span, else the app's "
        "traceparent, else the request id) as OpenTelemetry's TraceIdRatioBased sampler draws, so a trace "
        "sampled at the same ratio and its line agree.",
    )
    always: tuple[AlwaysKept, ...] = Field(
        DEFAULT_ALWAYS,
        description="Lines always written whatever the sample: error (a 4xx or 5xx status sent, 499 aside), "
        "client_closed (499), stream_error, drain_cut, degraded (the last resort answered), fallback, retry "
        "(an upstream try failed or was skipped, though an answer came), budget (a budget limit acted or its "
        "store fell back), cache_stale, app_sampled (the app's traceparent has its sampled flag). "
        "Default: every kind but app_sampled; [] samples every line.",
    )
    slower_than_s: float | None = Field(
        None, gt=0, description="Also always write the line of a request that took longer than this (seconds)."
    )


class RouteAccessLogSpec(Spec):
    """A route's ``access_log``: its own share of lines, over the top-level ``access_log.sample``."""

    sample: float = Field(
        ge=0, le=1, description="Share of this route's access lines written (0 to 1), as access_log.sample."
    )


@dataclass(frozen=True, slots=True)
class AccessSampling:
    """The compiled ``access_log`` block: ``weight`` decides a request's line."""

    rate: float  # the top-level sample
    route_rates: Mapping[str, float] | None  # by route name, where a route sets its own; None: no route does
    by_trace_id: bool
    always: frozenset[str]
    slower_than_ms: float | None

    def weight(self, exchange: Exchange, status: int, latency_ms: float) -> float | None:
        """None: the line is sampled out; else the line's weight (1.0, or the rate it was drawn at)."""
        rate = self.rate
        if self.route_rates is not None and (route := exchange.route) is not None:
            rate = self.route_rates.get(route.name, rate)
        if rate >= 1.0 or self.kept_always(exchange, status, latency_ms):
            return 1.0
        if rate <= 0.0:
            return None
        if self.by_trace_id:
            drawn = _trace_draw(exchange.trace.trace_id, exchange.facts.headers, exchange.request_id)
        else:
            drawn = random.random()
        return rate if drawn < rate else None

    def passthrough_weight(
        self, status: int, stream_error: bool, latency_ms: float, headers: Mapping[str, str], ids: tuple[str, str]
    ) -> float | None:
        """``weight`` for a line without a route or an exchange (a passthrough's, ``server.forward``; a
        refusal made before any handler, ``server.refusals``): drawn at the top-level rate, kept by the
        ``always`` kinds such a request can be (``error``, ``client_closed``, ``stream_error``,
        ``app_sampled``) and by ``slower_than_s``. ``ids``: its trace id ("" when not
        recorded) and request id."""
        rate = self.rate
        if rate >= 1.0 or (self.slower_than_ms is not None and latency_ms > self.slower_than_ms):
            return 1.0
        kind = (
            "client_closed" if status == 499 else "error" if status >= 400 else "stream_error" if stream_error else ""
        )
        if kind in self.always or ("app_sampled" in self.always and _app_sampled(headers)):
            return 1.0
        if rate <= 0.0:
            return None
        drawn = _trace_draw(ids[0], headers, ids[1]) if self.by_trace_id else random.random()
        return rate if drawn < rate else None

    def kept_always(self, exchange: Exchange, status: int, latency_ms: float) -> bool:
        """True when the request is one of the ``always`` kinds, or slower than ``slower_than_s``."""
        if self.slower_than_ms is not None and latency_ms > self.slower_than_ms:
            return True
        if "app_sampled" in self.always and _app_sampled(exchange.facts.headers):
            return True
        if status < 400 and not _eventful(exchange):  # a plain success: the bulk, decided at once
            return False
        return not self.always.isdisjoint(kinds_of(exchange, status))


def _eventful(exchange: Exchange) -> bool:
    """Whether anything but a plain success befell an answered request (a cheap test before ``kinds_of``)."""
    if exchange.stream_error or exchange.drain_cut or exchange.degraded or exchange.fallback_reason:
        return True
    if exchange.budget or exchange.cache == "stale":
        return True
    for attempt in exchange.attempts:  # noqa: SIM110 - a plain loop: no generator per request
        if attempt.outcome != "ok":
            return True
    return False


def kinds_of(exchange: Exchange, status: int) -> set[str]:
    """The ``always`` kinds a request is (``app_sampled`` aside: it reads the request, not its outcome)."""
    kinds = set()
    if status == 499:
        kinds.add("client_closed")
    elif status >= 400:
        kinds.add("error")
    for kind, happened in (
        ("stream_error", exchange.stream_error),
        ("drain_cut", exchange.drain_cut),
        ("degraded", exchange.degraded),
        ("fallback", exchange.fallback_reason),
        ("budget", exchange.budget),
        ("cache_stale", exchange.cache == "stale"),
        ("retry", any(attempt.outcome != "ok" for attempt in exchange.attempts)),
    ):
        if happened:
            kinds.add(kind)
    return kinds


def _trace_draw(trace_id: str, headers: Mapping[str, str], request_id: str) -> float:
    """A number in [0, 1) from the low 64 bits of the request's trace id: the sidecar's span's
    (``trace_id``), else the app's ``traceparent``'s (in ``headers``), else the request id's (random when
    none is hex)."""
    if trace_id:
        return int(trace_id[-16:], 16) / _ID_RANGE
    app = _app_span_context(headers)
    if app.is_valid:
        return (app.trace_id % _ID_RANGE) / _ID_RANGE
    try:
        return int(request_id[-16:], 16) / _ID_RANGE
    except ValueError:
        return random.random()


def _app_sampled(headers: Mapping[str, str]) -> bool:
    """The app's ``traceparent`` is valid and has its sampled flag (``...-01``)."""
    return bool(_app_span_context(headers).trace_flags.sampled)


def _app_span_context(headers: Mapping[str, str]) -> SpanContext:
    """The app's span context, read from its ``traceparent``/``tracestate`` by the OpenTelemetry
    propagator (``telemetry.propagation.extract_parent``); invalid when absent or malformed."""
    return get_current_span(extract_parent(headers)).get_span_context()


_UNLOGGED_ERRORS = (
    "and access_log.always without error: no access line is written for a request answered with an error "
    "status (4xx, 5xx){where}, only the metrics count it (llm_sidecar_requests_total by status_class); "
    "add error to access_log.always to keep those lines"
)


def access_log_warnings(block: AccessLogSpec | None, route_samples: Mapping[str, float]) -> list[str]:
    """The rates of 0 at which a request that failed writes no access line (``always`` without ``error``:
    ``always: []`` with ``sample: 0``). Such a policy loads (no access log at all may be meant), but an
    error then leaves no trace in the log: ``validate`` and the ``policy_warning`` line name each rate.
    ``route_samples``: the routes' own ``access_log.sample`` by their path (``routes[2]``, ``default``)."""
    if block is None or "error" in block.always:
        return []
    warnings = [f"access_log.sample: 0 {_UNLOGGED_ERRORS.format(where='')}"] if block.sample <= 0 else []
    warnings += [
        f"{path}.access_log.sample: 0 {_UNLOGGED_ERRORS.format(where=' on this route')}"
        for path, sample in route_samples.items()
        if sample <= 0
    ]
    return warnings


def compile_access_sampling(block: AccessLogSpec | None, route_rates: Mapping[str, float]) -> AccessSampling | None:
    """The policy's ``access_log`` block and the routes' own rates (by route name), compiled; None when
    every line is written (no block, or every rate 1): the access line then costs nothing more."""
    block = block or AccessLogSpec()
    if block.sample >= 1.0 and all(rate >= 1.0 for rate in route_rates.values()):
        return None
    return AccessSampling(
        rate=block.sample,
        route_rates=MappingProxyType(dict(route_rates)) if route_rates else None,
        by_trace_id=block.by == "trace_id",
        always=frozenset(block.always),
        slower_than_ms=block.slower_than_s * 1000 if block.slower_than_s is not None else None,
    )
