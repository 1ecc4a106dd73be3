"""Rules compiled once per policy load; per request they only read a ``TextView``.

A ``Rule`` is up to three checks, tried cheapest first, all of which must hold:

- ``FeatureCheck``s: one comparison of a ``RequestFeatures`` field each (``prompt_tokens > 8000``);
- a ``KeywordSet``: the keywords split at load into one frozenset of single words (a set
  intersection with the words of the text), phrases (a substring test on the text's words joined by
  single spaces, so "step by step" matches "Step-by-step", made only when every word of the phrase is
  in the text's word set) and non-ASCII keywords (a substring test on the lowercased text: CJK has no
  spaces between words);
- a ``RegexSet``: the rule's patterns, compiled once, searched in the raw window.

``TextView`` holds the per-request derived forms of the two windows (lowercased, words, word set),
computed on first use and shared by every rule and by the learned model. ``Rule.explain`` says which
part matched or failed, for ``llm-sidecar explain``; the request path never builds those strings.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .features import RequestFeatures
from .literal import AnyPattern, PatternKey, leading_literals, may_match
from .spec import FeatureTests, NumberTest, RuleSpec, TextField

_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))


_PUNCTUATION = string.punctuation.replace("_", "").encode()
_ASCII_PUNCTUATION_TO_SPACE = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))


def split_words(lowered: str) -> list[str]:
    """The words of lowercased text: ASCII punctuation (except ``_``) separates words, like whitespace.
    An ASCII text is translated as bytes (one table lookup a byte; ``str.translate`` with a dict looks
    every distinct character up in the dict and raises a KeyError inside for each one it lacks)."""
    if lowered.isascii():
        return lowered.encode("ascii").translate(_ASCII_PUNCTUATION_TO_SPACE).decode("ascii").split()
    return lowered.translate(_PUNCTUATION_TO_SPACE).split()


# ``str.split`` also breaks at the ASCII separators 0x1c-0x1f, ``bytes.split`` does not: they become spaces
_ASCII_WORD_BREAKS = bytes.maketrans(_PUNCTUATION + b"\x1c\x1d\x1e\x1f", b" " * (len(_PUNCTUATION) + 4))


def ascii_words(text: str) -> list[bytes]:
    """The words of an ASCII ``text`` (not lowercased first) as bytes: ``split_words(text.lower())``,
    encoded, with no ``str`` made per word (a check against keywords as bytes needs no more)."""
    return text.encode("ascii").translate(_ASCII_WORD_BREAKS).lower().split()


def words_of(text: str) -> list[str]:
    """Lowercased words: ASCII punctuation (except ``_``) separates words, like whitespace."""
    return split_words(text.lower())


TEXT_OF: Mapping[TextField, Callable[[RequestFeatures], str]] = {
    "system": operator.attrgetter("system_text"),
    "last_user": operator.attrgetter("last_user_text"),
}
"""Each window's reader (in C: no Python call per read)."""


class TextView:
    """The two windows of one request and their derived forms, each computed once on first use."""

    __slots__ = ("_lower", "_spaced", "_word_sets", "_words", "features", "searched")

    def __init__(self, features: RequestFeatures) -> None:
        self.features = features
        self.searched: dict[tuple[PatternKey, str], bool] = {}
        """Gate searches of patterns without a leading literal, by (source and flags, text): the class and the
        level gates often share one (digit-led arithmetic), and such a search scans the whole text."""
        self._lower: dict[str, str] = {}
        self._words: dict[str, list[str]] = {}
        self._word_sets: dict[str, frozenset[str]] = {}
        self._spaced: dict[str, str] = {}

    def raw(self, field: TextField) -> str:
        return self.features.system_text if field == "system" else self.features.last_user_text

    def lower(self, field: TextField) -> str:
        value = self._lower.get(field)
        if value is None:
            value = self._lower[field] = self.raw(field).lower()
        return value

    def words(self, field: TextField) -> list[str]:
        value = self._words.get(field)
        if value is None:
            value = self._words[field] = split_words(self.lower(field))
        return value

    def word_set(self, field: TextField) -> frozenset[str]:
        value = self._word_sets.get(field)
        if value is None:
            words = self._words.get(field)
            if words is None:  # ``words``, without the call: every request with keyword rules needs it
                words = self._words[field] = split_words(self.lower(field))
            value = self._word_sets[field] = frozenset(words)
        return value

    def spaced(self, field: TextField) -> str:
        """The words joined by single spaces, with a space at each end (phrase search)."""
        value = self._spaced.get(field)
        if value is None:
            value = self._spaced[field] = " " + " ".join(self.words(field)) + " "
        return value


# ---------------------------------------------------------------------------------------------------------
# Checks

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


