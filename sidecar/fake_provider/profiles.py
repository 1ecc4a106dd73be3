"""Quality profiles: how often each fake model is right, per task class, and how it goes wrong.

A ``QualityProfile`` applies only to requests that carry a truth (``truth``); without one the fake model
echoes as before. Profiles are looked up by model name: the server's configured ones first (shell globs,
in order), then the built-in ``BUILTIN_PROFILES`` (exact names), else ``PERFECT`` (always right).

Fields (all probabilities 0..1):

- ``right``          task class -> probability of a right answer; ``"*"`` is the default (1 when absent).
                     The class ``judge`` is used when the model judges candidate answers.
- ``invalid_json``   when JSON was asked: probability that the JSON is broken (text) or lacks the answer
                     field (tool arguments)
- ``refusal``        probability of refusing instead of answering
- ``prose``          probability that a text answer comes in a sentence ("The answer is X.") not bare
- ``spread``         how far one answer's confidence strays from the class accuracy (calibrated: an answer
                     given with confidence c is right with probability c)
- ``trap``           probability that a wrong answer is the request's ``trap`` when it names one

``parse_profiles`` reads ``{model glob: {field: value}}`` (a bare number for ``right`` means ``{"*": p}``)
with errors naming the field.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_CLASS = "*"
JUDGE_CLASS = "judge"


@dataclass(frozen=True)
class QualityProfile:
    """One fake model's quality; see the module docstring for each field."""

    right: Mapping[str, float] = field(default_factory=lambda: {DEFAULT_CLASS: 1.0})
    invalid_json: float = 0.0
    refusal: float = 0.0
    prose: float = 0.0
    spread: float = 0.1
    trap: float = 1.0

    def accuracy(self, task: str) -> float:
        """The probability of a right answer for ``task`` (the ``"*"`` entry, else 1, when not listed)."""
        value = self.right.get(task)
        if value is None:
            value = self.right.get(DEFAULT_CLASS, 1.0)
        return value


PERFECT = QualityProfile()

# Illustrative tiers, shaped like frontier / mid-size / mini models on the classes of docs/routing.md's mix.
BUILTIN_PROFILES: Mapping[str, QualityProfile] = {
    "fake-premium": QualityProfile(
        right={
            "classification": 0.97,
            "extraction": 0.97,
            "analysis": 0.93,
            "reasoning": 0.88,
            "judge": 0.95,
            "*": 0.95,
        },
        invalid_json=0.005,
        refusal=0.002,
    ),
    "fake-standard": QualityProfile(
        right={"classification": 0.96, "extraction": 0.95, "analysis": 0.88, "reasoning": 0.72, "judge": 0.9, "*": 0.9},
        invalid_json=0.02,
        refusal=0.005,
        prose=0.1,
    ),
    "fake-mini": QualityProfile(
        right={
            "classification": 0.95,
            "extraction": 0.94,
            "analysis": 0.78,
            "reasoning": 0.45,
            "judge": 0.8,
            "*": 0.85,
        },
        invalid_json=0.05,
        refusal=0.01,
        prose=0.2,
    ),
}

_PROBABILITIES = ("invalid_json", "refusal", "prose", "spread", "trap")


def lookup(profiles: Mapping[str, QualityProfile], model: str) -> QualityProfile:
    """The profile for ``model``: configured globs in order, then the built-ins, else ``PERFECT``."""
    for pattern, profile in profiles.items():
        if fnmatch.fnmatchcase(model, pattern):
            return profile
    return BUILTIN_PROFILES.get(model, PERFECT)


def parse_profiles(raw: Any) -> dict[str, QualityProfile]:
    """``{model glob: profile}`` from plain data; ``ValueError`` naming the bad entry and field."""
    if not isinstance(raw, Mapping):
        raise ValueError("quality: must be a mapping of model name (glob) -> profile")
    parsed: dict[str, QualityProfile] = {}
    for pattern, value in raw.items():
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"quality: model names must be non-empty strings, got {pattern!r}")
        try:
            parsed[pattern] = value if isinstance(value, QualityProfile) else parse_profile(value)
        except ValueError as exc:
            raise ValueError(f"quality.{pattern}.{exc}") from None
    return parsed


def parse_profile(raw: Any) -> QualityProfile:
    """One profile from a mapping; ``ValueError`` whose text starts with the field name."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"(profile): must be a mapping, got {type(raw).__name__}")
    known = {f.name for f in fields(QualityProfile)}
    for key in raw:
        if key not in known:
            raise ValueError(f"{key}: unknown field (one of {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    if "right" in raw:
        values["right"] = _right(raw["right"])
    for name in _PROBABILITIES:
        if name in raw:
            values[name] = _probability(name, raw[name])
    return QualityProfile(**values)


def _right(raw: Any) -> dict[str, float]:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return {DEFAULT_CLASS: _probability("right", raw)}
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError("right: a probability, or a non-empty mapping of task class -> probability")
    return {str(task): _probability(f"right.{task}", value) for task, value in raw.items()}


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must be between 0 and 1, got {value!r}")
    return float(value)
