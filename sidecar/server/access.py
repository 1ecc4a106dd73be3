"""The end of every proxied request: one access log line and the request's telemetry, together.

The access line is rendered here with orjson (same fields and format as every other log line: ``ts``,
``level``, ``event``, ``component``) and written through a ``LineBuffer``, not through structlog's
processor chain: it is the one log line per request, so it is kept cheap (its first 22 fields, always
written, start as a copy of ``AccessLog``'s own dict of them and are written in place). The policy's ``access_log``
block (``policy.access_log``) may sample it: the decision comes after the request's telemetry (routing's
savings counters among it) and before the line is built (routing's fields among it), and a line written
at a rate below 1 carries ``sample_rate``. ``write`` writes a line built elsewhere (a passthrough's,
``server.forward``; a refusal's, ``server.refusals``, started as ``new_line``) through the same buffer;
``unrouted_weight`` samples such a line, which has no route, by the same block.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..request_facts import MODEL_SHOWN_CHARS, readable_text, shown_model
from ..routing.report import add_line_fields, count_savings
from ..telemetry import Telemetry
from ..telemetry.logging import LineBuffer, LogOutput
from ..translate import Usage
from .bill import bill
from .exchange import Exchange

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..policy.access_log import AccessSampling
    from ..policy.compiled import Target
    from ..routing.record import Routed


class AccessLog:
    def __init__(self, output: LogOutput) -> None:
        self._enabled = output.enabled(logging.INFO)
        self._buffer = LineBuffer(output.stream)
        # Every line's first fields, in their order (docs/logs.md), the three constant ones set: a line starts
        # as a copy of these (the keys' table copied whole) and its values are written in place, about a third
        # of the instructions of a 22-key dict display (docs/benchmarks.md, "Wave 49 `plain50`").
        fields: dict[str, Any] = {
            "component": "sidecar.access",
            "event": "access",
            "level": "info",
            "ts": None,
            "request_id": None,
            "method": None,
            "path": None,
            "dialect": None,
            "operation": None,
            "app": None,
            "route": None,
            "requested_model": None,
            "served_model": None,
            "provider": None,
            "status": None,
            "outcome": None,
            "latency_ms": None,
            "stream": None,
            "bytes_in": None,
            "bytes_out": None,
            "attempts": None,
            "policy_version": None,
        }
        self._first_fields = fields

    def flush(self) -> None:
        self._buffer.flush()

    def new_line(self) -> dict[str, Any]:
        """A line's first fields in their order (docs/logs.md), the constant ones set, the others None."""
        return self._first_fields.copy()

    def write(self, fields: dict[str, Any]) -> None:
        """One access line of ``fields`` as they are (a passthrough's, a refusal's), if info is enabled;
        sampled by its writer (``unrouted_weight``)."""
        if not self._enabled:
            return
        try:
            line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a header's bytes that are not UTF-8 (lone surrogates): written as \xNN
            line = orjson.dumps(_readable(fields), option=orjson.OPT_APPEND_NEWLINE)
        self._buffer.write(line)

    def record(self, exchange: Exchange, status: int, telemetry: Telemetry) -> None:
        """Finish the request's trace and metrics, then write its access line (if info is enabled)."""
        facts = exchange.facts
        served = exchange.answered_by if status < 400 else None  # an upstream's own error served nothing
        billed = bill(exchange, status)
        usage, cost, estimated = billed.usage, billed.cost, billed.estimated
        counted = usage
        unserved = exchange.unserved_usage  # ``Exchange.unserved_tokens`` read here without its property
        if unserved.input_tokens + unserved.output_tokens:  # and its tokens, every part (a chain's calls, an
            counted = _with_unserved(usage, exchange)  # ensemble's members, the judge)
            estimated = estimated or exchange.unserved_estimated
        latency_ms = (time.perf_counter() - exchange.started) * 1000.0  # a float: the specialized multiply
        outcome = _outcome(exchange, status)
        route = exchange.route.name if exchange.route else None
        trace = exchange.trace
        routed = facts.routing
        # the savings counters move for every request; routing's line fields wait for the sampling decision
        requested_cost = None
        if routed is not None:
            requested_cost = count_savings(exchange, routed, served, usage, billed.served_cost)
        trace.finish(
            status=status,
            outcome=outcome,
            route=route,
            served_model=served.name if served else None,
            provider=served.provider.name if served else None,
            attempts=exchange.calls,
            fallback_reason=exchange.fallback_reason,
            usage=counted,
            cost_usd=cost,
            error_type=exchange.stream_error or (None if status < 400 else str(status)),
            streamed=facts.stream,
        )
        if not self._enabled:
            return
        weight = 1.0
        sampling = exchange.policy.access_sampling
        if sampling is not None:  # decided before the line is built: a line sampled out costs nothing more
            drawn = sampling.weight(exchange, status, latency_ms)
            if drawn is None:
                telemetry.instruments.access_lines_sampled_out.inc((route or "",), 1)
                return
            weight = drawn
        model = facts.model
        fields = self._first_fields.copy()  # in their order, written in place (``__init__``)
        fields["ts"] = time.time_ns() // 1000 / 1e6  # microseconds, as round(time.time(), 6) at a third of its cost
        fields["request_id"] = exchange.request_id
        fields["method"] = exchange.request.method
        fields["path"] = exchange.request.path
        fields["dialect"] = facts.dialect  # enum members: orjson writes their values
        fields["operation"] = facts.operation
        fields["app"] = facts.app
        fields["route"] = route
        fields["requested_model"] = (model if len(model) <= MODEL_SHOWN_CHARS else shown_model(model)) or None
        fields["served_model"] = served.name if served else None
        fields["provider"] = served.provider.name if served else None
        fields["status"] = status
        fields["outcome"] = outcome
        # 3 decimals (an int divided: no decimal rounding); ``__round__`` without the builtin's look-up of it
        fields["latency_ms"] = (latency_ms * 1000.0).__round__() / 1000
        fields["stream"] = facts.stream
        fields["bytes_in"] = len(exchange.raw)
        fields["bytes_out"] = exchange.bytes_out
        fields["attempts"] = exchange.calls
        fields["policy_version"] = exchange.policy.version
        _add_optional_fields(
            fields, exchange, outcome, counted, billed.shown, estimated, routed, served, requested_cost
        )
        if weight < 1.0:  # drawn at this rate: the line stands for 1 / sample_rate requests
            fields["sample_rate"] = weight
        try:
            line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a header's bytes that are not UTF-8 (lone surrogates): written as \xNN
            line = orjson.dumps(_readable(fields), option=orjson.OPT_APPEND_NEWLINE)
        self._buffer.write(line)


