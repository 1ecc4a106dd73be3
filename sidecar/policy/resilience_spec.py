"""The policy's resilience blocks (``defaults.resilience``, a route's ``resilience``) and a provider's
``timeouts``: pydantic models of what an SRE may write (``spec``'s document uses them; ``compile`` reads
them into the compiled policy): retries and backoff, the breaker, the retry budget, the bulkhead, hedging,
the last resort, the per-attempt timeouts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import Spec as _Spec

PositiveSeconds = Annotated[float, Field(gt=0, le=86400)]


class TimeoutsSpec(_Spec):
    """Per-attempt timeouts, in seconds."""

    connect_s: PositiveSeconds = Field(
        5.0,
        description="Making a connection, in all: name lookup, TCP+TLS connect (not the wait for a free one at a"
        " connection limit: that is bounded by first_byte_s).",
    )
    first_byte_s: PositiveSeconds = Field(
        60.0, description="Until the response headers; for streams until the first content event."
    )
    idle_s: PositiveSeconds = Field(60.0, description="Longest gap between two reads of the response body.")
    total_s: PositiveSeconds = Field(600.0, description="Whole attempt, body included.")


class BackoffSpec(_Spec):
    base_s: float = Field(0.1, gt=0, le=60)
    cap_s: float = Field(2.0, gt=0, le=300)


class BreakerSpec(_Spec):
    """Circuit breaker per target (provider + model); see docs/resilience.md."""

    window: Literal["count", "time"] = "count"
    window_size: int = Field(20, ge=1, le=10_000, description="Calls (count) or seconds (time).")
    minimum_calls: int = Field(5, ge=1)
    failure_rate: float = Field(0.5, gt=0, le=1)
    slow_call_s: float = Field(60.0, gt=0)
    slow_call_rate: float = Field(1.0, gt=0, le=1)
    open_s: float = Field(5.0, gt=0, description="First open period; doubles on each re-open.")
    open_max_s: float = Field(120.0, gt=0)
    half_open_probes: int = Field(1, ge=1, le=100)
    probe_timeout_s: float = Field(30.0, gt=0)


class RetryBudgetSpec(_Spec):
    ratio: float = Field(0.2, ge=0, le=10, description="Retries allowed per request to the target.")
    min_retries: int = Field(3, ge=0, description="Retries always allowed per window.")
    window_s: float = Field(10.0, gt=0)


class BulkheadSpec(_Spec):
    max_concurrent: int = Field(2048, ge=1)
    queue_timeout_s: float = Field(1.0, ge=0)


class HedgeSpec(_Spec):
    after_s: float = Field(gt=0, description="Start the next target when no first byte by then.")


class StaticAnswerSpec(_Spec):
    text: str = Field(description="The canned answer text, returned as a normal completion.")


class LastResortSpec(_Spec):
    """What answers when every target failed: an error (default), a canned answer, or ``cache``: the
    response cache's entry for the request, past its TTL but within the route's ``cache.stale_s``
    (stale-if-error); without one it answers as ``error`` does, marked
    ``x-sidecar-degraded: cache-unavailable``."""

    kind: Literal["error", "static", "cache"] = "error"
    retry_after_s: float = Field(5.0, ge=0, description="kind=error: the Retry-After header.")
    static: StaticAnswerSpec | None = None

    @model_validator(mode="after")
    def _static_needs_text(self) -> LastResortSpec:
        if self.kind == "static" and self.static is None:
            raise ValueError("kind: static needs static.text")
        return self


class ResilienceSpec(_Spec):
    """How one request retries and falls back. In a route, unset fields inherit from ``defaults``."""

    max_attempts_per_target: int | None = Field(None, ge=1, le=10, description="Default 2.")
    deadline_s: float | None = Field(
        None, gt=0, description="Covers every attempt before the answer starts. Default 120."
    )
    backoff: BackoffSpec | None = None
    rate_limit_max_wait_s: float | None = Field(
        None,
        ge=0,
        description="Wait out a 429 on the same target at most this long, else fall back. Default 5.",
    )
    fallback_on: frozenset[Annotated[int, Field(ge=400, le=599)]] | None = Field(
        None, description="Upstream statuses that fall back. Default [500, 502, 503, 504, 529]."
    )
    timeouts: TimeoutsSpec | None = Field(None, description="Override the providers' timeouts.")
    hedge: HedgeSpec | None = Field(None, description="Off unless set.")
    last_resort: LastResortSpec | None = None

    @field_validator("max_attempts_per_target", "deadline_s", "backoff", "rate_limit_max_wait_s", "last_resort")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """An explicit ``null`` would replace the built-in default with nothing (every request failed)."""
        if value is None:
            raise ValueError("may not be null: leave the field out to inherit the default")
        return value
