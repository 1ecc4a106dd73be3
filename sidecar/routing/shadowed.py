"""Rules and keywords that can never decide, because an earlier rule always decides first: warnings.

Task classes are tried in file order and complexity levels from the highest down; the first matching
rule decides. A rule of keywords alone (``min_keywords: 1``, no features, no regex) matches every text
that holds one of its keywords, in the windows it reads. So a later rule (of another class or a lower
level) that reads no other window and can only match with one of those keywords present never decides:
the SRE who adds ``summary`` to ``summarization`` after ``extraction`` already lists it has a rule
that is never used, and no error says so. ``shadowed_rules(spec)`` warns, with both paths:

- a whole rule, when fewer of its keywords are outside the earlier rule's than its ``min_keywords``
  (so any match holds one of the earlier rule's keywords);
- else each of its keywords the earlier rule has, when it needs one keyword (``min_keywords: 1``).

Keywords are compared as written, case-folded (a phrase and a word inside it are not compared).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from .spec import RoutingSpec, RuleSpec


class _Placed(NamedTuple):
    path: str
    label: str  # the class or level it decides
    keywords: frozenset[str]
    rule: RuleSpec


def shadowed_rules(spec: RoutingSpec | None) -> list[str]:
    """A warning, with its path, for each rule or keyword an earlier rule always decides first."""
    if spec is None:
        return []
    classes = [
        _Placed(f"routing.classes[{i}].rules[{j}]", c.name, _keywords(rule), rule)
        for i, c in enumerate(spec.classes)
        for j, rule in enumerate(c.rules)
    ]
    levels = [
        _Placed(f"routing.complexity.levels[{i}].rules[{j}]", level.name, _keywords(rule), rule)
        for i, level in reversed(list(enumerate(spec.complexity.levels)))
        for j, rule in enumerate(level.rules)
    ]
    return [*_in_order(classes, "class"), *_in_order(levels, "level")]


def _keywords(rule: RuleSpec) -> frozenset[str]:
    return frozenset(keyword.casefold() for keyword in rule.keywords or ())


def _in_order(rules: list[_Placed], what: str) -> Iterator[str]:
    for index, later in enumerate(rules):
        if not later.keywords:
            continue
        reported: set[str] = set()
        for earlier in rules[:index]:
            if earlier.label == later.label or not _always_on_keywords(earlier.rule):
                continue
            if not set(later.rule.in_) <= set(earlier.rule.in_):
                continue
            if len(later.keywords - earlier.keywords) < later.rule.min_keywords:
                yield (
                    f"{later.path}: never decides {what} {later.label!r}: {earlier.path} ({what}"
                    f" {earlier.label!r}, tried first) matches every text this rule can match"
                    f" ({_listed(later.keywords & earlier.keywords)})"
                )
                break
            if later.rule.min_keywords == 1:
                shared = (later.keywords & earlier.keywords) - reported
                if shared:
                    reported |= shared
                    yield (
                        f"{later.path}.keywords: {_listed(shared)} never {'decides' if len(shared) == 1 else 'decide'}"
                        f" {what} {later.label!r}:"
                        f" {earlier.path} ({what} {earlier.label!r}, tried first) has them too"
                    )


def _always_on_keywords(rule: RuleSpec) -> bool:
    """Whether ``rule`` matches every text holding one of its keywords (keywords alone, one needed)."""
    return bool(rule.keywords) and rule.min_keywords == 1 and rule.features is None and not rule.regex


def _listed(keywords: frozenset[str] | set[str]) -> str:
    return ", ".join(repr(keyword) for keyword in sorted(keywords))