def _outcome(exchange: Exchange, status: int) -> str:
    """The request's ``outcome`` (docs/logs.md): what became of it, from the exchange and the status."""
    if exchange.drain_cut:
        return "drain_cut"
    if exchange.stream_error:
        return "stream_error"
    if status < 400:
        return "degraded" if exchange.degraded else ("fallback" if exchange.fallback_reason else "ok")
    if status == 499:
        return "client_closed"
    return "rejected" if not exchange.attempts else "failed"


def _with_unserved(usage: Usage | None, exchange: Exchange) -> Usage:
    """``usage`` (the answer's) with the tokens of the calls whose answer the caller did not get (a gate's
    rejected answers, a hedge's cut call, calls accepted and then failed: ``billed``; an ensemble's other
    members and its judge), as the budgets and ``cost_usd`` count them, every part (cached, cache writes)."""
    return (usage or Usage()).plus(exchange.unserved_usage)


def _add_optional_fields(
    fields: dict[str, Any],
    exchange: Exchange,
    outcome: str,
    usage: Usage | None,
    shown: float | None,
    estimated: bool,
    routed: Routed | None,
    served: Target | None,
    requested_cost: float | None,
) -> None:
    """The access line's fields that only some requests have (docs/logs.md), in their order on the line;
    ``estimated``: the tokens are in part the sidecar's estimates (``tokens_estimated``); ``shown``: the
    bill's cost to 8 decimals (``Bill.shown``, as ``x-sidecar-cost`` and ``latency_ms`` to 3); ``routed``,
    ``served``, ``requested_cost``: routing's record, the model that served, what ``count_savings`` returned
    (routing's fields are written into ``fields`` in their place: ``report.add_line_fields``)."""
    if exchange.policy.logged_headers:
        _add_logged_headers(fields, exchange)
    _add_walk_fields(fields, exchange, outcome)
    if usage is not None:
        _add_usage_fields(fields, usage)
        if estimated:
            fields["tokens_estimated"] = True
    if shown is not None:
        fields["cost_usd"] = shown
    _add_stage_fields(fields, exchange, routed, served, requested_cost)
    trace = exchange.trace
    if trace.trace_id:
        fields["trace_id"] = trace.trace_id
        fields["span_id"] = trace.span_id


