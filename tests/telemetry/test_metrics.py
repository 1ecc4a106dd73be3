"""/metrics: the Prometheus text the facade renders, parsed by prometheus_client, and how it moves."""

from __future__ import annotations

import io
import itertools
import math
import resource
import socket
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.telemetry import Telemetry, Usage
from sidecar.telemetry.instruments import DURATION_BUCKETS, TOKEN_BUCKETS

from .helpers import attempt, drive_every_metric, finish, samples, start, value

GENAI = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o"}


def test_every_catalog_metric_is_exposed_and_parses() -> None:
    """A fresh process's /metrics parses and declares every metric of the catalog with its type."""
    text = Telemetry.from_env({}, service_version="1.2.3").metrics_text().decode()
    types = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert types == {
        "gen_ai_client_operation_duration_seconds": "histogram",
        "gen_ai_client_token_usage": "histogram",
        "gen_ai_client_operation_time_to_first_chunk_seconds": "histogram",
        "gen_ai_client_operation_time_per_output_chunk_seconds": "histogram",
        "llm_sidecar_requests": "counter",
        "llm_sidecar_request_duration_seconds": "histogram",
        "llm_sidecar_requests_in_flight": "gauge",
        "llm_sidecar_upstream_attempts": "counter",
        "llm_sidecar_upstream_errors": "counter",
        "llm_sidecar_fallbacks": "counter",
        "llm_sidecar_skips": "counter",
        "llm_sidecar_rejections": "counter",
        "llm_sidecar_breaker_state": "gauge",
        "llm_sidecar_breaker_transitions": "counter",
        "llm_sidecar_bulkhead_in_flight": "gauge",
        "llm_sidecar_bulkhead_max_concurrent": "gauge",
        "llm_sidecar_bulkhead_queued": "gauge",
        "llm_sidecar_bulkhead_wait_seconds": "histogram",
        "llm_sidecar_policy_reloads": "counter",
        "llm_sidecar_access_lines_sampled_out": "counter",
        "llm_sidecar_log_lines_dropped": "counter",
        "llm_sidecar_connections_refused": "counter",
        "llm_sidecar_held_bytes": "gauge",
        "llm_sidecar_held_bytes_ceiling": "gauge",
        "llm_sidecar_held_bytes_refusals": "counter",
        "llm_sidecar_policy_last_reload_successful": "gauge",
        "llm_sidecar_policy_last_reload_timestamp_seconds": "gauge",
        "llm_sidecar_cost_usd": "counter",
        "llm_sidecar_tokens": "counter",
        "llm_sidecar_cache_results": "counter",
        "llm_sidecar_budget_used": "gauge",
        "llm_sidecar_budget_remaining": "gauge",
        "llm_sidecar_budget_decisions": "counter",
        "llm_sidecar_budget_events": "counter",
        "llm_sidecar_budget_pending_settlements": "gauge",
        "llm_sidecar_routing_decisions": "counter",
        "llm_sidecar_routing_served_cost_usd": "counter",
        "llm_sidecar_routing_requested_cost_usd": "counter",
        "llm_sidecar_cache_entries": "gauge",
        "llm_sidecar_cache_bytes": "gauge",
        "llm_sidecar_cache_evictions": "counter",
        "llm_sidecar_cache_stores": "counter",
        "llm_sidecar_cache_store_errors": "counter",
        "llm_sidecar_cache_breaker_state": "gauge",
        "llm_sidecar_cache_unavailable": "gauge",
        "llm_sidecar_cache_coalesced": "counter",
        "llm_sidecar_cache_saved_cost_usd": "counter",
        "llm_sidecar_cache_saved_output_tokens": "counter",
        "llm_sidecar_spans_dropped": "counter",
        "llm_sidecar_build_info": "gauge",
        "llm_sidecar_ensemble_decisions": "counter",
        "llm_sidecar_ensemble_member_results": "counter",
        "llm_sidecar_gate_failures": "counter",
        "llm_sidecar_shadow_results": "counter",
        "llm_sidecar_shadow_cost_usd": "counter",
        "llm_sidecar_shadow_duration_seconds": "histogram",
        "process_virtual_memory_bytes": "gauge",
        "process_resident_memory_bytes": "gauge",
        "process_start_time_seconds": "gauge",
        "process_cpu_seconds": "counter",
        "process_open_fds": "gauge",
        "process_max_fds": "gauge",
    }
    assert 'llm_sidecar_build_info{version="1.2.3"} 1' in text


