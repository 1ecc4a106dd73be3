"""The request path's classifier: the rules of one policy's classes and levels, flattened at load.

``Classifier(router)`` is built once per policy load (``matrix.Router``) from the router's two rule
indexes (``rule_index.RuleIndex``: classes in file order, levels highest first) and answers the same
``Decision`` as ``Router.explain`` and the indexes' ``first_index`` do, with less per-request work:

- each window a keyword rule reads is split into words (an ASCII window as bytes, against the
  keywords as bytes), and one ``isdisjoint`` with the union of every keyword word of both indexes
  tells whether any keyword rule can match at all (the usual request: none can, no word set is
  built and no index looks at its vocabularies; else each window's word set is built once);
- the two indexes' gates (the patterns of the rules that are regexes alone) are one pass per window:
  each distinct pattern is searched at most once, only while an index it opens is still closed, and
  only when the window holds its leading literal (``literal.leading_literals``), and a pattern whose
  matches start with a digit (``\\d...``, ``literal.leads_with_digit``) only when the window is not an
  ASCII text without digits;
- a rule of feature checks alone is tried inline, by position in ``RequestFeatures`` (no method call
  per check); other rules through ``Rule.matches`` on a ``TextView`` that starts with the words
  already split;
- the ``Decision`` of each (task verdict, complexity verdict) pair is built on its first use and kept
  (a policy's cells are finite: rules x levels); a label no rule decided, when the policy has a
  learned model, is the model's, per request (``Router.complete``: its confidence is the request's),
  the rules' verdicts kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .features import RequestFeatures
from .literal import ASCII_DIGITS, leading_literals, leads_with_digit
from .rule_index import RuleIndex
from .rules import FeatureCheck, Rule
from .spec import TextField
from .textview import ASCII_WORD_BREAKS, TEXT_OF, TextView, split_words

if TYPE_CHECKING:
    from .matrix import Decision, Router, Verdict

TASK_HEADER = "x-sidecar-task"
_TASK, _LEVEL = 1, 2  # gate bits: which index a pattern opens
_FIELD_POSITION = {name: i for i, name in enumerate(RequestFeatures._fields)}

# A compiled feature check: (position in RequestFeatures, comparison, bound, whether a true/false test)
InlineCheck = tuple[int, Callable[[Any, Any], bool], Any, bool]
# How one rule of an index is tried: its feature checks inline, or (None) ``Rule.matches`` on a view
RuleTest = tuple[InlineCheck, ...] | None


def inline_checks(checks: Sequence[FeatureCheck]) -> tuple[InlineCheck, ...]:
    return tuple((_FIELD_POSITION[c.name], c.compare, c.value, c.flag) for c in checks)


def _test_of(rule: Rule) -> RuleTest:
    if rule.keywords is None and rule.regexes is None:
        return inline_checks(rule.checks)
    return None


class _IndexPlan:
    """One rule index as the classifier walks it."""

    __slots__ = ("always", "entries", "index", "rules", "tests", "ungated")

    def __init__(self, index: RuleIndex) -> None:
        self.index = index
        self.entries = index.entries
        self.rules = tuple(rule for _, rule in index.entries)
        self.tests = tuple(_test_of(rule) for rule in self.rules)
        self.always = index.always
        self.ungated = index.ungated

    def first(
        self,
        features: RequestFeatures,
        gate_open: int,
        word_sets: Mapping[str, frozenset[str]] | None,
        view: list[TextView | None],
    ) -> int:
        """The position of the first matching rule, -1 when none does (``RuleIndex.first_index``)."""
        order: Sequence[int] = self.always if gate_open else self.ungated
        if word_sets is not None:
            order = self.index.with_keyword_hits(order, word_sets.__getitem__)
        tests, rules = self.tests, self.rules
        for i in order:
            test = tests[i]
            if test is None:
                text_view = view[0]
                if text_view is None:
                    text_view = view[0] = TextView(features)
                if rules[i].matches(text_view):
                    return i
                continue
            for position, compare, bound, flag in test:
                actual = features[position]
                if actual is None or not (bool(actual) is bound if flag else compare(actual, bound)):
                    break
            else:
                return i
        return -1


class Classifier:
    """``decide(features, headers)``: the router's ``Decision`` (see the module docstring)."""

    __slots__ = (
        "_ascii_vocabulary",
        "_cells",
        "_columns",
        "_gates",
        "_header_names",
        "_header_rows",
        "_level",
        "_task",
        "_vocabulary",
        "_word_fields",
        "router",
    )

    def __init__(self, router: Router) -> None:
        self.router = router
        self._task = _IndexPlan(router.task_rules)
        self._level = _IndexPlan(router.level_rules)
        fields: dict[TextField, set[str]] = {}
        for plan in (self._task, self._level):
            for field, vocabulary, _ in plan.index.vocabularies:
                fields.setdefault(field, set()).update(vocabulary)
        self._word_fields = tuple((field, TEXT_OF[field]) for field in fields)
        self._vocabulary = frozenset().union(*fields.values())
        self._ascii_vocabulary = frozenset(word.encode("ascii") for word in self._vocabulary if word.isascii())
        self._gates = _gates(((_TASK, router.task_rules), (_LEVEL, router.level_rules)))
        rows = len(self._task.entries) + 1  # then the header's classes
        self._header_names = tuple(router.class_by_name)
        self._header_rows = {name: rows + i for i, name in enumerate(self._header_names)}
        self._columns = len(self._level.entries) + 1
        self._cells: dict[int, Decision] = {}

    def decide(self, features: RequestFeatures, headers: Mapping[str, str]) -> Decision:
        router = self.router
        word_sets: dict[str, frozenset[str]] | None = None
        for _, text_of in self._word_fields:  # the usual request: no keyword of any rule in its windows
            text = text_of(features)
            if text.isascii():  # the words as bytes (``ascii_words``), against the keywords as bytes: no set built
                found = not self._ascii_vocabulary.isdisjoint(
                    text.encode("ascii").translate(ASCII_WORD_BREAKS).lower().split()
                )
            else:
                found = not self._vocabulary.isdisjoint(split_words(text.lower()))
            if found:  # the indexes read their vocabularies: every window's word set
                word_sets = {field: frozenset(split_words(read(features).lower())) for field, read in self._word_fields}
                break
        opened = self._open_gates(features) if self._gates else 0
        view: list[TextView | None] = [None]  # made for the first rule that reads text
        row = -1
        if router.trust_header:
            named = headers.get(TASK_HEADER)
            if named is not None:
                row = self._header_rows.get(named, -1)
        if row < 0:
            row = self._task.first(features, opened & _TASK, word_sets, view)
        column = self._level.first(features, opened & _LEVEL, word_sets, view)
        if row < 0 or column < 0:
            if router.model is not None:  # the model decides what no rule did: per request
                task = self._task_verdict(row) if row >= 0 else None
                level = router.level_verdicts[column] if column >= 0 else None
                return router.complete(view[0] or TextView(features), task, level)
            if row < 0:
                row = len(self._task.entries)  # the default class
            if column < 0:
                column = len(self._level.entries)  # the default level
        key = row * self._columns + column
        decision = self._cells.get(key)
        if decision is None:
            decision = self._cells[key] = self._cell(row, column)
        return decision

    def _task_verdict(self, row: int) -> Verdict:
        """Row ``row``'s task verdict: a class rule's, the default class, or a header's."""
        router, rules = self.router, len(self._task.entries)
        if row < rules:
            return router.task_verdicts[row]
        if row == rules:
            return router.default_task
        return router.header_verdict(self._header_names[row - rules - 1])

    def _cell(self, row: int, column: int) -> Decision:
        router = self.router
        level = router.level_verdicts[column] if column < len(self._level.entries) else router.default_complexity
        return router.decision_of(self._task_verdict(row), level)

    def _open_gates(self, features: RequestFeatures) -> int:
        """Which indexes' gates open: the bits of the indexes one of whose regex-only patterns finds
        something in the window it reads; each pattern searched once at most."""
        opened = 0
        for text_of, firsts, by_first, plain, digit_led, every in self._gates:
            if every & ~opened == 0:
                continue
            text = text_of(features)
            # the first characters the text holds, tested in C (one ``in`` each, no bytecode per test)
            for first in firsts:
                if first in text:
                    for literal, pattern, bits in by_first[first]:
                        if bits & ~opened and literal in text and pattern.search(text) is not None:
                            opened |= bits
            if plain:
                for pattern, bits in plain:
                    if bits & ~opened and pattern.search(text) is not None:
                        opened |= bits
            # ``has_ascii_digit_or_is_not_ascii``, without the call: an ASCII text without a digit is skipped
            if (
                digit_led
                and every & ~opened
                and (not text.isascii() or len(text.encode("ascii").translate(None, ASCII_DIGITS)) != len(text))
            ):
                for pattern, bits in digit_led:
                    if bits & ~opened and pattern.search(text) is not None:
                        opened |= bits
        return opened