def _add_logged_headers(fields: dict[str, Any], exchange: Exchange) -> None:
    """``headers``: the request's headers the policy names (``logged_headers``), when it sent any."""
    headers = exchange.facts.headers
    matched = {name: headers[name] for name in exchange.policy.logged_headers if name in headers}
    if matched:
        fields["headers"] = matched


def _add_walk_fields(fields: dict[str, Any], exchange: Exchange, outcome: str) -> None:
    """Why the walk fell back, a hedged race's cut call, the calls accepted and then failed (``billed``),
    and each attempt (with its error) when there was more than one or the request did not end ``ok``."""
    if exchange.fallback_reason:
        fields["fallback_reason"] = exchange.fallback_reason
    if exchange.hedge_cut:
        fields["hedge_cut"] = exchange.hedge_cut
    if exchange.billed_failures:
        fields["billed_failures"] = list(exchange.billed_failures)
    attempts = exchange.attempts
    if len(attempts) > 1 or (attempts and outcome != "ok"):
        fields["attempt_log"] = [f"{a.target}:{a.outcome}" for a in attempts]
        errors = [f"{a.target}:{a.outcome}: {a.detail}" for a in attempts if a.detail]
        if errors:
            fields["attempt_errors"] = errors


def _add_usage_fields(fields: dict[str, Any], usage: Usage) -> None:
    """The answer's token counts."""
    fields["input_tokens"] = usage.input_tokens
    fields["output_tokens"] = usage.output_tokens
    fields["cached_input_tokens"] = usage.cached_input_tokens
    if usage.cache_write_tokens:  # prompt-cache writes (Anthropic, OpenAI), priced apart
        fields["cache_write_tokens"] = usage.cache_write_tokens
        if usage.cache_write_1h_tokens:  # the part written for an hour, priced apart again
            fields["cache_write_1h_tokens"] = usage.cache_write_1h_tokens
    if usage.web_search_calls:  # the provider's web searches, billed per 1,000
        fields["web_search_calls"] = usage.web_search_calls


def _add_stage_fields(
    fields: dict[str, Any],
    exchange: Exchange,
    routed: Routed | None,
    served: Target | None,
    requested_cost: float | None,
) -> None:
    """What the request path's stages recorded on the exchange: a stream's error, the upstream's own error
    code (when the app got the error in its provider's words), the parameters the translation dropped, the
    ensemble, the gates, the shadow, the budget, the routing, the cache."""
    if exchange.stream_error:
        fields["stream_error"] = exchange.stream_error
    if exchange.upstream_error_code:
        fields["upstream_error_code"] = exchange.upstream_error_code
    if exchange.dropped:
        fields["dropped_params"] = list(exchange.dropped)
    if exchange.ensemble:
        fields["ensemble"] = exchange.ensemble
    if exchange.gated:
        fields["gates"] = exchange.gate_verdict()
        if exchange.gate_rejections:
            fields["gate_rejections"] = exchange.gate_rejections
    if exchange.shadow:
        fields["shadow"] = exchange.shadow
    if exchange.budget:
        fields["budget"] = exchange.budget
    if routed is not None:
        add_line_fields(fields, exchange, routed, served, requested_cost)
    if exchange.cache is not None:
        fields["cache"] = exchange.cache


def _readable(value: Any) -> Any:
    """``value`` with every string made valid UTF-8 (``readable_text``), at every depth."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, dict):
        return {readable_text(k) if isinstance(k, str) else k: _readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_readable(item) for item in value]
    return value


def unrouted_weight(
    sampling: AccessSampling | None,
    telemetry: Telemetry,
    *,
    status: int,
    stream_error: bool,
    latency_ms: float,
    headers: Mapping[str, str],
    ids: tuple[str, str],
) -> float | None:
    """The weight of a line without a route (a passthrough's, a refusal's) under the policy's ``access_log``
    block (``AccessSampling.passthrough_weight``: the top-level rate): 1.0 without one; None when sampled
    out, counted in ``llm_sidecar_access_lines_sampled_out_total`` under ``route=""``. ``ids``: the trace id
    ("" when none) and the request id."""
    if sampling is None:
        return 1.0
    drawn = sampling.passthrough_weight(status, stream_error, latency_ms, headers, ids)
    if drawn is None:
        telemetry.instruments.access_lines_sampled_out.inc(("",), 1)
    return drawn