def test_process_open_fds_counts_the_descriptors_the_process_opens() -> None:
    """/metrics' ``process_open_fds`` is the process's count now: 20 sockets opened raise it by 20 and
    closing them brings it back; ``process_max_fds`` is the soft open-files limit in force."""
    telemetry = Telemetry.from_env({}, service_version="t")
    before = value(telemetry, "process_open_fds")
    sockets = [socket.socket() for _ in range(20)]
    try:
        assert value(telemetry, "process_open_fds") == before + 20
    finally:
        for sock in sockets:
            sock.close()
    assert value(telemetry, "process_open_fds") == before
    assert value(telemetry, "process_max_fds") == resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_a_request_moves_the_request_metrics() -> None:
    """One served request: requests_total, duration count, tokens and cost move; in-flight is back to 0."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry)
    assert value(telemetry, "llm_sidecar_requests_in_flight") == 1
    finish(trace)
    labels = {"route": "default", "served_model": "gpt-4o", "outcome": "ok", "status_class": "2xx"}
    assert value(telemetry, "llm_sidecar_requests_total", **labels) == 1
    assert value(telemetry, "llm_sidecar_request_duration_seconds_count", route="default", outcome="ok") == 1
    assert value(telemetry, "llm_sidecar_tokens_total", served_model="gpt-4o", route="default", type="input") == 12
    assert value(telemetry, "llm_sidecar_tokens_total", served_model="gpt-4o", route="default", type="output") == 34
    assert math.isclose(value(telemetry, "llm_sidecar_cost_usd_total", served_model="gpt-4o", route="default"), 0.0005)
    assert value(telemetry, "llm_sidecar_requests_in_flight") == 0
    finish(start(telemetry))
    assert value(telemetry, "llm_sidecar_requests_total", **labels) == 2


def test_an_attempt_records_the_genai_client_metrics() -> None:
    """An upstream call: operation duration (with response model), token usage by type, attempts_total."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry)
    attempt(trace).finish(
        status=200,
        error_type=None,
        response_model="gpt-4o-2024",
        usage=Usage(input_tokens=100, output_tokens=7),
    )
    finish(trace)
    ok = {**GENAI, "gen_ai_response_model": "gpt-4o-2024", "error_type": ""}
    assert value(telemetry, "gen_ai_client_operation_duration_seconds_count", **ok) == 1
    assert value(telemetry, "gen_ai_client_operation_duration_seconds_bucket", **ok, le="+Inf") == 1
    tokens = {**GENAI, "gen_ai_response_model": "gpt-4o-2024"}
    assert value(telemetry, "gen_ai_client_token_usage_sum", **tokens, gen_ai_token_type="input") == 100
    assert value(telemetry, "gen_ai_client_token_usage_bucket", **tokens, gen_ai_token_type="output", le="4.0") == 0
    assert value(telemetry, "gen_ai_client_token_usage_bucket", **tokens, gen_ai_token_type="output", le="16.0") == 1
    assert value(telemetry, "llm_sidecar_upstream_attempts_total", target="openai/gpt-4o", outcome="ok") == 1


def test_histogram_buckets_follow_the_conventions() -> None:
    """Duration buckets are 0.01..81.92 s doubling, token buckets 1..67108864 by powers of 4."""
    assert DURATION_BUCKETS[0] == 0.01 and DURATION_BUCKETS[-1] == 81.92
    assert all(math.isclose(b / a, 2) for a, b in itertools.pairwise(DURATION_BUCKETS))
    assert TOKEN_BUCKETS == (
        1,
        4,
        16,
        64,
        256,
        1024,
        4096,
        16384,
        65536,
        262144,
        1048576,
        4194304,
        16777216,
        67108864,
    )


