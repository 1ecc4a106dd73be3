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

A rule of features alone whose every test holds for any request (``turns: {ge: 0}``, ``prompt_tokens:
{lt: 1e15}``, ``features: {}``) matches every request: ``always_true_rules(spec)`` warns, naming the
rule and the classes (later in file order) or levels (below it) it leaves without a request, and the
default and the learned model it is never left to. Only counts every request has can hold always
(``prompt_tokens``, ``turns``, ``last_user_chars``: 0 or more, below ``NO_REQUEST_REACHES``); a request
may lack a ``max_output_tokens`` and a true/false test fails for some.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from .rules import feature_checks
from .spec import NumberTest, RoutingSpec, RuleSpec

NO_REQUEST_REACHES = 10**12  # tokens, characters or turns: an upper bound at or above this always holds
_ALWAYS_PRESENT = frozenset(("prompt_tokens", "turns", "last_user_chars"))  # counts, never None


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


def always_true_rules(spec: RoutingSpec | None) -> list[str]:
    """A warning for the first rule of the classes and of the levels that matches every request."""
    if spec is None:
        return []
    warnings: list[str] = []
    learned = spec.learned.decides if spec.learned is not None else ()
    classes = [c.name for c in spec.classes]
    for i, task_class in enumerate(spec.classes):
        found = _first_always_true(task_class.rules, f"routing.classes[{i}]")
        if found is not None:
            later = [name for name in classes[i + 1 :] if name != task_class.name]
            default = ("default_class", spec.default_class) if spec.default_class != task_class.name else None
            warnings.extend(_always_warning(found, "class", later, default, "task" in learned))
            break
    levels = spec.complexity.levels
    for i in reversed(range(len(levels))):
        found = _first_always_true(levels[i].rules, f"routing.complexity.levels[{i}]")
        if found is not None:
            lower = [level.name for level in reversed(levels[:i])]
            level_default = spec.complexity.default
            named = ("complexity.default", level_default) if level_default != levels[i].name else None
            warnings.extend(_always_warning(found, "level", lower, named, "complexity" in learned))
            break
    return warnings


def _first_always_true(rules: list[RuleSpec], where: str) -> tuple[str, str] | None:
    """The path and tests of the first of ``rules`` that matches every request."""
    for j, rule in enumerate(rules):
        tests = rule.features
        if tests is None or rule.keywords or rule.regex:
            continue
        if all(name in _ALWAYS_PRESENT and _holds_always(getattr(tests, name)) for name in _set_tests(rule)):
            checks = ", ".join(check.text for check in feature_checks(tests)) or "no test"
            return f"{where}.rules[{j}]", checks
    return None


def _set_tests(rule: RuleSpec) -> list[str]:
    tests = rule.features
    return [name for name in tests.model_fields_set if getattr(tests, name) is not None] if tests else []


def _holds_always(test: NumberTest) -> bool:
    """Whether every count from 0 to ``NO_REQUEST_REACHES`` passes ``test``."""
    return (
        test.eq is None
        and (test.gt is None or test.gt < 0)
        and (test.ge is None or test.ge <= 0)
        and (test.lt is None or test.lt > NO_REQUEST_REACHES)
        and (test.le is None or test.le >= NO_REQUEST_REACHES)
    )


def _always_warning(
    found: tuple[str, str], what: str, shadowed: list[str], default: tuple[str, str] | None, learned: bool
) -> list[str]:
    """The warning, when the rule leaves something that would otherwise decide without a request."""
    path, tests = found
    lost = [f"{what} {name!r}" for name in shadowed]
    if learned:
        lost.append("the learned model")
    if default is not None:
        lost.append(f"{default[0]} {default[1]!r}")
    if not lost:
        return []
    return [
        f"{path}: matches every request ({tests}): {', '.join(lost)} never {'decides' if len(lost) == 1 else 'decide'}"
    ]


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
