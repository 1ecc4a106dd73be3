"""Per-target health state (breaker, retry budget, bulkhead), kept across policy reloads.

A target is a provider + upstream model (``Target.key``). Its state must outlive any one policy. The
settings come from the policy that serves (``serve``, at start and on each reload), never from the
policy a request started with: a request still on an older policy uses the target's state as the new
one set it (an open breaker stays open for it too). A reload replaces only the parts whose settings
it changes: new breaker settings start that breaker afresh (``on_new_breaker``: its state gauge says
closed again), a new retry budget starts that part alone, and new bulkhead settings apply to the
target's bulkhead in place (``Bulkhead.resize``: the calls in flight and queued on it count against
the new limit, so a lower one admits no call until they drain below it, and the queued wait by the new
queue timeout, from when each queued); an unchanged part keeps its
window and state. A target the reload removed is forgotten; a request still on an older policy that
calls it gets a state for that call alone, so neither ``/status`` nor the breaker's series brings it
back. Its bulkhead alone is kept aside while calls may still use it (until a later reload finds it
idle): those calls share it, and a reload that brings the target back takes it on with its calls in
flight (``Bulkhead.resize``), so no limit ever starts from zero under calls still running. The
registry lives on the app; nothing here is module-global.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..policy.compiled import Policy, Target
from ..policy.resilience_spec import BreakerSpec, BulkheadSpec, RetryBudgetSpec
from ..resilience.breaker import BreakerConfig, CircuitBreaker
from ..resilience.budget import RetryBudget
from ..resilience.bulkhead import Bulkhead

TransitionListener = Callable[[str, str, str, str], None]
NewBreakerListener = Callable[[str], None]


Settings = tuple[BreakerSpec, RetryBudgetSpec, BulkheadSpec]


def settings_of(policy: Policy) -> Settings:
    """A policy's per-target settings: breaker, retry budget, bulkhead."""
    return (policy.breaker, policy.retry_budget, policy.bulkhead)


@dataclass(slots=True)
class TargetState:
    key: str
    breaker: CircuitBreaker
    budget: RetryBudget
    bulkhead: Bulkhead
    settings: Settings
    last_failure: LastFailure | None = None  # the target's last failed call, for /status


@dataclass(frozen=True, slots=True)
class LastFailure:
    """A target's last failed call, as ``/status`` shows it: what and why (``Outcome.detail``), and when."""

    at: float  # the states' clock
    error_type: str
    status: int | None
    detail: str

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "error_type": self.error_type,
            "status": self.status,
            "detail": self.detail,
            "age_s": round(now - self.at, 3),
        }


def breaker_config(spec: BreakerSpec) -> BreakerConfig:
    return BreakerConfig(
        window_type=spec.window,
        window_size=spec.window_size,
        minimum_calls=spec.minimum_calls,
        failure_rate_threshold=spec.failure_rate,
        slow_call_duration_s=spec.slow_call_s,
        slow_call_rate_threshold=spec.slow_call_rate,
        open_duration_s=spec.open_s,
        open_duration_max_s=spec.open_max_s,
        half_open_probes=spec.half_open_probes,
        probe_timeout_s=spec.probe_timeout_s,
    )


