"""Route conditions on routing's view of a request (``policy.conditions.Condition``): ``match: {task,
complexity, features}``. Built at policy load; the task and complexity are decided once per request
(``record.decide``), whichever condition or stage asks first, and only when a route asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .record import decide
from .rules import FeatureCheck

if TYPE_CHECKING:
    from ..request_facts import RequestFacts
    from .matrix import Router


@dataclass(frozen=True, slots=True)
class LabelIs:
    """``match: {task: [...]}`` or ``match: {complexity: [...]}``."""

    router: Router
    head: Literal["task", "complexity"]
    labels: frozenset[str]

    def matches(self, request: RequestFacts) -> bool:
        return getattr(decide(request, self.router), self.head).label in self.labels

    def why_not(self, request: RequestFacts) -> str:
        label = getattr(decide(request, self.router), self.head).label
        return f"{self.head} {label!r} is not {', '.join(sorted(self.labels))}"

    @property
    def summary(self) -> str:
        """``complexity complex``: the condition as ``diff`` shows it (the router is not part of it)."""
        return f"{self.head} {', '.join(sorted(self.labels))}"


@dataclass(frozen=True, slots=True)
class FeaturesHold:
    checks: tuple[FeatureCheck, ...]

    def matches(self, request: RequestFacts) -> bool:
        features = request.features
        for check in self.checks:  # noqa: SIM110 - a plain loop: no generator per request
            if not check.holds(features):
                return False
        return True

    def why_not(self, request: RequestFacts) -> str:
        features = request.features
        return "; ".join(check.explain(features) for check in self.checks if not check.holds(features))

    @property
    def text(self) -> str:
        return ", ".join(check.text for check in self.checks)

    @property
    def summary(self) -> str:
        """``features prompt_tokens > 100000``: the condition as ``diff`` shows it."""
        return f"features {self.text}"
