"""Values that validate but would harm the providers of every pod at once: load-time warnings.

The policy is one ConfigMap read by every pod, so a typo in it acts everywhere at the same moment. What
is surely wrong is refused by the schema (a timeout or a hedge delay of 0, a retry ratio over 10, an
exponential regular expression: ``backtracking``); what is only likely wrong loads, with a warning in
``Policy.warnings`` (``validate`` prints it, the server logs ``policy_warning``), as Envoy and
resilience4j accept and log such settings:

- ``defaults.retry_budget.ratio`` over 1: retries may outnumber the requests, so in an outage only
  ``max_attempts_per_target`` holds them back (the SRE book keeps retries under 10% of the requests,
  Envoy's retry budget 20%);
- ``defaults.retry_budget.min_retries`` over 100: that many retries in each window of each pod
  whatever fails, so the budget does not hold an outage's retries back;
- a ``hedge.after_s`` under 0.1 s: no provider answers an LLM call that fast, so nearly every call is
  made twice (traffic and cost doubled);
- a ``first_byte_s``, ``idle_s`` or ``total_s`` timeout, or a ``deadline_s``, under 1 s: most models
  take longer to start (or pause longer while thinking), so most calls fail and fall back at once (the
  unit is seconds).

``hazard_warnings(spec)`` lists them, each with its path.
"""

from __future__ import annotations

from collections.abc import Iterator

from .resilience_spec import ResilienceSpec, TimeoutsSpec
from .spec import PolicySpec

MAX_RETRY_RATIO = 1.0
MAX_MIN_RETRIES = 100
MIN_HEDGE_S = 0.1
MIN_TIMEOUT_S = 1.0
DEFAULT_ATTEMPTS = 2  # ResilienceSpec.max_attempts_per_target's default


def hazard_warnings(spec: PolicySpec) -> list[str]:
    """A warning, with its path, for each value of ``spec`` that would harm every pod at once."""
    budget = spec.defaults.retry_budget
    warnings = []
    if budget.ratio > MAX_RETRY_RATIO:
        attempts = max(r.max_attempts_per_target or DEFAULT_ATTEMPTS for _, r in _resiliences(spec))
        warnings.append(
            f"defaults.retry_budget.ratio: {budget.ratio:g} allows {budget.ratio:g} retries per request: in an"
            f" outage only max_attempts_per_target ({attempts}) holds them back, up to"
            f" {1 + min(budget.ratio, attempts - 1):g}x a target's load from every pod (the SRE book keeps"
            " retries under 0.1 of requests, Envoy 0.2)"
        )
    if budget.min_retries > MAX_MIN_RETRIES:
        warnings.append(
            f"defaults.retry_budget.min_retries: {budget.min_retries} retries in every {budget.window_s:g} s"
            " of every pod whatever fails: the retry budget does not hold back an outage's retries"
        )
    for path, resilience in _resiliences(spec):
        warnings.extend(_resilience_warnings(path, resilience))
    for name, provider in spec.providers.items():
        warnings.extend(_timeout_warnings(f"providers.{name}.timeouts", provider.timeouts))
    return warnings


def _resiliences(spec: PolicySpec) -> Iterator[tuple[str, ResilienceSpec]]:
    yield "defaults.resilience", spec.defaults.resilience
    for index, route in enumerate(spec.routes):
        if route.resilience is not None:
            yield f"routes[{index}].resilience", route.resilience
    if spec.default is not None and spec.default.resilience is not None:
        yield "default.resilience", spec.default.resilience


def _resilience_warnings(path: str, resilience: ResilienceSpec) -> list[str]:
    warnings = []
    if resilience.hedge is not None and resilience.hedge.after_s < MIN_HEDGE_S:
        warnings.append(
            f"{path}.hedge.after_s: {resilience.hedge.after_s:g} s is sooner than any provider starts an"
            " answer: nearly every call is made twice (traffic and cost doubled); set it near the target's"
            " p95 time to first byte"
        )
    if resilience.deadline_s is not None and resilience.deadline_s < MIN_TIMEOUT_S:
        warnings.append(_too_short(f"{path}.deadline_s", resilience.deadline_s))
    if resilience.timeouts is not None:
        warnings.extend(_timeout_warnings(f"{path}.timeouts", resilience.timeouts))
    return warnings


def _timeout_warnings(path: str, timeouts: TimeoutsSpec) -> list[str]:
    return [
        _too_short(f"{path}.{name}", getattr(timeouts, name))
        for name in ("first_byte_s", "idle_s", "total_s")
        if getattr(timeouts, name) < MIN_TIMEOUT_S
    ]


def _too_short(path: str, seconds: float) -> str:
    return (
        f"{path}: {seconds:g} s is shorter than most models take to start answering (or pause while"
        " thinking): most calls fail and fall back at once, in every pod (the unit is seconds)"
    )
