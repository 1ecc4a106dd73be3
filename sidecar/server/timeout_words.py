"""Which limit a timed-out attempt ran into, in words: the ``detail`` of a ``timeout_*`` outcome.

``classify`` names the phase (``timeout_connect``, ``timeout_first_byte``, ``timeout_idle``,
``timeout_total``); the words say which setting it was and its value, or that the route's ``deadline_s``
cut the wait, as the access line's ``attempt_log``, ``x-sidecar-fallback-reason`` and the error body give it.
"""

from __future__ import annotations

from dataclasses import replace

from ..policy.resilience_plan import AttemptTimeouts
from ..resilience.classify import Outcome


def explain_timeout(outcome: Outcome, timeouts: AttemptTimeouts, budget_s: float, *, stream: bool = False) -> Outcome:
    """``outcome``, a timeout's ``detail`` saying which limit was reached (``classify`` gives none)."""
    if outcome.error_type.startswith("timeout_") and not outcome.detail:
        return replace(outcome, detail=timeout_detail(outcome.error_type, timeouts, budget_s, stream=stream))
    return outcome


def timeout_detail(error_type: str, timeouts: AttemptTimeouts, budget_s: float, *, stream: bool = False) -> str:
    """Which limit a ``timeout_*`` attempt ran into, in words; ``budget_s`` is what was left of the route's
    ``deadline_s`` when the attempt started (the first byte's wait is cut to it; for a stream, the wait
    for its first content)."""
    if error_type == "timeout_connect":
        return f"no connection within connect_s ({timeouts.connect_s:g} s)"
    if error_type == "timeout_first_byte":
        awaited = "no content" if stream else "no response headers"
        if budget_s < timeouts.first_byte_s:
            return f"{awaited} within {budget_s:.3g} s: the rest of the route's deadline_s"
        return f"{awaited} within first_byte_s ({timeouts.first_byte_s:g} s)"
    if error_type == "timeout_idle":
        return f"no data for idle_s ({timeouts.idle_s:g} s)"
    return f"not finished within total_s ({timeouts.total_s:g} s)"