def test_upstream_error_counts_by_error_type() -> None:
    """A failed call: error_type label on the duration histogram, upstream_errors_total by type."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry)
    attempt(trace).finish(status=429, error_type="rate_limited")
    finish(trace, status=429, outcome="failed")
    failed = {**GENAI, "gen_ai_response_model": "", "error_type": "rate_limited"}
    assert value(telemetry, "gen_ai_client_operation_duration_seconds_count", **failed) == 1
    assert value(telemetry, "llm_sidecar_upstream_errors_total", target="openai/gpt-4o", error_type="rate_limited") == 1
    assert value(telemetry, "llm_sidecar_upstream_attempts_total", target="openai/gpt-4o", outcome="error") == 1
    labels = {"route": "default", "served_model": "", "outcome": "failed", "status_class": "4xx"}
    assert value(telemetry, "llm_sidecar_requests_total", **labels) == 1


def test_stream_records_chunk_timings() -> None:
    """A stream: one time-to-first-chunk observation, one per-chunk gap per chunk after the first."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry, stream=True)
    call = attempt(trace)
    call.first_chunk()
    for _ in range(4):
        call.chunk()
    call.finish(status=200, error_type=None)
    finish(trace, streamed=True)
    assert value(telemetry, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **GENAI) == 1
    assert value(telemetry, "gen_ai_client_operation_time_per_output_chunk_seconds_count", **GENAI) == 4


def test_fallback_skip_rejection_and_cache_counters() -> None:
    """fallback(), skipped(), rejected() and cache_result() each move their counter."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry)
    trace.cache_result(result="miss")
    trace.skipped(target="openai/gpt-4o", reason="breaker_open")
    trace.fallback(from_target="openai/gpt-4o", reason="breaker_open")
    finish(trace)
    rejected = start(telemetry)
    rejected.rejected(status=404, reason="no_route")
    finish(rejected, status=404, outcome="rejected")
    assert value(telemetry, "llm_sidecar_cache_results_total", result="miss") == 1
    assert value(telemetry, "llm_sidecar_skips_total", target="openai/gpt-4o", reason="breaker_open") == 1
    assert value(telemetry, "llm_sidecar_fallbacks_total", reason="breaker_open") == 1
    assert value(telemetry, "llm_sidecar_rejections_total", reason="no_route") == 1


def test_breaker_transition_sets_gauge_and_counts() -> None:
    """breaker_transition: state gauge per target (closed 0, half_open 1, open 2), transitions_total{to}."""
    telemetry = Telemetry.from_env({}, service_version="t")
    telemetry.breaker_transition(target="openai/gpt-4o", from_state="closed", to_state="open")
    assert value(telemetry, "llm_sidecar_breaker_state", target="openai/gpt-4o") == 2
    telemetry.breaker_transition(target="openai/gpt-4o", from_state="open", to_state="half_open")
    assert value(telemetry, "llm_sidecar_breaker_state", target="openai/gpt-4o") == 1
    telemetry.breaker_transition(target="openai/gpt-4o", from_state="half_open", to_state="closed")
    assert value(telemetry, "llm_sidecar_breaker_state", target="openai/gpt-4o") == 0
    assert value(telemetry, "llm_sidecar_breaker_transitions_total", target="openai/gpt-4o", to="open") == 1


def test_policy_reload_gauges_say_whether_the_file_on_disk_serves() -> None:
    """policy_loaded sets last_reload_successful to 1 and the timestamp; a rejected reload sets it to 0 and
    keeps the serving policy's timestamp; the next applied reload sets both again."""
    telemetry = Telemetry.from_env({}, service_version="t")
    telemetry.policy_loaded(1_700_000_000.5)
    assert value(telemetry, "llm_sidecar_policy_last_reload_successful") == 1
    telemetry.policy_reload(ok=False)
    assert value(telemetry, "llm_sidecar_policy_last_reload_successful") == 0
    assert value(telemetry, "llm_sidecar_policy_last_reload_timestamp_seconds") == 1_700_000_000.5
    telemetry.policy_reload(ok=True, loaded_at=1_700_000_100.0)
    assert value(telemetry, "llm_sidecar_policy_last_reload_successful") == 1
    assert value(telemetry, "llm_sidecar_policy_last_reload_timestamp_seconds") == 1_700_000_100.0


def test_policy_reloads_count_by_outcome() -> None:
    """policy_reload(ok=...) counts llm_sidecar_policy_reloads_total{outcome=ok|error}."""
    telemetry = Telemetry.from_env({}, service_version="t")
    telemetry.policy_reload(ok=True)
    telemetry.policy_reload(ok=True)
    telemetry.policy_reload(ok=False)
    assert value(telemetry, "llm_sidecar_policy_reloads_total", outcome="ok") == 2
    assert value(telemetry, "llm_sidecar_policy_reloads_total", outcome="error") == 1


