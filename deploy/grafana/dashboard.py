"""Builds the Grafana dashboard deploy/grafana/llm-sidecar.json from the rows below.

    python deploy/grafana/dashboard.py > deploy/grafana/llm-sidecar.json

The JSON is what you import (Dashboards > New > Import, or a provisioning folder); this script is
where it is edited: ``tests/deploy/test_dashboard.py`` fails when the two differ, and checks every
query against the metric names in docs/observability.md. Every query is also run against a real
Prometheus scraping a real sidecar (``tests/deploy/test_prometheus_live.py``).

Labels the dashboard filters on: ``namespace`` and ``app`` must be attached to every series by the
scrape or pipeline that brings the metrics to Prometheus (the sidecar does not emit them:
deploy/prometheus/scrape-config.yaml and llm-sidecar-podmonitor.yaml attach them from the pod's
Kubernetes labels; docs/operations.md, "Dashboards and alerts"); ``route`` is the sidecar's own label.

Adding a row: write a function returning ``Row`` (a title and its panels) and add it to ``ROWS``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'namespace=~"$namespace", app=~"$app"'
ROUTE_SEL = f'{SEL}, route=~"$route"'
RATE = "$__rate_interval"
# A count of pods in trouble: green at 0, red from 1.
RED_FROM_ONE = {
    "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}
}

# A breaker's state gauge (0 closed, 1 half open, 2 open) shown by name and colour.
BREAKER_STATES = {
    "mappings": [
        {
            "type": "value",
            "options": {
                "0": {"text": "closed", "color": "green", "index": 0},
                "1": {"text": "half open", "color": "yellow", "index": 1},
                "2": {"text": "open", "color": "red", "index": 2},
            },
        }
    ],
    "color": {"mode": "thresholds"},
    "thresholds": {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}, {"color": "yellow", "value": 1}, {"color": "red", "value": 2}],
    },
}


@dataclass
class Query:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    title: str
    queries: list[Query]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 8
    height: int = 8
    description: str = ""
    no_value: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    field_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    title: str
    panels: list[Panel]
    collapsed: bool = False


def rate(metric: str, selector: str = SEL) -> str:
    return f"rate({metric}{{{selector}}}[{RATE}])"


def quantiles(metric: str, by: str, selector: str = SEL) -> list[Query]:
    """p50, p95 and p99 of a histogram, one query each, by the labels ``by``."""
    return [
        Query(
            f"histogram_quantile({q}, sum by (le, {by}) ({rate(metric + '_bucket', selector)}))",
            f"{{{{{by.split(', ')[0]}}}}} p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def sidecar_process(expr: str) -> str:
    """``expr`` (of ``process_*`` series) kept to the sidecars' own scrape targets: another container of the
    pod may export ``process_*`` with the same pod labels, so only the targets that also export
    ``llm_sidecar_build_info`` are kept (``and on (instance)``)."""
    return f"({expr} and on (instance) llm_sidecar_build_info{{{SEL}}})"


def ratio(part: str, whole: str, by: str) -> str:
    """``part / whole`` per ``by``; a group without ``part`` series counts 0 (shown, not missing)."""
    return f"sum by ({by}) ({part} or 0 * {whole}) / sum by ({by}) ({whole})"


def traffic() -> Row:
    requests = rate("llm_sidecar_requests_total", ROUTE_SEL)
    server_errors = rate("llm_sidecar_requests_total", ROUTE_SEL + ', status_class="5xx"')
    stream_errors = rate("llm_sidecar_requests_total", ROUTE_SEL + ', outcome="stream_error"')
    errors = f"{server_errors} or {stream_errors}"
    return Row(
        "Traffic",
        [
            Panel(
                "Requests by route and served model",
                [Query(f"sum by (route, served_model) ({requests})", "{{route}} → {{served_model}}")],
                unit="reqps",
                description="Requests answered per second. served_model is empty when no target answered.",
            ),
            Panel(
                "Error ratio by route and served model",
                [Query(ratio(f"({errors})", requests, "route, served_model"), "{{route}} → {{served_model}}")],
                unit="percentunit",
                description="Share of requests answered 5xx or whose stream ended in an error event. "
                "Failed requests have an empty served_model. 4xx are the caller's errors and not counted.",
            ),
            Panel(
                "Requests by outcome",
                [Query(f"sum by (outcome) ({requests})", "{{outcome}}")],
                unit="reqps",
                options={"stacking": "normal"},
            ),
            Panel(
                "Requests in flight",
                [Query(f"sum(llm_sidecar_requests_in_flight{{{SEL}}})", "in flight")],
                width=12,
                height=6,
            ),
            Panel(
                "Requests refused before any upstream call, by reason",
                [Query(f"sum by (reason) ({rate('llm_sidecar_rejections_total')})", "{{reason}}")],
                unit="reqps",
                width=12,
                height=6,
            ),
        ],
    )


def fallbacks_and_breakers() -> Row:
    requests = rate("llm_sidecar_requests_total", ROUTE_SEL)
    fell_back = rate("llm_sidecar_requests_total", ROUTE_SEL + ', outcome=~"fallback|degraded"')
    attempts = rate("llm_sidecar_upstream_attempts_total")
    failed_attempts = rate("llm_sidecar_upstream_attempts_total", SEL + ', outcome="error"')
    return Row(
        "Fallbacks and breakers",
        [
            Panel(
                "Fallbacks by reason",
                [Query(f"sum by (reason) ({rate('llm_sidecar_fallbacks_total')})", "{{reason}}")],
                unit="ops",
                description="Moves from one target of a chain to the next, per second, by the reason.",
            ),
            Panel(
                "Fallback ratio by route",
                [Query(ratio(fell_back, requests, "route"), "{{route}}")],
                unit="percentunit",
                description="Share of requests answered by a later target of the chain or the last resort "
                "(alert LLMSidecarFallbackRatioHigh).",
            ),
            Panel(
                "Breaker state per target",
                [Query(f"max by (target) (llm_sidecar_breaker_state{{{SEL}}})", "{{target}}")],
                kind="state-timeline",
                description="Worst state over the selected pods: each sidecar has its own breakers. "
                "The gauge changes on transitions only; a target appears after its first transition.",
                field_config=BREAKER_STATES,
            ),
            Panel(
                "Breaker transitions per target",
                [
                    Query(
                        f"sum by (target, to) (increase(llm_sidecar_breaker_transitions_total{{{SEL}}}[{RATE}]))",
                        "{{target}} → {{to}}",
                    )
                ],
                options={"drawStyle": "bars"},
                description="Transitions of each target's breaker over the selected pods: to open (a trip), "
                "half_open (probes allowed) and closed (recovered). A breaker that trips again and again between "
                "two scrapes flaps unseen on the state timeline; here each trip counts.",
            ),
            Panel(
                "Targets skipped without a call, by reason",
                [Query(f"sum by (target, reason) ({rate('llm_sidecar_skips_total')})", "{{target}} {{reason}}")],
                unit="ops",
            ),
            Panel(
                "Bulkhead use per target",
                [
                    Query(
                        f"max by (target) (llm_sidecar_bulkhead_in_flight{{{SEL}}} "
                        f"/ llm_sidecar_bulkhead_max_concurrent{{{SEL}}})",
                        "{{target}}",
                    )
                ],
                unit="percentunit",
                description="Calls in flight to each target as a share of its bulkhead's max_concurrent, on the "
                "fullest of the selected pods (each sidecar has its own bulkheads). At 100 % new calls queue for "
                "up to queue_timeout_s, then skip the target (bulkhead_full; alert LLMSidecarBulkheadSaturated).",
            ),
            Panel(
                "Calls queued for a bulkhead slot per target",
                [Query(f"sum by (target) (llm_sidecar_bulkhead_queued{{{SEL}}})", "{{target}}")],
                description="Calls waiting for a slot of a full bulkhead, over the selected pods. Those that waited "
                "in vain are the skips bulkhead_full above.",
            ),
            Panel(
                "Bulkhead queue time per target (p50, p95), by outcome",
                [
                    Query(
                        f"histogram_quantile({q}, sum by (le, target, outcome) "
                        f"({rate('llm_sidecar_bulkhead_wait_seconds_bucket')}))",
                        f"{{{{target}}}} {{{{outcome}}}} p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                unit="s",
                description="How long calls that queued for a bulkhead slot waited: slot (then called), timeout "
                "(queue_timeout_s passed: skipped, bulkhead_full) or cancelled (the caller left). Calls that found "
                "a free slot are not in it. A p95 of slot near queue_timeout_s: raise max_concurrent or the "
                "timeout (docs/operations.md, Sizing for concurrency).",
            ),
            Panel(
                "Upstream error ratio by target",
                [Query(ratio(failed_attempts, attempts, "target"), "{{target}}")],
                unit="percentunit",
            ),
            Panel(
                "Upstream errors by target and type",
                [
                    Query(
                        f"sum by (target, error_type) ({rate('llm_sidecar_upstream_errors_total')})",
                        "{{target}} {{error_type}}",
                    )
                ],
                unit="ops",
            ),
        ],
    )


def latency() -> Row:
    provider = "gen_ai_provider_name"
    return Row(
        "Latency",
        [
            Panel(
                "Upstream call duration by provider (p50, p95, p99)",
                quantiles("gen_ai_client_operation_duration_seconds", provider),
                unit="s",
                width=12,
                description="One upstream call, to its last byte. Provider is the API kind "
                "(openai, anthropic, gcp.gemini, azure.ai.openai), not the policy's provider name.",
            ),
            Panel(
                "Time to first token by provider (p50, p95, p99)",
                quantiles("gen_ai_client_operation_time_to_first_chunk_seconds", provider),
                unit="s",
                width=12,
                description="Streams only: from sending the call to the first chunk sent to the app "
                "(alert LLMSidecarTimeToFirstTokenRegression).",
            ),
            Panel(
                "Request duration by route (p50, p95, p99)",
                quantiles("llm_sidecar_request_duration_seconds", "route", ROUTE_SEL),
                unit="s",
                width=12,
                description="From receiving the app's request to its end, fallbacks included.",
            ),
            Panel(
                "Time between output chunks by provider (p95)",
                quantiles("gen_ai_client_operation_time_per_output_chunk_seconds", provider)[1:2],
                unit="s",
                width=12,
            ),
        ],
    )


def tokens_and_cost() -> Row:
    cost = rate("llm_sidecar_cost_usd_total", ROUTE_SEL)
    tokens = rate("llm_sidecar_tokens_total", ROUTE_SEL)
    app_note = (
        "app is the pod's label (one app per sidecar), attached by the metrics pipeline; "
        "the sidecar's own series carry no app."
    )
    return Row(
        "Tokens and cost",
        [
            Panel(
                "Tokens per second by served model and type",
                [Query(f"sum by (served_model, type) ({tokens})", "{{served_model}} {{type}}")],
                width=12,
            ),
            Panel(
                "Tokens per second by route and type",
                [Query(f"sum by (route, type) ({tokens})", "{{route}} {{type}}")],
                width=12,
            ),
            Panel(
                "Cost per hour by route",
                [Query(f"sum by (route) ({cost}) * 3600", "{{route}}")],
                unit="currencyUSD",
                width=12,
                description="Estimated from the policy's prices and the usage providers report.",
            ),
            Panel(
                "Cost over the time range by route and served model",
                [
                    Query(
                        f"sum by (route, served_model) (increase(llm_sidecar_cost_usd_total{{{ROUTE_SEL}}}[$__range]))",
                        "{{route}} → {{served_model}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="currencyUSD",
                width=12,
                options={"displayMode": "basic", "orientation": "horizontal"},
            ),
            Panel(
                "Tokens per second by app",
                [Query(f"sum by (app, type) ({tokens})", "{{app}} {{type}}")],
                width=12,
                description=app_note,
            ),
            Panel(
                "Cost per hour by app",
                [Query(f"sum by (app) ({cost}) * 3600", "{{app}}")],
                unit="currencyUSD",
                width=12,
                description=app_note,
            ),
            Panel(
                "Tokens per upstream call by provider and type (p50, p95)",
                [
                    Query(
                        f"histogram_quantile({q}, sum by (le, gen_ai_provider_name, gen_ai_token_type) "
                        f"({rate('gen_ai_client_token_usage_bucket')}))",
                        f"{{{{gen_ai_provider_name}}}} {{{{gen_ai_token_type}}}} p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                width=24,
                description="Input and output tokens of one upstream call (buckets by powers of 4: a quantile "
                "is a bucket's bound). Prompts that grew make calls slower and dearer: read it with *Time to "
                "first token* (alert LLMSidecarTimeToFirstTokenRegression).",
            ),
        ],
    )


def policy_and_sidecars() -> Row:
    return Row(
        "Policy and sidecars",
        [
            Panel(
                "Policy reloads by outcome",
                [
                    Query(
                        f"sum by (outcome) (increase(llm_sidecar_policy_reloads_total{{{SEL}}}[{RATE}]))",
                        "{{outcome}}",
                    )
                ],
                kind="timeseries",
                options={"drawStyle": "bars"},
                description="Applied (ok) and rejected (error) policy files. A pod's very first reload "
                "starts its counter, which increase() does not see: the stat next to this shows the pods "
                "a rejection left on an older policy.",
            ),
            Panel(
                "Sidecars serving a stale policy",
                [
                    Query(
                        f"count(llm_sidecar_policy_last_reload_successful{{{SEL}}} == 0) or vector(0)",
                        "pods",
                        instant=True,
                    )
                ],
                kind="stat",
                description="Pods that rejected their policy file and serve an older policy than the ConfigMap "
                "(alert LLMSidecarPolicyReloadRejected; /status shows .policy.last_reload_error).",
                field_config=RED_FROM_ONE,
            ),
            Panel(
                "Policy loaded, per pod",
                [
                    Query(
                        f"max by (pod) (llm_sidecar_policy_last_reload_timestamp_seconds{{{SEL}}}) * 1000",
                        "{{pod}}",
                        instant=True,
                    )
                ],
                kind="stat",
                unit="dateTimeFromNow",
                description="When each pod loaded the policy it serves (at start or by its last applied reload; "
                "/status .policy.loaded_at). A pod older than the others missed or rejected the last ConfigMap "
                "change; a change just before an incident is the first suspect (llm-sidecar diff).",
            ),
            Panel(
                "Connections refused at the cap",
                [
                    Query(
                        f"sum by (listener) (increase(llm_sidecar_connections_refused_total{{{SEL}}}[{RATE}]))",
                        "refused: {{listener}}",
                    ),
                ],
                kind="timeseries",
                description="Connections closed at once because a listener's connection cap was reached "
                "(SIDECAR_MAX_CONNECTIONS, lowered at start to fit the open-files limit: log "
                "file_descriptor_limit_low; /status .process). 0 in a healthy pod; a refusal fires the alert "
                "LLMSidecarConnectionsRefused (its runbook: docs/operations.md).",
            ),
            Panel(
                "Bytes bodies hold, share of the ceiling, and refusals",
                [
                    Query(
                        f"max by (pod) (llm_sidecar_held_bytes{{{SEL}}} / llm_sidecar_held_bytes_ceiling{{{SEL}}})",
                        "held: {{pod}}",
                    ),
                    Query(
                        f"sum(increase(llm_sidecar_held_bytes_refusals_total{{{SEL}}}[{RATE}]))",
                        "refused",
                    ),
                ],
                kind="timeseries",
                description="Per pod, the bytes request bodies, answers read whole and unfinished stream events "
                "hold now, as a share of the process's ceiling (SIDECAR_MAX_HELD_BYTES, by default half the "
                "memory limit; /status .process.held_bytes), and the bodies refused at it (a request's 503, an "
                "attempt's held_bytes_full). Refusals in steady traffic: the pod's memory limit is too small for "
                "its bodies; a refusal fires the alert LLMSidecarHeldBytesRefused (its runbook: docs/operations.md).",
            ),
            Panel(
                "Open files, share of the limit",
                [
                    Query(
                        "max by (pod) " + sidecar_process(f"process_open_fds{{{SEL}}} / process_max_fds{{{SEL}}}"),
                        "{{pod}}",
                    )
                ],
                kind="timeseries",
                unit="percentunit",
                description="Per pod, the sidecar's open file descriptors (each app connection, each upstream "
                "connection) as a share of its open-files limit (/status .process open_fds and max_fds). At the "
                "limit the connections it accepts are reset and nothing is logged; above 90 % for 5 minutes the "
                "alert LLMSidecarFileDescriptorsLow fires (its runbook: docs/operations.md).",
            ),
            Panel(
                "Sidecar memory per pod",
                [Query("max by (pod) " + sidecar_process(f"process_resident_memory_bytes{{{SEL}}}"), "{{pod}}")],
                kind="timeseries",
                unit="bytes",
                description="Per pod, the sidecar process's resident memory (RSS), what its container's memory "
                "limit is compared with (docs/operations.md, memory sizing).",
            ),
            Panel(
                "Sidecar CPU per pod",
                [Query("max by (pod) " + sidecar_process(rate("process_cpu_seconds_total")), "{{pod}}")],
                kind="timeseries",
                unit="short",
                description="Per pod, the cores the sidecar process uses (user and system CPU seconds per second).",
            ),
            Panel(
                "Sidecars by version",
                [Query(f"count by (version) (llm_sidecar_build_info{{{SEL}}})", "{{version}}", instant=True)],
                kind="stat",
            ),
        ],
    )


def logs_and_traces() -> Row:
    requests = rate("llm_sidecar_requests_total", ROUTE_SEL)
    sampled_out = rate("llm_sidecar_access_lines_sampled_out_total", ROUTE_SEL)
    return Row(
        "Access log and traces",
        [
            Panel(
                "Access lines written, share of requests by route",
                [Query(f"1 - {ratio(sampled_out, requests, 'route')}", "{{route}}")],
                unit="percentunit",
                width=12,
                description="The share of requests whose access line was written: 100 % without an access_log "
                "block; below it the policy's access_log sampling left the rest out (docs/logs.md, 'Sampling "
                "the access line'). The lines always kept (errors, fallbacks, retries...) count in full, so the "
                "share is at least the sample rate. Count requests from the metrics (these panels), or from "
                "the log by summing 1 / sample_rate, never by counting lines.",
            ),
            Panel(
                "Log lines and spans lost",
                [
                    Query(f"sum(increase(llm_sidecar_log_lines_dropped_total{{{SEL}}}[{RATE}]))", "log lines dropped"),
                    Query(f"sum(increase(llm_sidecar_spans_dropped_total{{{SEL}}}[{RATE}]))", "spans dropped"),
                ],
                width=12,
                description="Log lines dropped because whatever reads the pod's stdout stalled (the requests "
                "were served; docs/logs.md), and finished spans never exported (the export queue full, an "
                "export failed: sample less, docs/observability.md 'Sampling advice'). Both 0 in a healthy pod; "
                "unlike the access lines sampled out, these losses were not chosen (alert LLMSidecarLogLinesDropped).",
            ),
        ],
    )


def cache() -> Row:
    lookups = rate("llm_sidecar_cache_results_total")
    hits = rate("llm_sidecar_cache_results_total", SEL + ', result="hit"')
    off = "cache off: no lookups on the selected sidecars"
    return Row(
        "Cache",
        [
            Panel(
                "Cache hit ratio",
                [Query(f"sum({hits}) / sum({lookups})", "hit ratio")],
                unit="percentunit",
                width=12,
                no_value=off,
                description="Empty while no route of the policy caches answers.",
            ),
            Panel(
                "Cache lookups by result",
                [Query(f"sum by (result) ({lookups})", "{{result}}")],
                unit="ops",
                width=12,
                no_value=off,
            ),
            Panel(
                "Cost saved by the cache per hour",
                [Query(f"sum({rate('llm_sidecar_cache_saved_cost_usd_total')}) * 3600", "saved")],
                unit="currencyUSD",
                width=8,
                no_value=off,
                description="The stored cost of the answers served from the cache (hits, stale, single flight).",
            ),
            Panel(
                "Memory cache fill",
                [
                    Query(f"sum(llm_sidecar_cache_bytes{{{SEL}}})", "bytes held"),
                    Query(f"sum(llm_sidecar_cache_entries{{{SEL}}})", "entries"),
                ],
                width=8,
                no_value=off,
                description="Bytes and entries of the memory stores (bounded by cache.memory in the policy).",
            ),
            Panel(
                "Pods whose cache store cannot open",
                [Query(f"sum(llm_sidecar_cache_unavailable{{{SEL}}})", "pods", instant=True)],
                kind="stat",
                width=8,
                description="Pods whose policy caches but which cannot read the cache's Redis password: their "
                "caching routes run uncached (alert LLMSidecarCacheUnavailable; log line cache_unavailable).",
                field_config=RED_FROM_ONE,
            ),
            Panel(
                "Cache writes and evictions",
                [
                    Query(f"sum by (result) ({rate('llm_sidecar_cache_stores_total')})", "{{result}}"),
                    Query(f"sum({rate('llm_sidecar_cache_evictions_total')})", "evicted"),
                ],
                unit="ops",
                no_value=off,
                description="Answers written to the cache (stored) or not (skipped: not storable, too large, a "
                "failed write, a store a reload retired), and entries the memory store evicted to make room. "
                "Evictions near the stored rate with a low hit ratio: the memory store is too small (cache.memory).",
            ),
            Panel(
                "Redis cache errors by kind",
                [Query(f"sum by (kind) ({rate('llm_sidecar_cache_store_errors_total')})", "{{kind}}")],
                unit="ops",
                no_value="no cache store errors",
                description="Redis operations that failed, timed out, were skipped by the cache's open breaker, or "
                "read a damaged entry: each is a miss, never a failed request (alert LLMSidecarCacheStoreFailing).",
            ),
            Panel(
                "Redis cache breaker",
                [Query(f"max(llm_sidecar_cache_breaker_state{{{SEL}}})", "breaker")],
                kind="state-timeline",
                no_value=off,
                description="The Redis store's breaker, worst over the selected pods: open, lookups skip Redis "
                "(misses) until a probe succeeds. Closed for a memory store.",
                field_config=BREAKER_STATES,
            ),
        ],
    )


def routing() -> Row:
    served = rate("llm_sidecar_routing_served_cost_usd_total", ROUTE_SEL)
    requested = rate("llm_sidecar_routing_requested_cost_usd_total", ROUTE_SEL)
    decisions = rate("llm_sidecar_routing_decisions_total", ROUTE_SEL)
    arms = rate("llm_sidecar_routing_decisions_total", ROUTE_SEL + ', arm!=""')
    off = "no routing: the selected sidecars' policies have no routing block, selection or split"
    return Row(
        "Routing by task and cost",
        [
            Panel(
                "Saved by routing per hour, by route and task",
                [Query(f"sum by (route, task) ({requested} - {served}) * 3600", "{{route}} {{task}}")],
                unit="currencyUSD",
                no_value=off,
                description="What the model the app asked for would have cost for the same tokens, minus what "
                "the model that served cost (docs/routing.md, 'Reading the savings metric'). Negative: routing "
                "sent traffic to a dearer model. Requests for a model the policy does not price are not counted.",
            ),
            Panel(
                "Share of the requested cost saved",
                [Query(f"1 - sum({served}) / sum({requested})", "saved")],
                unit="percentunit",
                no_value=off,
            ),
            Panel(
                "Requests by task and tier",
                [Query(f"sum by (task, tier) ({decisions})", "{{task}} → {{tier}}")],
                unit="reqps",
                no_value=off,
                description="Each request routing classified: its task class and the tier it needed.",
            ),
            Panel(
                "Requests by complexity",
                [Query(f"sum by (complexity) ({decisions})", "{{complexity}}")],
                unit="reqps",
                width=12,
                no_value=off,
            ),
            Panel(
                "Split arms",
                [
                    Query(
                        f"sum by (route, arm) ({arms})",
                        "{{route}} {{arm}}",
                    )
                ],
                unit="reqps",
                width=12,
                no_value="no split route on the selected sidecars",
            ),
        ],
    )


def ensembles_gates_shadows() -> Row:
    """Issue 20: ensemble votes, quality gates, and what shadow candidates would have answered."""
    decisions = rate("llm_sidecar_ensemble_decisions_total", ROUTE_SEL)
    members = rate("llm_sidecar_ensemble_member_results_total", ROUTE_SEL)
    gates = rate("llm_sidecar_gate_failures_total", ROUTE_SEL)
    shadow = rate("llm_sidecar_shadow_results_total", ROUTE_SEL)
    agreed = rate("llm_sidecar_shadow_results_total", ROUTE_SEL + ', result="agreed"')
    compared = rate("llm_sidecar_shadow_results_total", ROUTE_SEL + ', result=~"agreed|disagreed"')
    candidate_cost = rate("llm_sidecar_shadow_cost_usd_total", ROUTE_SEL + ', side="candidate"')
    served_cost = rate("llm_sidecar_shadow_cost_usd_total", ROUTE_SEL + ', side="served"')
    by = "route, task, candidate"
    off = "no ensemble, gate or shadow on the selected routes"
    return Row(
        "Ensembles, quality gates and shadow evaluation",
        [
            Panel(
                "Ensemble votes by how they were decided",
                [Query(f"sum by (route, decided) ({decisions})", "{{route}} {{decided}}")],
                unit="ops",
                no_value=off,
                description="quorum: decided early (the other calls cancelled); judge-fallback: the judge gave no "
                "verdict and the majority decided.",
            ),
            Panel(
                "Ensemble member results",
                [Query(f"sum by (route, member, result) ({members})", "{{route}} {{member}} {{result}}")],
                unit="ops",
                no_value=off,
                description="won: its answer won; outvoted; failed; unusable (no key after normalizing); "
                "cancelled (early quorum).",
            ),
            Panel(
                "Quality gate rejections by gate and escalation",
                [Query(f"sum by (route, gate, action) ({gates})", "{{route}} {{gate}} → {{action}}")],
                unit="ops",
                no_value=off,
            ),
            Panel(
                "Shadow agreement rate by route, task and candidate",
                [Query(ratio(agreed, compared, by), "{{route}} {{task}} {{candidate}}")],
                unit="percentunit",
                no_value=off,
                description="Of the shadow answers that could be compared, the share that agreed with the "
                "served answer (by the route's normalizer or judge).",
            ),
            Panel(
                "Shadow cost relative to the served answers",
                [Query(f"sum by ({by}) ({candidate_cost}) / sum by ({by}) ({served_cost})", "{{candidate}} {{task}}")],
                unit="percentunit",
                no_value=off,
                description="A candidate's cost over the served answers' cost on the same requests.",
            ),
            Panel(
                "Shadow calls by result",
                [Query(f"sum by (route, candidate, result) ({shadow})", "{{route}} {{candidate}} {{result}}")],
                unit="ops",
                no_value=off,
                description="skipped: the route's max_concurrent shadow calls were in flight; failed: the "
                "candidate gave no answer. Neither affects the served request.",
            ),
            Panel(
                "Shadow candidate latency",
                quantiles("llm_sidecar_shadow_duration_seconds", "candidate", ROUTE_SEL),
                unit="s",
                width=24,
                no_value=off,
            ),
        ],
    )


def budgets() -> Row:
    used = f"llm_sidecar_budget_used{{{SEL}}}"
    remaining = f"llm_sidecar_budget_remaining{{{SEL}}}"
    return Row(
        "Budgets",
        [
            Panel(
                "Budget use (share of each limit)",
                [Query(f"max by (limit, scope) ({used} / ({used} + {remaining}))", "{{limit}} {{scope}}")],
                unit="percentunit",
                width=12,
                no_value="no budget limits on the selected sidecars",
                description="Use of each limit in its current window, per scope value (named values, * for "
                "a global limit, other for the rest), the busiest pod's view.",
            ),
            Panel(
                "Budget decisions by limit and verdict",
                [
                    Query(
                        f"sum by (limit, verdict) ({rate('llm_sidecar_budget_decisions_total')})",
                        "{{limit}} {{verdict}}",
                    )
                ],
                unit="reqps",
                width=8,
                no_value="no limit acted",
                description="Requests a limit denied (429), downgraded or flagged (warn); unavailable: denied "
                "because the budget store is down and a limit fails closed.",
            ),
            Panel(
                "Budget settlements waiting for the store",
                [Query(f"max({'llm_sidecar_budget_pending_settlements'}{{{SEL}}})", "pending")],
                kind="stat",
                width=4,
                description="Use counted in pods while the shared store was unavailable, not yet sent to it.",
            ),
            Panel(
                "Budget store events",
                [Query(f"sum by (event) ({rate('llm_sidecar_budget_events_total')})", "{{event}}")],
                unit="ops",
                width=24,
                no_value="no budget store events",
                description="store_errors: a call to the shared budget store failed (alert "
                "LLMSidecarBudgetStoreErrors); fallback_reservations: a request counted in its pod alone while "
                "the store is down; settlements_dropped: use lost from the shared counters (queue full); "
                "internal_errors: a request served unbudgeted after an internal error.",
            ),
        ],
    )


ROWS = (
    traffic,
    fallbacks_and_breakers,
    latency,
    tokens_and_cost,
    routing,
    policy_and_sidecars,
    logs_and_traces,
    cache,
    ensembles_gates_shadows,
    budgets,
)


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
    }
    if panel.description:
        out["description"] = panel.description
    if panel.kind == "text":
        out["options"] = panel.options
        return out
    out["datasource"] = DATASOURCE
    defaults: dict[str, Any] = {"unit": panel.unit, **panel.field_config}
    if panel.no_value:
        defaults["noValue"] = panel.no_value
    options: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    if panel.kind == "timeseries":
        custom = {"drawStyle": panel.options.get("drawStyle", "line"), "fillOpacity": 10, "showPoints": "never"}
        if "stacking" in panel.options:
            custom["stacking"] = {"mode": panel.options["stacking"], "group": "A"}
        defaults["custom"] = custom
    else:
        options.update(panel.options)
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    out["options"] = options
    out["targets"] = [
        {
            "datasource": DATASOURCE,
            "refId": chr(ord("A") + i),
            "expr": q.expr,
            "legendFormat": q.legend,
            "range": not q.instant,
            "instant": q.instant,
        }
        for i, q in enumerate(panel.queries)
    ]
    return out


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    panel_id, y = 1, 0
    for build in ROWS:
        row = build()
        row_json: dict[str, Any] = {
            "id": panel_id,
            "type": "row",
            "title": row.title,
            "collapsed": row.collapsed,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        }
        panels.append(row_json)
        panel_id, y, x, line_height = panel_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            placed = panel_json(panel, panel_id, x, y)
            (row_json["panels"] if row.collapsed else panels).append(placed)
            panel_id, x, line_height = panel_id + 1, x + panel.width, max(line_height, panel.height)
        y += line_height
    return {
        "id": None,
        "uid": "llm-sidecar",
        "title": "llm-sidecar",
        "description": "LLM traffic through llm-sidecar: routes, fallbacks, breakers, latency, tokens, cost, "
        "policy reloads. Built by deploy/grafana/dashboard.py.",
        "tags": ["llm-sidecar", "llm"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "timezone": "browser",
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "30s",
        "annotations": {
            "list": [
                {
                    "name": "Policy reloads",
                    "datasource": DATASOURCE,
                    "enable": True,
                    "iconColor": "blue",
                    "expr": f"sum by (outcome) (changes(llm_sidecar_policy_reloads_total{{{SEL}}}[2m])) > 0",
                    "titleFormat": "policy reload: {{outcome}}",
                    "step": "1m",
                }
            ]
        },
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                },
                variable("namespace", "Namespace", "label_values(llm_sidecar_build_info, namespace)"),
                variable("app", "App", 'label_values(llm_sidecar_build_info{namespace=~"$namespace"}, app)'),
                variable(
                    "route",
                    "Route",
                    'label_values(llm_sidecar_requests_total{namespace=~"$namespace", app=~"$app"}, route)',
                ),
            ]
        },
        "panels": panels,
    }


if __name__ == "__main__":
    json.dump(dashboard(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
