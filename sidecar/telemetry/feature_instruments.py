"""The policy features' instruments: response cache, ensembles, quality gates, shadow evaluation,
budgets and routing (``FeatureInstruments``, the base of ``instruments.Instruments``; see ``metrics``).

Cache results, and the cache store's entries, bytes, evictions, stores, errors, breaker state,
coalesced requests, saved cost and tokens (the store's read from ``ResponseCache.snapshot()`` at scrape
time); ensemble decisions and member results; quality gate failures; shadow results, cost and duration;
budget use, remaining, decisions, events and pending settlements; routing decisions and the served and
requested cost. Label values are always strings; an absent value is ``""``.
"""

from __future__ import annotations

from .genai import DURATION_BUCKETS
from .metrics import Makers, own


class FeatureInstruments:
    """The features' instruments, as attributes (registered by ``Instruments`` in catalog order)."""

    def __init__(self, make: Makers) -> None:
        self.cache = make.counter(
            own(
                "cache_results_total",
                "Requests on caching routes, by the cache's result (hit, miss, refresh, stale, bypass).",
                ("result",),
                "{lookup}",
            )
        )
        self.ensemble_decisions = make.counter(
            own(
                "ensemble_decisions_total",
                "Ensemble votes decided, by route, strategy and how (quorum, all, unanimous, judge, ...).",
                ("route", "strategy", "decided"),
                "{decision}",
            )
        )
        self.ensemble_members = make.counter(
            own(
                "ensemble_member_results_total",
                "Ensemble members' fates, by route, member and result (won, outvoted, failed, unusable, cancelled).",
                ("route", "member", "result"),
                "{member}",
            )
        )
        self.gate_failures = make.counter(
            own(
                "gate_failures_total",
                "Answers a quality gate rejected, by route, gate and the escalation (reask, next_target).",
                ("route", "gate", "action"),
                "{answer}",
            )
        )
        self.shadow_results = make.counter(
            own(
                "shadow_results_total",
                "Shadow calls by route, task class, candidate and result (agreed, disagreed, not_comparable, "
                "failed, skipped, cancelled).",
                ("route", "task", "candidate", "result"),
                "{call}",
            )
        )
        self.shadow_cost = make.counter(
            own(
                "shadow_cost_usd_total",
                "Cost of shadow calls (side candidate) and of the served answers they shadowed (side served).",
                ("route", "task", "candidate", "side"),
                "{USD}",
            )
        )
        self.shadow_duration = make.histogram(
            own(
                "shadow_duration_seconds",
                "Duration of shadow calls (the candidate's answer), by route, task class and candidate.",
                ("route", "task", "candidate"),
                "s",
            ),
            DURATION_BUCKETS,
        )
        budget_labels = ("limit", "scope", "measure", "window")
        self.budget_used = make.gauge(
            own(
                "budget_used",
                "Use of each budget limit in its current window (dollars, tokens or requests), per limit and "
                "scope value (the values the policy names, * for a global limit, other for the rest), as "
                "this pod last saw it.",
                budget_labels,
                "1",
            )
        )
        self.budget_remaining = make.gauge(
            own(
                "budget_remaining",
                "What is left of each budget limit in its current window, per limit and scope value.",
                budget_labels,
                "1",
            )
        )
        self.budget_decisions = make.counter(
            own(
                "budget_decisions_total",
                "Requests on which a budget limit acted, by limit and verdict (deny, downgrade, warn; "
                "unavailable: denied because the store is down and a limit fails closed, limit empty).",
                ("limit", "verdict"),
                "{request}",
            )
        )
        self.budget_events = make.counter(
            own(
                "budget_events_total",
                "Budget ledger events: store_errors (a shared-store call failed), fallback_reservations "
                "(counted in this pod: the store is down), settlements_dropped (retry queue full), "
                "internal_errors (a request served unbudgeted).",
                ("event",),
                "{event}",
            )
        )
        self.budget_pending = make.gauge(
            own(
                "budget_pending_settlements",
                "Settlements queued for the shared budget store while it is unavailable.",
                (),
                "{settlement}",
            )
        )
        self.routing_decisions = make.counter(
            own(
                "routing_decisions_total",
                "Requests classified by routing, by route, task class, complexity, tier and split arm.",
                ("route", "task", "complexity", "tier", "arm"),
                "{request}",
            )
        )
        self.routing_served_cost = make.counter(
            own(
                "routing_served_cost_usd_total",
                "Routing: cost of the model that served, from its price and the reported usage.",
                ("route", "task"),
                "{USD}",
            )
        )
        self.routing_requested_cost = make.counter(
            own(
                "routing_requested_cost_usd_total",
                "Routing: what the model the app asked for would have cost for the same tokens.",
                ("route", "task"),
                "{USD}",
            )
        )
        # The response cache's store: read from ``ResponseCache.snapshot()`` at scrape time (``CacheReadings.store``).
        self.cache_entries = make.gauge(own("cache_entries", "Entries held by the memory store.", (), "{entry}"))
        self.cache_bytes = make.gauge(
            own("cache_bytes", "Bytes held by the memory store (entries, keys, bookkeeping).", (), "By")
        )
        self.cache_evictions = make.counter(
            own("cache_evictions_total", "Entries the memory store evicted to make room.", (), "{entry}")
        )
        self.cache_stores = make.counter(
            own(
                "cache_stores_total",
                "Answers written to the cache (stored) or not (skipped: not storable, too large, write failed,"
                " store retired by a reload).",
                ("result",),
                "{entry}",
            )
        )
        self.cache_store_errors = make.counter(
            own(
                "cache_store_errors_total",
                "Cache store operations that failed, by kind (error, timeout, breaker_open, damaged); each a miss.",
                ("kind",),
                "{operation}",
            )
        )
        self.cache_breaker_state = make.gauge(
            own("cache_breaker_state", "The Redis store's breaker: 0 closed, 1 half_open, 2 open.", (), "1")
        )
        self.cache_unavailable = make.gauge(
            own(
                "cache_unavailable",
                "1 while the policy's cache store cannot be opened (its Redis password unreadable), else 0.",
                (),
                "1",
            )
        )
        self.cache_coalesced = make.counter(
            own(
                "cache_coalesced_total",
                "Requests answered by an identical request's upstream call (single flight).",
                (),
                "{request}",
            )
        )
        self.cache_saved_cost = make.counter(
            own(
                "cache_saved_cost_usd_total",
                "Upstream cost not spent thanks to cache hits, stale answers and single flight.",
                (),
                "{USD}",
            )
        )
        self.cache_saved_tokens = make.counter(
            own("cache_saved_output_tokens_total", "Output tokens not generated thanks to the cache.", (), "{token}")
        )
