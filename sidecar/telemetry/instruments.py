"""The sidecar's metric catalog: every instrument it records, built once per ``Telemetry`` (see ``metrics``).

GenAI client metrics (semantic conventions, see ``genai``): operation duration, token usage, time to
first chunk, time per output chunk. The sidecar's own ``llm_sidecar_*`` metrics: requests, request
duration, in-flight, upstream attempts and errors, fallbacks, skips, rejections, breaker state and
transitions, policy reloads and the state of the last one, tokens, cost, cache results, spans dropped,
build info; ensemble decisions and member results, quality gate failures, shadow results, cost and
duration.
Label values are always strings; an absent value is ``""``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from .metrics import Counter, Gauge, Histogram, Spec, UpDownGauge

if TYPE_CHECKING:
    import prometheus_client
    from opentelemetry.metrics import Meter

# gen_ai.client.operation.duration / time_to_first_chunk / time_per_output_chunk: 0.01 .. 81.92 s doubling.
DURATION_BUCKETS: Final = tuple(0.01 * 2**i for i in range(14))
# gen_ai.client.token.usage: 1, 4, 16, ... 67108864 (powers of 4).
TOKEN_BUCKETS: Final = tuple(4**i for i in range(14))
# Per-chunk gaps are mostly milliseconds: 1 ms .. 8.192 s doubling.
CHUNK_BUCKETS: Final = tuple(0.001 * 2**i for i in range(14))
# A proxied request: from sub-millisecond rejections to multi-minute generations.
REQUEST_BUCKETS: Final = (0.001, 0.0025, 0.005, *DURATION_BUCKETS, 163.84, 327.68)

BREAKER_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}

_GENAI_LABELS: Final = (
    ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"),
    ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model"),
)


def _genai(*extra: tuple[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    prom, otel = _GENAI_LABELS
    return (*prom, *(p for p, _ in extra)), (*otel, *(o for _, o in extra))


class Instruments:
    """All instruments, as attributes; the request path calls them directly."""

    def __init__(
        self, registry: prometheus_client.CollectorRegistry, meter: Meter | None, *, service_version: str
    ) -> None:
        def counter(spec: Spec) -> Counter:
            return Counter(spec, registry, meter)

        def histogram(spec: Spec, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(replace(spec, buckets=buckets), registry, meter)

        def gauge(spec: Spec) -> Gauge:
            return Gauge(spec, registry, meter)

        labels, otel = _genai(("gen_ai_response_model", "gen_ai.response.model"), ("error_type", "error.type"))
        self.genai_duration = histogram(
            Spec(
                "gen_ai_client_operation_duration_seconds",
                "GenAI operation duration (one upstream call).",
                labels,
                "gen_ai.client.operation.duration",
                otel,
                "s",
            ),
            DURATION_BUCKETS,
        )
        labels, otel = _genai(
            ("gen_ai_response_model", "gen_ai.response.model"), ("gen_ai_token_type", "gen_ai.token.type")
        )
        self.genai_tokens = histogram(
            Spec(
                "gen_ai_client_token_usage",
                "Tokens used per upstream call, by gen_ai_token_type (input, output).",
                labels,
                "gen_ai.client.token.usage",
                otel,
                "{token}",
            ),
            TOKEN_BUCKETS,
        )
        labels, otel = _genai()
        self.genai_ttfc = histogram(
            Spec(
                "gen_ai_client_operation_time_to_first_chunk_seconds",
                "Time from sending a streaming upstream call to its first chunk.",
                labels,
                "gen_ai.client.operation.time_to_first_chunk",
                otel,
                "s",
            ),
            DURATION_BUCKETS,
        )
        self.genai_chunk = histogram(
            Spec(
                "gen_ai_client_operation_time_per_output_chunk_seconds",
                "Time between consecutive output chunks of a streaming upstream call, after the first.",
                labels,
                "gen_ai.client.operation.time_per_output_chunk",
                otel,
                "s",
            ),
            CHUNK_BUCKETS,
        )
        self.requests = counter(
            _own(
                "requests_total",
                "Requests answered, by route, served model, outcome and status class.",
                ("route", "served_model", "outcome", "status_class"),
                "{request}",
            )
        )
        self.request_duration = histogram(
            _own(
                "request_duration_seconds",
                "Time from receiving a request to its end (last byte of a stream).",
                ("route", "outcome"),
                "s",
            ),
            REQUEST_BUCKETS,
        )
        self.in_flight = UpDownGauge(
            _own("requests_in_flight", "Requests started and not finished.", (), "{request}"), registry, meter
        )
        self.attempts = counter(
            _own(
                "upstream_attempts_total",
                "Upstream calls made, by target and outcome (ok, error).",
                ("target", "outcome"),
                "{call}",
            )
        )
        self.upstream_errors = counter(
            _own(
                "upstream_errors_total",
                "Upstream calls that failed, by target and error type.",
                ("target", "error_type"),
                "{call}",
            )
        )
        self.fallbacks = counter(
            _own(
                "fallbacks_total",
                "Moves from one target to the next, by the reason.",
                ("reason",),
                "{fallback}",
            )
        )
        self.skips = counter(
            _own(
                "skips_total",
                "Targets skipped without a call (breaker open, rate limited, bulkhead full, ...).",
                ("target", "reason"),
                "{skip}",
            )
        )
        self.rejections = counter(
            _own(
                "rejections_total",
                "Requests refused before any upstream call, by reason.",
                ("reason",),
                "{request}",
            )
        )
        self.breaker_state = gauge(
            _own(
                "breaker_state",
                "Circuit breaker state per target: 0 closed, 1 half_open, 2 open.",
                ("target",),
                "1",
            )
        )
        self.breaker_transitions = counter(
            _own(
                "breaker_transitions_total",
                "Circuit breaker transitions, by target and new state.",
                ("target", "to"),
                "{transition}",
            )
        )
        self.policy_reloads = counter(
            _own("policy_reloads_total", "Policy reloads, by outcome (ok, error).", ("outcome",), "{reload}")
        )
        self.policy_last_reload_ok = gauge(
            _own(
                "policy_last_reload_successful",
                "1 when the policy file was last applied (at start or by a reload), 0 when it was rejected "
                "and an older policy serves.",
                (),
                "1",
            )
        )
        self.policy_loaded_at = gauge(
            _own(
                "policy_last_reload_timestamp_seconds",
                "Unix time the policy being served was loaded (at start or by the last applied reload).",
                (),
                "s",
            )
        )
        self.cost = counter(
            _own(
                "cost_usd_total",
                "Estimated cost in US dollars, from policy prices and reported usage.",
                ("served_model", "route"),
                "{USD}",
            )
        )
        self.tokens = counter(
            _own(
                "tokens_total",
                "Tokens reported by providers, by served model, route and type (input, output, cached_input).",
                ("served_model", "route", "type"),
                "{token}",
            )
        )
        self.cache = counter(
            _own(
                "cache_results_total",
                "Requests on caching routes, by the cache's result (hit, miss, refresh, stale, bypass).",
                ("result",),
                "{lookup}",
            )
        )
        self.ensemble_decisions = counter(
            _own(
                "ensemble_decisions_total",
                "Ensemble votes decided, by route, strategy and how (quorum, all, unanimous, judge, ...).",
                ("route", "strategy", "decided"),
                "{decision}",
            )
        )
        self.ensemble_members = counter(
            _own(
                "ensemble_member_results_total",
                "Ensemble members' fates, by route, member and result (won, outvoted, failed, unusable, cancelled).",
                ("route", "member", "result"),
                "{member}",
            )
        )
        self.gate_failures = counter(
            _own(
                "gate_failures_total",
                "Answers a quality gate rejected, by route, gate and the escalation (reask, next_target).",
                ("route", "gate", "action"),
                "{answer}",
            )
        )
        self.shadow_results = counter(
            _own(
                "shadow_results_total",
                "Shadow calls by route, task class, candidate and result (agreed, disagreed, not_comparable, "
                "failed, skipped).",
                ("route", "task", "candidate", "result"),
                "{call}",
            )
        )
        self.shadow_cost = counter(
            _own(
                "shadow_cost_usd_total",
                "Cost of shadow calls (side candidate) and of the served answers they shadowed (side served).",
                ("route", "task", "candidate", "side"),
                "{USD}",
            )
        )
        self.shadow_duration = histogram(
            _own(
                "shadow_duration_seconds",
                "Duration of shadow calls (the candidate's answer), by route, task class and candidate.",
                ("route", "task", "candidate"),
                "s",
            ),
            DURATION_BUCKETS,
        )
        budget_labels = ("limit", "scope", "measure", "window")
        self.budget_used = gauge(
            _own(
                "budget_used",
                "Use of each budget limit in its current window (dollars, tokens or requests), per limit and "
                "scope value (the values the policy names, * for a global limit, other for the rest), as "
                "this pod last saw it.",
                budget_labels,
                "1",
            )
        )
        self.budget_remaining = gauge(
            _own(
                "budget_remaining",
                "What is left of each budget limit in its current window, per limit and scope value.",
                budget_labels,
                "1",
            )
        )
        self.budget_decisions = counter(
            _own(
                "budget_decisions_total",
                "Requests on which a budget limit acted, by limit and verdict (deny, downgrade, warn; "
                "unavailable: denied because the store is down and a limit fails closed, limit empty).",
                ("limit", "verdict"),
                "{request}",
            )
        )
        self.budget_events = counter(
            _own(
                "budget_events_total",
                "Budget ledger events: store_errors (a shared-store call failed), fallback_reservations "
                "(counted in this pod: the store is down), settlements_dropped (retry queue full), "
                "internal_errors (a request served unbudgeted).",
                ("event",),
                "{event}",
            )
        )
        self.budget_pending = gauge(
            _own(
                "budget_pending_settlements",
                "Settlements queued for the shared budget store while it is unavailable.",
                (),
                "{settlement}",
            )
        )
        self.routing_decisions = counter(
            _own(
                "routing_decisions_total",
                "Requests classified by routing, by route, task class, complexity, tier and split arm.",
                ("route", "task", "complexity", "tier", "arm"),
                "{request}",
            )
        )
        self.routing_served_cost = counter(
            _own(
                "routing_served_cost_usd_total",
                "Routing: cost of the model that served, from its price and the reported usage.",
                ("route", "task"),
                "{USD}",
            )
        )
        self.routing_requested_cost = counter(
            _own(
                "routing_requested_cost_usd_total",
                "Routing: what the model the app asked for would have cost for the same tokens.",
                ("route", "task"),
                "{USD}",
            )
        )
        # The response cache's store: read from ``ResponseCache.snapshot()`` at scrape time (``cache_store``).
        self.cache_entries = gauge(_own("cache_entries", "Entries held by the memory store.", (), "{entry}"))
        self.cache_bytes = gauge(
            _own("cache_bytes", "Bytes held by the memory store (entries, keys, bookkeeping).", (), "By")
        )
        self.cache_evictions = counter(
            _own("cache_evictions_total", "Entries the memory store evicted to make room.", (), "{entry}")
        )
        self.cache_stores = counter(
            _own(
                "cache_stores_total",
                "Answers written to the cache (stored) or not (skipped: not storable, too large, write failed).",
                ("result",),
                "{entry}",
            )
        )
        self.cache_store_errors = counter(
            _own(
                "cache_store_errors_total",
                "Cache store operations that failed, by kind (error, timeout, breaker_open, damaged); each a miss.",
                ("kind",),
                "{operation}",
            )
        )
        self.cache_breaker_state = gauge(
            _own("cache_breaker_state", "The Redis store's breaker: 0 closed, 1 half_open, 2 open.", (), "1")
        )
        self.cache_coalesced = counter(
            _own(
                "cache_coalesced_total",
                "Requests answered by an identical request's upstream call (single flight).",
                (),
                "{request}",
            )
        )
        self.cache_saved_cost = counter(
            _own(
                "cache_saved_cost_usd_total",
                "Upstream cost not spent thanks to cache hits, stale answers and single flight.",
                (),
                "{USD}",
            )
        )
        self.cache_saved_tokens = counter(
            _own("cache_saved_output_tokens_total", "Output tokens not generated thanks to the cache.", (), "{token}")
        )
        self.spans_dropped = counter(
            _own(
                "spans_dropped_total",
                "Finished spans not exported: export queue full, export failed, or left at shutdown.",
                (),
                "{span}",
            )
        )
        self.build_info = gauge(
            _own("build_info", "Always 1; the version label names the running build.", ("version",), "1")
        )
        self.build_info.set((service_version,), 1)


def _own(suffix: str, help_text: str, labels: tuple[str, ...], unit: str) -> Spec:
    name = f"llm_sidecar_{suffix}"
    base = suffix.removesuffix("_total").removesuffix("_seconds")
    return Spec(name, help_text, labels, f"llm_sidecar.{base}", labels, unit)