class TargetStates:
    """Lazily created ``TargetState`` per target key, with the serving policy's settings."""

    def __init__(
        self,
        on_transition: TransitionListener | None = None,
        on_new_breaker: NewBreakerListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._states: dict[str, TargetState] = {}
        self._settings: Settings | None = None  # the serving policy's (``serve``)
        self._keys: frozenset[str] | None = None  # the serving policy's targets (``serve``)
        self._removed: dict[str, Bulkhead] = {}  # removed targets' bulkheads, kept while calls may use them
        self._on_transition = on_transition
        self._on_new_breaker = on_new_breaker
        self._clock = clock
        self.rng = rng or random.Random()

    def get(self, target: Target, policy: Policy) -> TargetState:
        """``target``'s state; a new one with the serving policy's settings (``policy``'s until ``serve``
        names one) for a target not seen yet. A target the serving policy no longer has (a request still
        on an older policy) gets a state of its own for this call, reported nowhere; only its bulkhead
        is shared (``_bulkhead``)."""
        state = self._states.get(target.key)
        if state is not None:
            return state
        settings = self._settings if self._settings is not None else settings_of(policy)
        if self._keys is not None and target.key not in self._keys:
            return self._new(target.key, settings, listening=False)
        state = self._states[target.key] = self._new(target.key, settings, listening=True)
        return state

    def _new(self, key: str, settings: Settings, *, listening: bool) -> TargetState:
        breaker, budget, bulkhead = settings
        return TargetState(
            key=key,
            breaker=self._breaker(key, breaker, listening=listening),
            budget=self._budget(budget),
            bulkhead=self._bulkhead(key, bulkhead, listening=listening),
            settings=settings,
        )

    def _bulkhead(self, key: str, spec: BulkheadSpec, *, listening: bool) -> Bulkhead:
        """A new target's bulkhead, or a removed target's that calls may still use: back in the serving
        policy (``listening``), with its limits; for the calls of requests on an older policy (not
        ``listening``), one for all of them, kept aside until a reload finds it idle."""
        if not listening:
            held = self._removed.get(key)
            if held is None:
                held = self._removed[key] = Bulkhead(spec.max_concurrent, spec.queue_timeout_s)
            return held
        held = self._removed.pop(key, None)
        if held is None:
            return Bulkhead(spec.max_concurrent, spec.queue_timeout_s)
        held.resize(spec.max_concurrent, spec.queue_timeout_s)
        return held

    def serve(self, policy: Policy) -> list[str]:
        """``policy`` serves from now on (at start and on each reload): the targets it does not have are
        forgotten (their keys returned; one that comes back later starts afresh, but for a bulkhead calls
        still use), and each part of a known target whose settings it changes starts afresh with them,
        now (the bulkhead: takes them, with its calls in flight and queued)."""
        settings = settings_of(policy)
        keys = {model.key for model in policy.models.values()}
        gone = [key for key in self._states if key not in keys]
        self._removed = {key: held for key, held in self._removed.items() if held.in_flight}  # idle: forgotten
        for key in gone:
            held = self._states.pop(key).bulkhead
            if held.in_flight:  # calls still on it (queued ones too: a waiter exists only when full)
                self._removed[key] = held
        for state in self._states.values():
            breaker, budget, bulkhead = settings
            if breaker != state.settings[0]:
                state.breaker = self._breaker(state.key, breaker)
            if budget != state.settings[1]:
                state.budget = self._budget(budget)
            if bulkhead != state.settings[2]:
                state.bulkhead.resize(bulkhead.max_concurrent, bulkhead.queue_timeout_s)
            state.settings = settings
        self._settings = settings
        self._keys = frozenset(keys)
        return gone

    def _budget(self, spec: RetryBudgetSpec) -> RetryBudget:
        return RetryBudget(ratio=spec.ratio, min_retries=spec.min_retries, window_s=spec.window_s, clock=self._clock)

    def _breaker(self, key: str, spec: BreakerSpec, *, listening: bool = True) -> CircuitBreaker:
        """A new breaker, closed (``on_new_breaker``: a target's first, or one restarted by new settings;
        not ``listening``: a removed target's, whose series must not come back)."""
        on_transition = self._on_transition if listening else None
        breaker = CircuitBreaker(key, breaker_config(spec), clock=self._clock, on_transition=on_transition)
        if listening and self._on_new_breaker is not None:
            self._on_new_breaker(key)
        return breaker

    def failed(self, state: TargetState, error_type: str, status: int | None, detail: str) -> None:
        """Remember ``state``'s target's last failed call (the target's fault: not the request's 4xx)."""
        state.last_failure = LastFailure(self._clock(), error_type, status, detail)

    def bulkheads(self) -> dict[str, tuple[int, int, int]]:
        """Every known target's bulkhead: calls in flight, queued, and its limit (for the metrics; a
        removed target's, kept aside for calls still on it, is reported nowhere, as for /status)."""
        return {
            key: (state.bulkhead.in_flight, state.bulkhead.queued, state.bulkhead.max_concurrent)
            for key, state in self._states.items()
        }

    def snapshot(self) -> dict[str, Any]:
        """Every known target's breaker, bulkhead and last failure, for /status."""
        now = self._clock()
        return {
            key: {
                "breaker": state.breaker.snapshot(),
                "bulkhead": {"in_flight": state.bulkhead.in_flight, "queued": state.bulkhead.queued},
                "last_failure": state.last_failure.snapshot(now) if state.last_failure else None,
            }
            for key, state in sorted(self._states.items())
        }
