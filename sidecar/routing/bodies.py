"""The request's own output maximum, read from its one field by the dialect's ``bodies.output_limit``
(``BodyRules``), checked: what a budget's reservation needs when no features were computed
(``budgets.estimate``); routing's ``features.Tally`` checks the walkers' value with ``positive``.

The walkers that read routing's features from a body are in each dialect's package
(``sidecar/dialects/<dialect>/features.py``), reached through ``registry.feature_walker``.
"""

from __future__ import annotations

from typing import Any

from ..dialects import Dialect, Operation
from ..dialects.registry import wire


def positive(value: Any) -> int | None:
    """An output maximum as the body gives it: a positive integer, else None (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def output_limit(dialect: Dialect, operation: Operation, body: dict[str, Any]) -> int | None:
    """The request's own output maximum (no walk), or None."""
    return positive(wire(dialect).bodies.output_limit(body, operation))