def test_label_values_are_escaped() -> None:
    """Label values with quotes, backslashes and newlines survive the text format unchanged."""
    telemetry = Telemetry.from_env({}, service_version="t")
    nasty = 'a"b\\c\nd'
    telemetry.breaker_transition(target=nasty, from_state="closed", to_state="open")
    assert value(telemetry, "llm_sidecar_breaker_state", target=nasty) == 2


def test_no_created_series_are_exposed() -> None:
    """/metrics carries the documented series only: no ``_created`` timestamps beside counters."""
    telemetry = Telemetry.from_env({}, service_version="t")
    finish(start(telemetry))
    assert not [name for name, _ in samples(telemetry) if name.endswith("_created")]


def test_metrics_are_per_instance() -> None:
    """Two Telemetry objects share no state (no module-level registry)."""
    first = Telemetry.from_env({}, service_version="t")
    second = Telemetry.from_env({}, service_version="t")
    first.policy_reload(ok=True)
    assert value(second, "llm_sidecar_policy_reloads_total", outcome="ok") == 0
    assert samples(first) != samples(second)


async def test_the_push_carries_the_values_of_metrics() -> None:
    """The OTLP push (its console twin) carries the very values /metrics shows: counters as cumulative
    monotonic sums, in-flight as a non-monotonic sum, gauges as gauges, histograms with the same counts
    and sums, each data point under the label values of its series."""
    out = io.StringIO()
    telemetry = Telemetry.from_env({"OTEL_METRICS_EXPORTER": "console"}, service_version="t", console=out)
    drive_every_metric(telemetry)
    drive_every_metric(telemetry)
    still_open = start(telemetry)  # in flight when the push is made
    scraped = samples(telemetry)
    await telemetry.shutdown(timeout_s=5)
    [line] = out.getvalue().splitlines()
    pushed = {m["name"]: m for m in orjson.loads(line)["resource_metrics"][0]["scope_metrics"][0]["metrics"]}

    def labels(point: dict[str, Any]) -> frozenset[tuple[str, str]]:
        return frozenset((key.replace(".", "_"), value) for key, value in point["attributes"].items())

    def check(otel_name: str, prom_name: str, kind: str, monotonic: bool | None = None) -> None:
        data = pushed[otel_name]["data"]
        assert data["data_points"], otel_name
        if kind == "sum":
            assert data["is_monotonic"] is monotonic and data["aggregation_temporality"] == 2, otel_name
        else:
            assert "aggregation_temporality" not in data, otel_name
        for point in data["data_points"]:
            assert point["value"] == scraped[(prom_name, labels(point))], (otel_name, point)

    check("llm_sidecar.requests", "llm_sidecar_requests_total", "sum", monotonic=True)
    check("llm_sidecar.tokens", "llm_sidecar_tokens_total", "sum", monotonic=True)
    check("llm_sidecar.cost_usd", "llm_sidecar_cost_usd_total", "sum", monotonic=True)
    check("llm_sidecar.upstream_attempts", "llm_sidecar_upstream_attempts_total", "sum", monotonic=True)
    check("llm_sidecar.spans_dropped", "llm_sidecar_spans_dropped_total", "sum", monotonic=True)
    check("llm_sidecar.requests_in_flight", "llm_sidecar_requests_in_flight", "sum", monotonic=False)
    check("llm_sidecar.breaker_state", "llm_sidecar_breaker_state", "gauge")
    check("llm_sidecar.build_info", "llm_sidecar_build_info", "gauge")
    assert scraped[("llm_sidecar_requests_in_flight", frozenset())] == 1
    for point in pushed["gen_ai.client.operation.duration"]["data"]["data_points"]:
        key = labels(point)
        assert point["count"] == scraped[("gen_ai_client_operation_duration_seconds_count", key)]
        assert math.isclose(point["sum"], scraped[("gen_ai_client_operation_duration_seconds_sum", key)])
    del still_open


