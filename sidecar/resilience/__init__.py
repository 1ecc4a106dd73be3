"""Resilience building blocks: pure, I/O-free, driven by an injectable clock and RNG.

The fallback loop (``server.target_tries``, ``server.calls``) uses them in this order for each target it
tries::

    skip if breaker.is_rate_limited() (past rate_limit_max_wait_s) -> budget.record_request()
        -> each call: breaker.try_acquire() (None: skip the target)
                      -> bulkhead slot (BulkheadFull: permit.release(), skip the target)
                      -> attempt -> classify_* -> Outcome -> permit.record_success / record_failure / release
        -> a retry (RETRY_SAME, or FALLBACK on the last target): budget.try_spend_retry() (False: stop),
           wait rate_limited_delay(hint) or backoff.delay(n), call again
        -> FALLBACK / CONTEXT_OVERFLOW: next target; FAIL_FAST: return the upstream's error

Modules (one concept each):

- ``classify``   ``Outcome``/``OutcomeKind``: what a response, exception, timeout or in-stream error
                 event means (success, retry same, fall back, larger context, fail fast), whether it
                 counts against the breaker, whether it is a rate limit.
- ``signals``    reading a provider's error body defensively: the error object, quota / overload /
                 context-overflow matchers (``dialects.errors``', shared with the error translation),
                 the status an in-stream error stands for.
- ``ratelimit``  ``parse_reset_hint``: seconds to wait, from retry-after(-ms), OpenAI and Anthropic
                 rate-limit headers, or Gemini's ``RetryInfo``.
- ``backoff``    full-jitter exponential ``Backoff`` and the jittered ``rate_limited_delay``.
- ``breaker``    ``CircuitBreaker`` per target (state machine below), ``BreakerConfig``, ``Permit``.
- ``budget``     ``RetryBudget`` per target: retries <= ratio x requests + min_retries per window.
- ``bulkhead``   ``Bulkhead``: bounded concurrency with a bounded, cancel-safe wait (``BulkheadFull``).
- ``network_words`` aiohttp's network exceptions in words for ``Outcome.detail`` (never their repr).
- ``windows``    the O(1) sliding windows (count ring buffer, time buckets) behind breaker and budget.

Breaker state machine (transitions are lazy, on ``try_acquire`` and on recorded outcomes)::

                failure or slow-call rate >= threshold
                (once the window holds minimum_calls)
      +--------+ -------------------------------------> +------+
      | CLOSED |                                        | OPEN | <-----------------------+
      +--------+ <-----------+                          +------+                         |
                             | probes succeed              | first try_acquire after     | probes fail
                             | (rates stay below           | open period (base x 2^k,    | (or time out);
                             |  thresholds)                | capped)                     | period doubles
                             |                             v                             |
                             +------------------- +-----------+ -------------------------+
                                                  | HALF_OPEN |  at most half_open_probes
                                                  +-----------+  permits; others rejected

A 429 never opens the breaker: it marks the target rate-limited until a time (``mark_rate_limited``).
"""

from sidecar.resilience.backoff import Backoff, rate_limited_delay
from sidecar.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker, Permit
from sidecar.resilience.budget import RetryBudget
from sidecar.resilience.bulkhead import Bulkhead, BulkheadFull
from sidecar.resilience.classify import (
    DEFAULT_FALLBACK_STATUSES,
    Outcome,
    OutcomeKind,
    classify_exception,
    classify_response,
    classify_stream_event,
    classify_timeout,
)
from sidecar.resilience.ratelimit import parse_reset_hint

__all__ = [
    "DEFAULT_FALLBACK_STATUSES",
    "Backoff",
    "BreakerConfig",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "CircuitBreaker",
    "Outcome",
    "OutcomeKind",
    "Permit",
    "RetryBudget",
    "classify_exception",
    "classify_response",
    "classify_stream_event",
    "classify_timeout",
    "parse_reset_hint",
    "rate_limited_delay",
]