@dataclass(frozen=True, slots=True)
class RuleIndex:
    """Labelled rules in their order, indexed so that ``first_index(view)`` evaluates only the rules
    that can match: a rule with keywords (and no non-ASCII substring) only when one of its trigger
    words is in a window it reads; the rules that are regexes alone only when, for some window, one
    of the patterns of the rules reading that window (its gate) finds something; the others
    (features) always. Built at load, per window, so a window no rule's words or regexes read is never
    split into words nor searched; per request one set intersection per window and at most one search
    per distinct pattern pick the rules to try, still in their order.

    A gate's patterns are searched one by one, not joined into one alternation: each search keeps
    the engine's own shortcuts (skipping to a pattern's leading literal), which an alternation loses
    (every alternative is tried at every position: on a 1.3 KB window the alternation of five patterns
    cost more than the five searches together). A pattern shared by two rules is searched once per gate.
    A pattern whose leading literal the window lacks is not searched (``literal.AnyPattern``); the
    searches of patterns without a literal (which scan the whole window) are remembered on the
    ``TextView`` for the other index's gate over the same window (the class and level gates of
    ``routing_rules.yaml`` share a digit-led pattern); the others are not (a memo cost more than the
    searches it saved on short texts)."""

    entries: tuple[tuple[str, Rule], ...]
    always: tuple[int, ...]  # rules with no trigger words, in order
    vocabularies: tuple[tuple[TextField, frozenset[str], Mapping[str, tuple[int, ...]]], ...]  # per window
    # per window (its reader, ``TEXT_OF``): the regex-only rules' patterns
    gates: tuple[tuple[Callable[[RequestFeatures], str], AnyPattern], ...] = ()
    ungated: tuple[int, ...] = ()  # ``always`` without the regex-only rules (no gate found anything)
    gate_patterns: tuple[tuple[TextField, tuple[re.Pattern[str], ...]], ...] = ()  # the gates' patterns by window

    @classmethod
    def build(cls, labelled: Sequence[tuple[str, Sequence[Rule]]]) -> RuleIndex:
        entries = tuple((label, rule) for label, rules in labelled for rule in rules)
        always: list[int] = []
        by_word: dict[TextField, dict[str, list[int]]] = {}
        regex_only: list[int] = []
        patterns: dict[TextField, list[re.Pattern[str]]] = {}
        for i, (_, rule) in enumerate(entries):
            triggers = rule.keywords.triggers if rule.keywords is not None else None
            if triggers is None:
                always.append(i)
                if rule.regexes is not None and rule.keywords is None and not rule.checks:
                    regex_only.append(i)
                    for field in rule.regexes.fields:
                        patterns.setdefault(field, []).extend(rule.regexes.patterns)
                continue
            assert rule.keywords is not None
            for field in rule.keywords.fields:
                for word in triggers:
                    by_word.setdefault(field, {}).setdefault(word, []).append(i)
        gates = tuple((TEXT_OF[field], AnyPattern(tuple(found))) for field, found in patterns.items())
        ungated = tuple(i for i in always if i not in regex_only)
        vocabularies = tuple(
            (field, frozenset(words), {w: tuple(ix) for w, ix in words.items()}) for field, words in by_word.items()
        )
        gate_patterns = tuple((field, tuple(found)) for field, found in patterns.items())
        return cls(entries, tuple(always), vocabularies, gates, ungated, gate_patterns)

    def _gate_opens(self, view: TextView) -> bool:
        """Whether a pattern of a regex-only rule finds something in the window it reads."""
        features = view.features
        for text_of, gate in self.gates:  # noqa: SIM110 - a plain loop: no generator per request
            if gate.finds(text_of(features), view.searched):
                return True
        return False

    def with_keyword_hits(self, order: Sequence[int], word_set: Callable[[TextField], frozenset[str]]) -> Sequence[int]:
        """``order`` and the keyword rules one of whose trigger words is in a window they read, in
        the rules' order (``word_set``: a window's words)."""
        chosen: set[int] | None = None
        for field, vocabulary, by_word in self.vocabularies:
            hits = vocabulary.intersection(word_set(field))
            if hits:
                if chosen is None:
                    chosen = set(order)
                for word in hits:
                    chosen.update(by_word[word])
        return order if chosen is None else sorted(chosen)

    def first(self, view: TextView) -> tuple[str, Rule] | None:
        i = self.first_index(view)
        return self.entries[i] if i >= 0 else None

    def first_index(self, view: TextView) -> int:
        """The position in ``entries`` of the first matching rule, -1 when none matches."""
        order: Sequence[int] = self.always if self.gates and self._gate_opens(view) else self.ungated
        order = self.with_keyword_hits(order, view.word_set)
        entries = self.entries
        for i in order:
            if entries[i][1].matches(view):
                return i
        return -1


def first_match(rules: tuple[Rule, ...], view: TextView) -> Rule | None:
    for rule in rules:
        if rule.matches(view):
            return rule
    return None
