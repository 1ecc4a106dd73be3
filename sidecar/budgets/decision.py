"""What admission decided, and how the request path shows it (status, message, headers, span, access line).

``Decision.verdict`` is one of:

    allow       serve the planned targets; no limit acted
    warn        serve, and flag it: a warn limit (or a soft threshold with action warn) was passed
    downgrade   serve from ``targets`` (a limit's cheaper list) instead of the planned chain
    deny        answer ``status`` (429) in the caller's dialect with ``Retry-After: retry_after_s`` and
                ``message`` (names the limit, the scope value, the amount and the reset time)

``acted`` is the limit that decided (None for allow); ``flags`` every limit that was passed, soft ones
included, as ``LimitState``s; ``tightest`` the applied counter with the least room left, which the
opt-in headers report. ``store`` says how counting went: ``ok`` (in the configured store), ``fallback``
(in this pod alone: the shared store is down and the limits fail open), or ``unavailable`` (denied: a
limit fails closed).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from .compiled import GLOBAL, NO_VALUE, Limit
from .pricing import from_units
from .spec import Measure, ScopeKind
from .windows import nominal_seconds

Verdict = Literal["allow", "warn", "downgrade", "deny"]
StoreUse = Literal["ok", "fallback", "unavailable"]


@dataclass(frozen=True, slots=True)
class LimitState:
    """One counter as admission saw it: use after this call's reservation, in counter units."""

    limit: Limit
    value: str
    used: int
    resets_at: int
    soft: bool = False

    @property
    def remaining(self) -> int:
        return max(0, self.limit.units - self.used)

    def show(self, units: int) -> str:
        """Units in the limit's own terms: ``$1.234567``, ``1200 tokens``, ``3 requests``."""
        measure = self.limit.measure
        if measure is Measure.USD:
            return f"${from_units(measure, units):.6f}".rstrip("0").rstrip(".")
        return f"{units} {measure.value if units != 1 else measure.value[:-1]}"

    def scope_text(self) -> str:
        limit = self.limit
        if self.value == GLOBAL:
            return "all requests"
        if limit.scope is ScopeKind.KEY:
            return "your API key" if self.value != NO_VALUE else "requests without an API key"
        name = limit.header if limit.scope is ScopeKind.HEADER else limit.scope.value
        return f"{name} {self.value!r}" if self.value != "other" else f"{name} (others)"


@dataclass(slots=True)
class Decision:
    """Read-only by convention (not frozen: one is built per request, and frozen init costs ~1 us)."""

    verdict: Verdict
    acted: LimitState | None = None
    targets: tuple[str, ...] = ()
    flags: tuple[LimitState, ...] = ()
    tightest: LimitState | None = None
    store: StoreUse = "ok"
    status: int = 200
    retry_after_s: int = 0
    message: str = ""
    skipped: tuple[str, ...] = field(default=())
    """Targets skipped because a model or provider quota refused them."""

    @property
    def access_field(self) -> str | None:
        """For the access line's ``budget`` field: ``<verdict>:<limit>`` when a limit acted, else None."""
        if self.acted is None:
            return "store:fallback" if self.store == "fallback" else None
        return f"{self.verdict}:{self.acted.limit.name}{':soft' if self.acted.soft else ''}"

    def span_event(self) -> tuple[str, dict[str, str | int | float | bool]] | None:
        """The ``sidecar.budget`` span event (name, attributes) when a limit acted or counting fell back."""
        if self.acted is None and self.store == "ok":
            return None
        attributes: dict[str, str | int | float | bool] = {"sidecar.budget.verdict": self.verdict}
        attributes["sidecar.budget.store"] = self.store
        if self.acted is not None:
            state = self.acted
            attributes.update(
                {
                    "sidecar.budget.limit": state.limit.name,
                    "sidecar.budget.scope": state.limit.label(state.value),
                    "sidecar.budget.soft": state.soft,
                    "sidecar.budget.used": from_units(state.limit.measure, state.used),
                    "sidecar.budget.amount": state.limit.amount,
                }
            )
        if self.targets and self.verdict == "downgrade":
            attributes["sidecar.budget.targets"] = ",".join(self.targets)
        return "sidecar.budget", attributes


def deny_message(state: LimitState, requested: int) -> str:
    """The caller-facing text of a refusal: which limit, for whom, how much, until when."""
    limit = state.limit
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.resets_at))
    return (
        f"budget limit {limit.name!r} reached for {state.scope_text()}: {state.show(limit.units)} per "
        f"{limit.window.value}, {state.show(state.used)} used or reserved, this request needs up to "
        f"{state.show(requested)}; the window resets at {reset}"
    )


def retry_after(resets_at: int, now: float) -> int:
    return max(1, math.ceil(resets_at - now))


def budget_headers(decision: Decision, now: float) -> list[tuple[str, str]]:
    """The opt-in answer headers (``budgets.headers: true``): ``x-sidecar-budget-*`` for the tightest
    counter and the acting limit, and the IETF ``RateLimit`` / ``RateLimit-Policy`` pair for token and
    request limits (their quotas are whole numbers; a USD limit has only the x- headers). A denied request
    used no counter: its tightest is the limit that denied it (``verdicts.denial``), so its 429 says how much
    is left and when. Without the opt-in, a decision has no tightest: only the action and store headers."""
    headers: list[tuple[str, str]] = []
    state = decision.tightest
    if state is not None:
        limit = state.limit
        remaining = from_units(limit.measure, state.remaining)
        reset = retry_after(state.resets_at, now)
        headers += [
            ("x-sidecar-budget-limit", limit.name),
            ("x-sidecar-budget-remaining", f"{remaining:.6f}".rstrip("0").rstrip(".")),
            ("x-sidecar-budget-reset", str(reset)),
        ]
        if limit.measure is not Measure.USD:
            headers += [
                ("ratelimit-policy", f'"{limit.name}";q={limit.units};w={nominal_seconds(limit.window)}'),
                ("ratelimit", f'"{limit.name}";r={state.remaining};t={reset}'),
            ]
    if decision.acted is not None:
        headers.append(("x-sidecar-budget-action", decision.access_field or decision.verdict))
    if decision.store != "ok":
        headers.append(("x-sidecar-budget-store", decision.store))
    return headers