def test_an_up_down_gauge_with_labels_is_refused() -> None:
    """An up-down gauge is one label-less count (an int the registry reads): declaring labels fails at once."""
    from prometheus_client import CollectorRegistry

    from sidecar.telemetry.metrics import Spec, UpDownGauge

    spec = Spec("x_in_flight", "x", ("route",), "x.in_flight", ("route",), "1")
    with pytest.raises(ValueError, match="no labels"):
        UpDownGauge(spec, CollectorRegistry(), None)


def test_counters_and_histograms_expose_the_text_prometheus_client_metrics_would() -> None:
    """The sidecar's counters and histograms (plain numbers made into families at collection) render
    byte for byte what ``prometheus_client``'s own ``Counter`` and ``Histogram`` render for the same
    updates: names, help, label order, bucket bounds (``+Inf`` added), cumulative counts, sums, series
    order."""
    from dataclasses import replace

    import prometheus_client

    from sidecar.telemetry.instruments import REQUEST_BUCKETS
    from sidecar.telemetry.metrics import Counter, Histogram, Spec, new_registry, render

    help_text = 'Requests "all".\nSecond line.'
    counter = Spec("x_requests_total", help_text, ("route", "code"), "x.requests", ("r", "c"), "1")
    histogram = Spec("x_duration_seconds", "Duration.", ("route",), "x.duration", ("r",), "s", REQUEST_BUCKETS)
    ours, theirs = new_registry(), new_registry()
    our_counter, our_histogram = Counter(counter, ours, None), Histogram(histogram, ours, None)
    Counter(replace(counter, name="y_total", labels=(), otel_keys=()), ours, None)  # label-less: one series at 0
    Histogram(replace(histogram, name="z", labels=(), otel_keys=()), ours, None)
    their_counter = prometheus_client.Counter(counter.name, counter.help, counter.labels, registry=theirs)
    their_histogram = prometheus_client.Histogram(
        histogram.name, histogram.help, histogram.labels, registry=theirs, buckets=REQUEST_BUCKETS
    )
    prometheus_client.Counter("y_total", counter.help, registry=theirs)
    prometheus_client.Histogram("z", histogram.help, registry=theirs, buckets=REQUEST_BUCKETS)
    assert own_metrics(render(ours)) == own_metrics(render(theirs))  # declared, no series yet
    for route, code, amount in [("b", "2xx", 1), ("a", "5xx", 3), ("b", "2xx", 0.25), ('q"\\\n', "2xx", 7)]:
        our_counter.inc((route, code), amount)
        their_counter.labels(route, code).inc(amount)
    series = our_histogram.series(("kept",))
    their_kept = their_histogram.labels("kept")
    for route, seconds in [("b", 0.0), ("a", 0.001), ("b", 0.0011), ("a", 0.32), ("b", 327.68), ("b", 1e6), ("a", 7)]:
        our_histogram.observe((route,), seconds)
        their_histogram.labels(route).observe(seconds)
        series.observe(seconds / 2)
        their_kept.observe(seconds / 2)
    assert own_metrics(render(ours)) == own_metrics(render(theirs))


def own_metrics(text: bytes) -> bytes:
    """``text`` without the process collector's families (each registry's, read at its own render: the
    CPU seconds and memory move between two renders)."""
    kept = [line for line in text.splitlines(keepends=True) if b"process_" not in line.split(b"{")[0]]
    assert len(kept) < len(text.splitlines())  # the process families were there to leave out
    return b"".join(kept)


def test_a_replaced_cache_store_counts_its_last_moves_and_the_new_store_from_zero() -> None:
    """A reload that replaces the cache store: what the old store counted since the last reading is
    counted (``CacheReadings.store_retired``), its entries are gone from the gauge, and the new store's counters
    start from zero, so a new store that reaches the old one's last reading before the next reading is not
    undercounted."""
    telemetry = Telemetry.from_env({}, service_version="t")
    telemetry.cache.store({"stores": 5})
    telemetry.cache.store_retired({"stores": 8, "entries": 4})  # three more stores after the last reading
    assert value(telemetry, "llm_sidecar_cache_entries") == 0  # the old store's entries are gone
    telemetry.cache.store({"stores": 9})  # the new store, first read past the old one's last count
    assert value(telemetry, "llm_sidecar_cache_stores_total", result="stored") == 8 + 9
