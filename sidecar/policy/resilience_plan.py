"""The resilience and timeout specs as the request path reads them: slotted records made once per load.

A pydantic model's class defines ``__getattr__``, so Python 3.11 specializes no read of its fields: about
460 instructions a read, against 96 for a slot (docs/benchmarks.md, "Wave 47 `plain48`"), and a plain
request reads about twelve (the route's deadline and attempts, its hedge, the 429 wait, the four
timeouts). The compiled policy keeps a copy of each in plain slots, beside the spec it is made from:
``RouteSettings.tries`` (the route's ``ResilienceSpec``, defaults merged in) and
``Provider.attempt_timeouts`` (its ``TimeoutsSpec``). The specs stay the source, validated and immutable:
``diff``, the hazards and the rarer paths (the last resort, an ensemble, a passthrough) read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import slotted_copy
from .resilience_spec import BackoffSpec, HedgeSpec, ResilienceSpec, TimeoutsSpec


@dataclass(frozen=True, slots=True)
class AttemptTimeouts:
    """A ``TimeoutsSpec``'s four timeouts, in seconds."""

    connect_s: float
    first_byte_s: float
    idle_s: float
    total_s: float

    @classmethod
    def of(cls, spec: TimeoutsSpec) -> AttemptTimeouts:
        return slotted_copy(cls, spec)


@dataclass(frozen=True, slots=True)
class Tries:
    """How a route's requests retry and fall back: its ``ResilienceSpec`` with every field set."""

    max_attempts_per_target: int
    deadline_s: float
    backoff: BackoffSpec
    rate_limit_max_wait_s: float
    timeouts: AttemptTimeouts | None  # None: each provider's own (``Provider.attempt_timeouts``)
    hedge: HedgeSpec | None

    @classmethod
    def of(cls, spec: ResilienceSpec) -> Tries:
        """``spec`` with the defaults merged in (``policy.compile``): its fields with a default all set."""
        attempts, deadline_s, backoff, wait_s = (
            spec.max_attempts_per_target,
            spec.deadline_s,
            spec.backoff,
            spec.rate_limit_max_wait_s,
        )
        assert attempts is not None and deadline_s is not None and backoff is not None and wait_s is not None
        timeouts = None if spec.timeouts is None else AttemptTimeouts.of(spec.timeouts)
        return cls(
            max_attempts_per_target=attempts,
            deadline_s=deadline_s,
            backoff=backoff,
            rate_limit_max_wait_s=wait_s,
            timeouts=timeouts,
            hedge=spec.hedge,
        )
