"""Rules compiled once per policy load; per request they only read a ``TextView``.

A ``Rule`` is up to three checks, tried cheapest first, all of which must hold:

- ``FeatureCheck``s: one comparison of a ``RequestFeatures`` field each (``prompt_tokens > 8000``);
- a ``KeywordSet``: the keywords split at load into one frozenset of single words (a set
  intersection with the words of the text), phrases (a substring test on the text's words joined by
  single spaces, so "step by step" matches "Step-by-step", made only when every word of the phrase is
  in the text's word set) and non-ASCII keywords (a substring test on the lowercased text: CJK has no
  spaces between words);
- a ``RegexSet``: the rule's patterns, compiled once, searched in the raw window.

The text forms the checks read are a ``textview.TextView``'s; the rules of a class list or of the
complexity levels are indexed in ``rule_index.RuleIndex``. ``Rule.explain`` says which part matched or
failed, for ``llm-sidecar explain``; the request path never builds those strings.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .features import RequestFeatures
from .literal import leading_literals, may_match
from .spec import FeatureTests, NumberTest, RuleSpec, TextField
from .textview import TextView, words_of

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
}
_SYMBOL = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=="}


@dataclass(frozen=True, slots=True)
class FeatureCheck:
    name: str
    compare: Callable[[Any, Any], bool]
    value: Any
    text: str  # "prompt_tokens > 8000"
    flag: bool = False  # a true/false test (``tools: false``), decided at load

    def __post_init__(self) -> None:
        object.__setattr__(self, "flag", isinstance(self.value, bool))

    def holds(self, features: RequestFeatures) -> bool:
        actual = getattr(features, self.name)
        if actual is None:
            return False
        if self.flag:
            return bool(actual) is self.value
        return self.compare(actual, self.value)

    def explain(self, features: RequestFeatures) -> str:
        verdict = "holds" if self.holds(features) else "fails"
        return f"{self.text} {verdict} (is {getattr(features, self.name)!r})"


def feature_checks(tests: FeatureTests) -> tuple[FeatureCheck, ...]:
    checks = []
    for name in tests.model_fields_set:
        test = getattr(tests, name)
        if isinstance(test, NumberTest):
            for op in test.model_fields_set:
                bound = getattr(test, op)
                checks.append(FeatureCheck(name, _COMPARE[op], bound, f"{name} {_SYMBOL[op]} {bound:g}"))
        elif test is not None:
            checks.append(FeatureCheck(name, operator.is_, bool(test), f"{name} is {str(test).lower()}"))
    return tuple(sorted(checks, key=lambda c: c.text))


@dataclass(frozen=True, slots=True)
class KeywordSet:
    words: frozenset[str]
    phrases: tuple[tuple[frozenset[str], str], ...]  # ({"step", "by"}, " step by step ")
    substrings: tuple[str, ...]  # lowercased non-ASCII keywords
    min_count: int
    fields: tuple[TextField, ...]
    # each phrase filed under its longest word: only phrases whose key word is in the text are searched
    by_key: Mapping[str, tuple[tuple[frozenset[str], str], ...]] = dataclasses.field(default_factory=dict)
    keys: frozenset[str] = frozenset()
    # every word one of the keywords needs (single words, each phrase's key word); None with substrings
    triggers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        by_key: dict[str, list[tuple[frozenset[str], str]]] = {}
        for words, phrase in self.phrases:
            by_key.setdefault(max(sorted(words), key=len), []).append((words, phrase))
        object.__setattr__(self, "by_key", {key: tuple(group) for key, group in by_key.items()})
        object.__setattr__(self, "keys", frozenset(by_key))
        object.__setattr__(self, "triggers", None if self.substrings else self.words | frozenset(by_key))

    @classmethod
    def build(cls, keywords: list[str], min_count: int, fields: tuple[TextField, ...]) -> KeywordSet:
        single, phrases, substrings = set(), [], []
        for keyword in keywords:
            if not keyword.isascii():
                substrings.append(keyword.lower())
                continue
            parts = words_of(keyword)
            if len(parts) == 1:
                single.add(parts[0])
            else:
                phrases.append((frozenset(parts), " " + " ".join(parts) + " "))
        return cls(
            frozenset(single), tuple(dict.fromkeys(phrases)), tuple(dict.fromkeys(substrings)), min_count, fields
        )

    def found(self, view: TextView, enough: int) -> set[str]:
        """The distinct keywords present, stopping once ``enough`` are found."""
        found: set[str] = set()
        for field in self.fields:
            found |= self.words & view.word_set(field)
            if len(found) >= enough:
                return found
            present = view.word_set(field)
            for key in self.keys & present:
                for words, phrase in self.by_key[key]:
                    if words <= present and phrase in view.spaced(field):
                        found.add(phrase.strip())
            if self.substrings:
                lower = view.lower(field)
                found.update(s for s in self.substrings if s in lower)
            if len(found) >= enough:
                return found
        return found

    def holds(self, view: TextView) -> bool:
        triggers = self.triggers
        if triggers is not None:  # one set operation per window read: most rules fail here
            for field in self.fields:
                if not triggers.isdisjoint(view.word_set(field)):
                    break
            else:
                return False
        if self.min_count == 1:
            for field in self.fields:
                if not self.words.isdisjoint(view.word_set(field)):
                    return True
        return len(self.found(view, self.min_count)) >= self.min_count

    def explain(self, view: TextView) -> str:
        found = sorted(self.found(view, len(self.words) + len(self.phrases) + len(self.substrings)))
        where = " or ".join(self.fields)
        if len(found) >= self.min_count:
            return f"keywords {', '.join(repr(k) for k in found)} in {where}"
        if self.min_count == 1:
            return f"no keyword of the set in {where}"
        have = ", ".join(repr(k) for k in found) or "none"
        return f"fewer than {self.min_count} keywords of the set in {where} (found {have})"


@dataclass(frozen=True, slots=True)
class RegexSet:
    patterns: tuple[re.Pattern[str], ...]
    fields: tuple[TextField, ...]
    # each pattern with the literals its matches start with (``literal.leading_literals``): a text
    # without one is not searched
    prefixed: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixed", tuple((leading_literals(p), p) for p in self.patterns))

    def first(self, view: TextView) -> tuple[re.Pattern[str], TextField, str] | None:
        for field in self.fields:
            text = view.raw(field)
            for literals, pattern in self.prefixed:
                if not may_match(literals, text):
                    continue
                found = pattern.search(text)
                if found is not None:
                    return pattern, field, found.group(0)
        return None

    def holds(self, view: TextView) -> bool:
        return self.first(view) is not None

    def explain(self, view: TextView) -> str:
        hit = self.first(view)
        if hit is None:
            return f"no regex matches {' or '.join(self.fields)}"
        return f"regex {hit[0].pattern!r} matches {hit[2][:40]!r} in {hit[1]}"


@dataclass(frozen=True, slots=True)
class Rule:
    path: str  # "routing.classes[2].rules[0]"
    checks: tuple[FeatureCheck, ...]
    keywords: KeywordSet | None
    regexes: RegexSet | None

    def matches(self, view: TextView) -> bool:
        features = view.features
        for check in self.checks:
            if not check.holds(features):
                return False
        if self.keywords is not None and not self.keywords.holds(view):
            return False
        return self.regexes is None or self.regexes.holds(view)

    def explain(self, view: TextView) -> list[str]:
        """Each part's verdict, in evaluation order."""
        parts = [check.explain(view.features) for check in self.checks]
        if self.keywords is not None:
            parts.append(self.keywords.explain(view))
        if self.regexes is not None:
            parts.append(self.regexes.explain(view))
        return parts


def compile_rule(spec: RuleSpec, path: str) -> Rule:
    fields = tuple(dict.fromkeys(spec.in_))
    checks = feature_checks(spec.features) if spec.features is not None else ()
    keywords = KeywordSet.build(spec.keywords, spec.min_keywords, fields) if spec.keywords else None
    regexes = RegexSet(tuple(re.compile(p) for p in spec.regex), fields) if spec.regex else None
    return Rule(path, checks, keywords, regexes)