Gate = tuple[
    Callable[[RequestFeatures], str],
    tuple[str, ...],  # the literals' first characters
    Mapping[str, tuple[tuple[str, re.Pattern[str], int], ...]],  # by the literal's first character
    tuple[tuple[re.Pattern[str], int], ...],  # no literal: searched always
    tuple[tuple[re.Pattern[str], int], ...],  # no literal, a digit first: searched when the text may hold one
    int,  # every bit this window's patterns open
]


def _gates(indexes: Sequence[tuple[int, RuleIndex]]) -> tuple[Gate, ...]:
    """Per window, each distinct pattern of the indexes' gates with the bits of the indexes it opens."""
    bits_of: dict[TextField, dict[re.Pattern[str], int]] = {}
    for bit, index in indexes:
        for field, patterns in index.gate_patterns:
            for pattern in patterns:
                by_pattern = bits_of.setdefault(field, {})
                by_pattern[pattern] = by_pattern.get(pattern, 0) | bit
    gates = []
    for field, by_pattern in bits_of.items():
        groups: dict[str, list[tuple[str, re.Pattern[str], int]]] = {}
        plain, digit_led = [], []
        for pattern, bits in by_pattern.items():
            literals = leading_literals(pattern)
            if literals:  # each literal under its first character (an alternation's, under each of theirs)
                for literal in literals:
                    groups.setdefault(literal[0], []).append((literal, pattern, bits))
            elif leads_with_digit(pattern):
                digit_led.append((pattern, bits))
            else:
                plain.append((pattern, bits))
        every = 0
        for bits in by_pattern.values():
            every |= bits
        by_first = {first: tuple(group) for first, group in groups.items()}
        gates.append((TEXT_OF[field], tuple(by_first), by_first, tuple(plain), tuple(digit_led), every))
    return tuple(gates)
