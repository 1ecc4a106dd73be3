"""The sidecar's metric catalog: every instrument it records, built once per ``Telemetry`` (see ``metrics``).

``Instruments`` holds them all as attributes. Defined here, the request pipeline's: the GenAI client
metrics (semantic conventions, see ``genai``: operation duration, token usage, time to first chunk, time
per output chunk) and the sidecar's own ``llm_sidecar_*`` metrics of every request: requests, request
duration, in-flight, upstream attempts and errors, fallbacks, skips, rejections, breaker state and
transitions, bulkhead use and queue time, policy reloads and the state of the last one, cost, tokens,
spans dropped, build info. The policy features' (response cache, ensembles, quality gates, shadow
evaluation, budgets, routing) are in ``feature_instruments``.
Label values are always strings; an absent value is ``""``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .feature_instruments import FeatureInstruments
from .genai import DURATION_BUCKETS
from .held_series import CallSeries, RequestSeries
from .label_bound import RESPONSE_MODELS, BoundedLabel
from .metrics import Makers, Spec, UpDownGauge, own

if TYPE_CHECKING:
    import prometheus_client
    from opentelemetry.metrics import Meter

# gen_ai.client.token.usage: 1, 4, 16, ... 67108864 (powers of 4).
TOKEN_BUCKETS: Final = tuple(4**i for i in range(14))
# Per-chunk gaps are mostly milliseconds: 1 ms .. 8.192 s doubling.
CHUNK_BUCKETS: Final = tuple(0.001 * 2**i for i in range(14))
# A wait for a bulkhead slot: queue timeouts of milliseconds to tens of seconds.
BULKHEAD_WAIT_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
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


class Instruments(FeatureInstruments):
    """All instruments, as attributes (the features' from ``FeatureInstruments``); the request path calls
    them directly."""

    def __init__(
        self, registry: prometheus_client.CollectorRegistry, meter: Meter | None, *, service_version: str
    ) -> None:
        make = Makers(registry, meter)
        counter, histogram, gauge = make.counter, make.histogram, make.gauge

        # gen_ai_response_model is what the upstream's answer says: a bounded set of values (label_bound)
        self.response_models = BoundedLabel(RESPONSE_MODELS)
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
            own(
                "requests_total",
                "Requests answered, by route, served model, outcome and status class.",
                ("route", "served_model", "outcome", "status_class"),
                "{request}",
            )
        )
        self.request_duration = histogram(
            own(
                "request_duration_seconds",
                "Time from receiving a request to its end (last byte of a stream).",
                ("route", "outcome"),
                "s",
            ),
            REQUEST_BUCKETS,
        )
        self.in_flight = UpDownGauge(
            own("requests_in_flight", "Requests started and not finished.", (), "{request}"), registry, meter
        )
        self.attempts = counter(
            own(
                "upstream_attempts_total",
                "Upstream calls made, by target and outcome (ok, error).",
                ("target", "outcome"),
                "{call}",
            )
        )
        self.upstream_errors = counter(
            own(
                "upstream_errors_total",
                "Upstream calls that failed, by target and error type.",
                ("target", "error_type"),
                "{call}",
            )
        )
        self.fallbacks = counter(
            own(
                "fallbacks_total",
                "Moves from one target to the next, by the reason.",
                ("reason",),
                "{fallback}",
            )
        )
        self.skips = counter(
            own(
                "skips_total",
                "Targets skipped without a call (breaker open, rate limited, bulkhead full, ...).",
                ("target", "reason"),
                "{skip}",
            )
        )
        self.rejections = counter(
            own(
                "rejections_total",
                "Requests refused before any upstream call, by reason.",
                ("reason",),
                "{request}",
            )
        )
        self.breaker_state = gauge(
            own(
                "breaker_state",
                "Circuit breaker state per target: 0 closed, 1 half_open, 2 open.",
                ("target",),
                "1",
            )
        )
        self.breaker_transitions = counter(
            own(
                "breaker_transitions_total",
                "Circuit breaker transitions, by target and new state.",
                ("target", "to"),
                "{transition}",
            )
        )
        # A target's bulkhead, read from ``TargetStates.bulkheads()`` when metrics are collected (a scrape,
        # the reload tick for a push), not per call: nothing on the request path (``Telemetry.bulkheads``).
        self.bulkhead_in_flight = gauge(
            own("bulkhead_in_flight", "Calls to a target holding a slot of its bulkhead.", ("target",), "{call}")
        )
        self.bulkhead_max_concurrent = gauge(
            own("bulkhead_max_concurrent", "A target's bulkhead limit (max_concurrent).", ("target",), "{call}")
        )
        self.bulkhead_queued = gauge(
            own("bulkhead_queued", "Calls waiting for a slot of a target's full bulkhead.", ("target",), "{call}")
        )
        # Observed only for a call that queued (``server.calls._wait_for_slot``): nothing for one with a free slot.
        self.bulkhead_wait = histogram(
            own(
                "bulkhead_wait_seconds",
                "Time calls waited for a slot of a target's full bulkhead, by how the wait ended "
                "(slot, timeout, cancelled).",
                ("target", "outcome"),
                "s",
            ),
            BULKHEAD_WAIT_BUCKETS,
        )
        self.log_lines_dropped = counter(
            own(
                "log_lines_dropped_total",
                "Log lines dropped because the reader of stdout stalled and the 4 MiB waiting for it were full.",
                (),
                "{line}",
            )
        )
        self.access_lines_sampled_out = counter(
            own(
                "access_lines_sampled_out_total",
                "Access lines not written because the policy's access_log.sample left them out, by route "
                '(a request with no route: route="").',
                ("route",),
                "{line}",
            )
        )
        self.connections_refused = counter(
            own(
                "connections_refused_total",
                "Connections closed as soon as they were accepted because the listener's connection cap "
                "(SIDECAR_MAX_CONNECTIONS, lowered to fit the file-descriptor limit) was reached.",
                ("listener",),
                "{connection}",
            )
        )
        for listener in ("app", "health"):  # at 0 from the start: rate() sees the first refusal
            self.connections_refused.inc((listener,), 0)
        # The process's account of bytes held from bodies (``held_bytes``), read when metrics are collected
        # (``HeldBytes.report``): nothing on the request path.
        self.held_bytes = gauge(
            own(
                "held_bytes",
                "Bytes of request bodies, upstream answers read whole and unfinished stream events held now.",
                (),
                "By",
            )
        )
        self.held_bytes_ceiling = gauge(
            own("held_bytes_ceiling", "The most bytes bodies may hold at once (SIDECAR_MAX_HELD_BYTES).", (), "By")
        )
        self.held_bytes_refusals = counter(
            own(
                "held_bytes_refusals_total",
                "Request bodies, upstream answers and stream events refused because holding them would pass "
                "the ceiling (the request got a 503, or the attempt failed as held_bytes_full).",
                (),
                "{refusal}",
            )
        )
        self.held_bytes_refusals.inc((), 0)
        self.policy_reloads = counter(
            own("policy_reloads_total", "Policy reloads, by outcome (ok, error).", ("outcome",), "{reload}")
        )
        for outcome in ("ok", "error"):  # at 0 from the start: Prometheus's increase() sees the first reload
            self.policy_reloads.inc((outcome,), 0)
        self.policy_last_reload_ok = gauge(
            own(
                "policy_last_reload_successful",
                "1 when the policy file was last applied (at start or by a reload), 0 when it was rejected "
                "and an older policy serves.",
                (),
                "1",
            )
        )
        self.policy_loaded_at = gauge(
            own(
                "policy_last_reload_timestamp_seconds",
                "Unix time the policy being served was loaded (at start or by the last applied reload).",
                (),
                "s",
            )
        )
        self.cost = counter(
            own(
                "cost_usd_total",
                "Estimated cost in US dollars, from policy prices and reported usage.",
                ("served_model", "route"),
                "{USD}",
            )
        )
        self.tokens = counter(
            own(
                "tokens_total",
                "Tokens reported by providers, by served model, route and type (input, output, cached_input).",
                ("served_model", "route", "type"),
                "{token}",
            )
        )
        super().__init__(make)  # the features' instruments, registered here (the order /metrics lists)
        self.spans_dropped = counter(
            own(
                "spans_dropped_total",
                "Finished spans not exported: export queue full, export failed, or left at shutdown.",
                (),
                "{span}",
            )
        )
        self.build_info = gauge(
            own("build_info", "Always 1; the version label names the running build.", ("version",), "1")
        )
        self.build_info.set((service_version,), 1)
        # the series a request's and a call's end update, held per label set (``held_series``)
        self.request_series: dict[tuple[str, str, str, str], RequestSeries] = {}
        self.call_series: dict[tuple[str, tuple[str, str, str], str, str], CallSeries] = {}
