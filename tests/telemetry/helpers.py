"""Drive the telemetry facade the way the request pipeline does, with few arguments per test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families

from sidecar.routing.matrix import Verdict, make_decision
from sidecar.telemetry import AttemptTrace, RequestTrace, Telemetry, Usage

APP_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
APP_SPAN_ID = "00f067aa0ba902b7"
APP_TRACEPARENT = f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-01"


def start(telemetry: Telemetry, headers: Mapping[str, str] | None = None, *, stream: bool = False) -> RequestTrace:
    return telemetry.start_request(
        method="POST",
        path="/v1/chat/completions",
        headers=headers or {},
        dialect="openai",
        operation="chat",
        requested_model="gpt-4o",
        stream=stream,
    )


def attempt(trace: RequestTrace, target: str = "openai/gpt-4o", resend_count: int = 0, **extra: Any) -> AttemptTrace:
    provider = target.split("/")[0]
    return trace.attempt(
        target=target,
        provider=provider,
        provider_name={"openai": "openai", "anthropic": "anthropic"}.get(provider, provider),
        request_model=target.split("/")[1],
        server_address=f"api.{provider}.com",
        server_port=443,
        resend_count=resend_count,
        breaker_state="closed",
        **extra,
    )


def finish(trace: RequestTrace, status: int = 200, outcome: str = "ok", **extra: Any) -> None:
    fields: dict[str, Any] = {
        "route": "default",
        "served_model": "gpt-4o" if status < 400 else None,
        "provider": "openai" if status < 400 else None,
        "attempts": 1,
        "fallback_reason": None,
        "usage": Usage(input_tokens=12, output_tokens=34) if status < 400 else None,
        "cost_usd": 0.0005 if status < 400 else None,
        "error_type": None if status < 400 else str(status),
        "streamed": False,
    }
    fields.update(extra)
    trace.finish(status=status, outcome=outcome, **fields)


def by_kind(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], kind_name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.kind.name == kind_name]


def samples(telemetry: Telemetry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, parsed by prometheus_client: (name, labels) -> value."""
    text = telemetry.metrics_text().decode()
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(telemetry: Telemetry, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples(telemetry).get((name, frozenset(labels.items())), 0.0)


CACHE_SNAPSHOT = {
    "entries": 3,
    "bytes": 7000,
    "evictions": 1,
    "stores": 3,
    "store_skips": 1,
    "errors": 2,
    "timeouts": 1,
    "breaker_skips": 4,
    "damaged": 1,
    "coalesced": 2,
    "saved_cost_usd": 0.01,
    "saved_output_tokens": 40,
    "breaker_state": 0,
}
"""What ``ResponseCache.snapshot()`` gives: every store counter and gauge above zero but the breaker's."""


def drive_every_metric(telemetry: Telemetry) -> None:
    """Use every facade call that records a metric at least once."""
    telemetry.policy_reload(ok=True)
    telemetry.breaker_transition(target="openai/gpt-4o", from_state="closed", to_state="open")
    telemetry.bulkheads({"openai/gpt-4o": (2, 1, 2)})
    trace = start(telemetry, stream=True)
    trace.cache_result(result="miss")
    telemetry.cache.store(CACHE_SNAPSHOT)
    trace.routed("r", make_decision(Verdict("extraction", "rule"), Verdict("simple", "rule"), "economy", None, 0), None)
    trace.routing_cost(route="r", task="extraction", served_usd=0.001, requested_usd=0.01, estimated=0.002)
    trace.skipped(target="anthropic/claude", reason="breaker_open")
    trace.waited_for_slot(target="openai/gpt-4o", seconds=0.2, outcome="slot")
    failed = attempt(trace)
    failed.finish(status=503, error_type="http_503")
    trace.fallback(from_target="openai/gpt-4o", reason="http_503")
    call = attempt(trace, resend_count=1)
    call.first_chunk()
    call.chunk()
    call.finish(status=200, error_type=None, response_model="gpt-4o", usage=Usage(3, 4, 1))
    finish(trace, usage=Usage(3, 4, 1), streamed=True)
    rejected = start(telemetry)
    rejected.rejected(status=400, reason="invalid_json")
    rejected.budget_decided(verdict="deny", limit="team-day", attributes=None)
    finish(rejected, status=429, outcome="rejected")
    telemetry.ensemble_decided(route="vote", strategy="majority", decided="quorum", members={"a": "1", "b": "2"})
    telemetry.gate_failed(route="gated", gate="json_schema", action="next_target")
    telemetry.shadow_result(
        route="r", task="any", candidate="mini", result="agreed", cost_usd=0.001, served_cost_usd=0.01, duration_s=0.2
    )
    budget = ("team-day", "*", "usd", "day")  # what LedgerKeeper.refresh sets from a ledger
    telemetry.instruments.budget_used.replace({budget: 1.5})
    telemetry.instruments.budget_remaining.replace({budget: 0.5})
    telemetry.instruments.budget_events.inc(("store_errors",))
    telemetry.instruments.budget_pending.set((), 0)
    telemetry.instruments.access_lines_sampled_out.inc(("r",), 1)  # what AccessLog.record counts
