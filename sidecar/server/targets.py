"""Per-target health state (breaker, retry budget, bulkhead), kept across policy reloads.

A target is a provider + upstream model (``Target.key``). Its state must outlive any one policy: a
reload that does not change the breaker settings keeps the breaker's window and state; one that does
starts that target afresh (``on_new_breaker``: its state gauge says closed again). The registry lives
on the app; nothing here is module-global.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..policy.compiled import Policy, Target
from ..policy.spec import BreakerSpec, BulkheadSpec, RetryBudgetSpec
from ..resilience.breaker import BreakerConfig, CircuitBreaker
from ..resilience.budget import RetryBudget
from ..resilience.bulkhead import Bulkhead

TransitionListener = Callable[[str, str, str, str], None]
NewBreakerListener = Callable[[str], None]


@dataclass(slots=True)
class TargetState:
    key: str
    breaker: CircuitBreaker
    budget: RetryBudget
    bulkhead: Bulkhead
    settings: tuple[BreakerSpec, RetryBudgetSpec, BulkheadSpec]
    policy_version: str = ""  # the policy last checked against: same version, same settings
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
    """Lazily created ``TargetState`` per target key."""

    def __init__(
        self,
        on_transition: TransitionListener | None = None,
        on_new_breaker: NewBreakerListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._states: dict[str, TargetState] = {}
        self._on_transition = on_transition
        self._on_new_breaker = on_new_breaker
        self._clock = clock
        self.rng = rng or random.Random()

    def get(self, target: Target, policy: Policy) -> TargetState:
        state = self._states.get(target.key)
        if state is not None and state.policy_version == policy.version:
            return state
        settings = (policy.breaker, policy.retry_budget, policy.bulkhead)
        if state is not None and state.settings == settings:
            state.policy_version = policy.version
            return state
        breaker_spec, budget_spec, bulkhead_spec = settings
        state = TargetState(
            key=target.key,
            breaker=CircuitBreaker(
                target.key, breaker_config(breaker_spec), clock=self._clock, on_transition=self._on_transition
            ),
            budget=RetryBudget(
                ratio=budget_spec.ratio,
                min_retries=budget_spec.min_retries,
                window_s=budget_spec.window_s,
                clock=self._clock,
            ),
            bulkhead=Bulkhead(bulkhead_spec.max_concurrent, bulkhead_spec.queue_timeout_s),
            settings=settings,
            policy_version=policy.version,
        )
        self._states[target.key] = state
        if self._on_new_breaker is not None:  # a target's first, or one restarted by new settings: closed
            self._on_new_breaker(target.key)
        return state

    def retain(self, keys: set[str]) -> list[str]:
        """Forget the targets not in ``keys`` (gone with a reload); their keys. One that comes back later
        starts afresh."""
        gone = [key for key in self._states if key not in keys]
        for key in gone:
            del self._states[key]
        return gone

    def failed(self, state: TargetState, error_type: str, status: int | None, detail: str) -> None:
        """Remember ``state``'s target's last failed call (the target's fault: not the request's 4xx)."""
        state.last_failure = LastFailure(self._clock(), error_type, status, detail)

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
