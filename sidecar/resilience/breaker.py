"""A circuit breaker per target: the state machine of resilience4j, with timed-out probes.

    CLOSED --(failure or slow-call rate >= threshold, after minimum_calls)--> OPEN
    OPEN --(first try_acquire after the open period)--> HALF_OPEN
    HALF_OPEN --(probe outcomes decide: rates below thresholds)--> CLOSED
    HALF_OPEN --(probe outcomes decide: a rate reaches its threshold)--> OPEN (period x2, capped)

- CLOSED: every ``try_acquire`` returns a ``Permit``; each reported outcome enters a sliding window
  (the last N calls, or the last N seconds). Once the window holds ``minimum_calls`` (at most N for a
  count window), the breaker opens when the failure rate or the slow-call rate reaches its threshold.
- OPEN: ``try_acquire`` returns None (no network call). The period is ``open_duration_s`` x 2^(k-1)
  for the k-th consecutive opening, capped at ``open_duration_max_s``; k resets when a probe round
  closes the breaker.
- HALF_OPEN: at most ``half_open_probes`` permits are out or decided at a time. The round is decided
  as soon as its result is certain: it re-opens when failures (or slow calls) among the N probes reach
  threshold x N, and closes when they can no longer reach it. A probe not reported within
  ``probe_timeout_s`` counts as a failure and frees its slot, so a lost or stuck probe never pins the
  breaker half-open (resilience4j issue #903).

A ``Permit`` reports once: the first of ``record_success``, ``record_failure`` or ``release`` counts and
later calls are no-ops, so ``finally: permit.release()`` is safe. ``release`` is for outcomes that say
nothing about the target's health (a 4xx caused by the request, a 429, a cancel): it frees a probe slot
and leaves the window unchanged. Reports from a permit issued before the last transition are ignored.

Rate limits are not failures: ``mark_rate_limited(until)`` records that the target asked us to wait
until a monotonic time; ``try_acquire`` still grants permits and the caller decides to skip.

Transitions happen inside ``try_acquire`` and the ``record_*`` calls (lazily: there are no timers);
``state`` and ``snapshot`` only read. The optional ``on_transition(target, from, to, reason)`` listener
runs synchronously after each transition and must not raise. Single event loop; not thread-safe.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sidecar.resilience.windows import CallWindow, CountWindow, TimeWindow


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# Globals for ``try_acquire``, read on every call: Python 3.11 leaves an Enum member's read through its class
# unspecialized (~975 instructions a read; docs/benchmarks.md, "Wave 47 `plain48`")
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN

TransitionListener = Callable[[str, BreakerState, BreakerState, str], None]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Breaker settings. The defaults are the policy file's (``defaults.breaker``, docs/resilience.md):
    they suit a sidecar that sees a few LLM calls per second or fewer."""

    window_type: Literal["count", "time"] = "count"
    window_size: int = 20
    minimum_calls: int = 5
    failure_rate_threshold: float = 0.5
    slow_call_duration_s: float = 60.0
    slow_call_rate_threshold: float = 1.0
    open_duration_s: float = 5.0
    open_duration_max_s: float = 120.0
    half_open_probes: int = 1
    probe_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        if self.window_type not in ("count", "time"):
            problems.append(f"window_type must be 'count' or 'time', got {self.window_type!r}")
        for name in ("window_size", "minimum_calls", "half_open_probes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("failure_rate_threshold", "slow_call_rate_threshold"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("slow_call_duration_s", "open_duration_s", "probe_timeout_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.open_duration_max_s >= self.open_duration_s:
            problems.append("open_duration_max_s must be >= open_duration_s")
        if problems:
            raise ValueError("; ".join(problems))

    def open_duration(self, consecutive_opens: int) -> float:
        """The open period for the ``consecutive_opens``-th opening in a row (1 for the first)."""
        exponent = max(consecutive_opens - 1, 0)
        if exponent >= 64:
            return self.open_duration_max_s
        return min(self.open_duration_max_s, self.open_duration_s * 2.0**exponent)


class Permit:
    """Permission for one call; report its outcome exactly once (later reports are ignored)."""

    __slots__ = ("_breaker", "_done", "_epoch", "_probe_id", "started_at")

    def __init__(self, breaker: CircuitBreaker, epoch: int, probe_id: int | None, started_at: float) -> None:
        self._breaker = breaker
        self._epoch = epoch
        self._probe_id = probe_id
        self._done = False
        self.started_at = started_at

    @property
    def is_probe(self) -> bool:
        """True when the permit was granted in HALF_OPEN: this call decides whether the breaker closes."""
        return self._probe_id is not None

    # ``record_success`` and ``record_failure`` report to the breaker themselves: a shared helper was one
    # Python frame more a call (docs/benchmarks.md, "Wave 54 `plain55`")
    def record_success(self, duration_s: float | None = None) -> None:
        """The call succeeded; ``duration_s`` defaults to the time since the permit was granted."""
        if not self._done:
            self._done = True
            self._breaker._on_result(self._epoch, self._probe_id, False, duration_s, self.started_at)

    def record_failure(self, duration_s: float | None = None) -> None:
        """The call failed in a way that says the target is unhealthy (5xx, timeout, connect error...)."""
        if not self._done:
            self._done = True
            self._breaker._on_result(self._epoch, self._probe_id, True, duration_s, self.started_at)

    def release(self) -> None:
        """The call ended with an outcome that does not count (4xx, 429, cancel): free the slot only."""
        if not self._done:
            self._done = True
            self._breaker._on_release(self._epoch, self._probe_id)


class CircuitBreaker:
    """The breaker of one target. ``clock`` is monotonic seconds (injectable for tests)."""

    __slots__ = (
        "_clock",
        "_consecutive_opens",
        "_epoch",
        "_listener",
        "_minimum_calls",
        "_next_probe_id",
        "_open_until",
        "_probe_calls",
        "_probe_failures",
        "_probe_slow",
        "_probes",
        "_rate_limited_until",
        "_state",
        "_state_since",
        "_window",
        "config",
        "target",
    )

    def __init__(
        self,
        target: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.target = target
        self.config = config if config is not None else BreakerConfig()
        self._clock = clock
        self._listener = on_transition
        self._window: CallWindow = (
            CountWindow(self.config.window_size)
            if self.config.window_type == "count"
            else TimeWindow(self.config.window_size, clock)
        )
        self._state = BreakerState.CLOSED
        self._state_since = clock()
        self._epoch = 0
        self._open_until = 0.0
        self._consecutive_opens = 0
        self._probes: dict[int, float] = {}  # probe id -> time granted, oldest first
        self._next_probe_id = 0
        self._probe_calls = self._probe_failures = self._probe_slow = 0
        self._rate_limited_until = -math.inf
        # the calls the window must hold before its rates count (a count window holds at most its size)
        cfg = self.config
        self._minimum_calls = (
            min(cfg.minimum_calls, cfg.window_size) if cfg.window_type == "count" else cfg.minimum_calls
        )

    @property
    def state(self) -> BreakerState:
        return self._state

    def try_acquire(self) -> Permit | None:
        """A permit for one call, or None when the breaker rejects it without a network call."""
        clock = self._clock  # read, then called: ``self._clock()`` is a method call's generic look-up in 3.11
        now = clock()
        if self._state is _OPEN:
            if now < self._open_until:
                return None
            self._transition(_HALF_OPEN, "open period elapsed", now)
        if self._state is _HALF_OPEN:
            self._expire_probes(now)
            if self._state is not _HALF_OPEN:
                return None  # an expired probe re-opened it
            if len(self._probes) + self._probe_calls >= self.config.half_open_probes:
                return None
            probe_id = self._next_probe_id
            self._next_probe_id += 1
            self._probes[probe_id] = now
            return Permit(self, self._epoch, probe_id, now)
        return Permit(self, self._epoch, None, now)

    def mark_rate_limited(self, until_monotonic: float) -> None:
        """The target asked us to wait until ``until_monotonic``; never shortens an existing mark."""
        self._rate_limited_until = max(self._rate_limited_until, until_monotonic)

    @property
    def rate_limited_until(self) -> float:
        """The monotonic time the latest rate limit ends (-inf if never marked); in the past when the
        target is not rate-limited now. Always a float, so ``until - now`` needs no None check."""
        return self._rate_limited_until

    def is_rate_limited(self) -> bool:
        return self._rate_limited_until > self._clock()

    def snapshot(self) -> dict[str, Any]:
        """The breaker's state for ``/status`` (times as seconds from now, plus monotonic deadlines)."""
        now = self._clock()
        calls, failures, slow = self._window.totals()
        open_until = self._open_until if self._state is BreakerState.OPEN else None
        rate_limited_until = self._rate_limited_until if self._rate_limited_until > now else None
        return {
            "target": self.target,
            "state": str(self._state),
            "state_age_s": round(now - self._state_since, 3),
            "calls_in_window": calls,
            "failures_in_window": failures,
            "slow_calls_in_window": slow,
            "failure_rate": failures / calls if calls else 0.0,
            "slow_call_rate": slow / calls if calls else 0.0,
            "open_until": open_until,
            "open_remaining_s": max(0.0, round(open_until - now, 3)) if open_until is not None else None,
            "consecutive_opens": self._consecutive_opens,
            "probes_in_flight": len(self._probes),
            "probe_calls": self._probe_calls,
            "probe_failures": self._probe_failures,
            "rate_limited_until": rate_limited_until,
            "rate_limited_remaining_s": (
                round(rate_limited_until - now, 3) if rate_limited_until is not None else None
            ),
        }

    # -- called by Permit -------------------------------------------------------------------------

    def _on_result(
        self, epoch: int, probe_id: int | None, failure: bool, duration_s: float | None, started: float
    ) -> None:
        if epoch != self._epoch:
            return
        clock = self._clock  # read only when needed: a closed breaker's call of known duration needs no clock
        if duration_s is None:
            duration_s = clock() - started
        slow = duration_s >= self.config.slow_call_duration_s
        if probe_id is None:  # closed: the window's rates, checked here (no frame of their own unless it opens)
            calls, failures, slow_calls = self._window.record(failure, slow)
            cfg = self.config
            if calls >= self._minimum_calls and (
                failures / calls >= cfg.failure_rate_threshold or slow_calls / calls >= cfg.slow_call_rate_threshold
            ):
                self._open_on_rates(calls, failures, slow_calls)
            return
        now = clock()
        self._expire_probes(now)
        if epoch != self._epoch or self._probes.pop(probe_id, None) is None:
            return  # the round was decided meanwhile, or this probe already timed out
        self._count_probe(failure, slow, now, "probe failed" if failure else "probe slow")

    def _on_release(self, epoch: int, probe_id: int | None) -> None:
        if epoch == self._epoch and probe_id is not None:
            self._probes.pop(probe_id, None)

    # -- transitions ------------------------------------------------------------------------------

    def _open_on_rates(self, calls: int, failures: int, slow: int) -> None:
        """Open: the window (``calls`` of at least ``minimum_calls``) reached a rate's threshold, the failure
        rate's said first."""
        cfg = self.config
        clock = self._clock
        if failures / calls >= cfg.failure_rate_threshold:
            self._open(clock(), f"failure rate {failures}/{calls} >= {cfg.failure_rate_threshold:g}")
        else:
            self._open(clock(), f"slow-call rate {slow}/{calls} >= {cfg.slow_call_rate_threshold:g}")

    def _expire_probes(self, now: float) -> None:
        deadline = now - self.config.probe_timeout_s
        while self._state is BreakerState.HALF_OPEN and self._probes:
            probe_id, granted = next(iter(self._probes.items()))
            if granted > deadline:
                return
            del self._probes[probe_id]
            slow = self.config.probe_timeout_s >= self.config.slow_call_duration_s
            self._count_probe(True, slow, now, f"probe not reported within {self.config.probe_timeout_s:g}s")

    def _count_probe(self, failure: bool, slow: bool, now: float, cause: str) -> None:
        cfg = self.config
        n = cfg.half_open_probes
        self._probe_calls += 1
        self._probe_failures += int(failure)
        self._probe_slow += int(slow)
        undecided = n - self._probe_calls
        if self._probe_failures >= cfg.failure_rate_threshold * n:
            self._open(now, f"{cause}: {self._probe_failures}/{n} probes failed")
        elif self._probe_slow >= cfg.slow_call_rate_threshold * n:
            self._open(now, f"{cause}: {self._probe_slow}/{n} probes slow")
        elif (
            self._probe_failures + undecided < cfg.failure_rate_threshold * n
            and self._probe_slow + undecided < cfg.slow_call_rate_threshold * n
        ):
            self._window.reset()
            self._consecutive_opens = 0
            ok = self._probe_calls - self._probe_failures
            self._transition(BreakerState.CLOSED, f"{ok}/{self._probe_calls} probes succeeded", now)

    def _open(self, now: float, reason: str) -> None:
        self._consecutive_opens += 1
        period = self.config.open_duration(self._consecutive_opens)
        self._open_until = now + period
        self._transition(BreakerState.OPEN, f"{reason}; open for {period:g}s", now)

    def _transition(self, to: BreakerState, reason: str, now: float) -> None:
        before = self._state
        self._state = to
        self._state_since = now
        self._epoch += 1
        self._probes.clear()
        self._probe_calls = self._probe_failures = self._probe_slow = 0
        if self._listener is not None:
            self._listener(self.target, before, to, reason)
