"""``RuleIndex``: the labelled rules of a class list (or of the complexity levels) in order, indexed
at load so that a request tries only the rules that can match (see the class docstring).
``first_index`` is the rule-by-rule path ``explain`` takes (``classify.Classifier`` compiles the
request path's decide from two indexes' rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .features import RequestFeatures
from .literal import AnyPattern
from .rules import Rule
from .spec import TextField
from .textview import TEXT_OF, TextView


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
        return cls(entries, tuple(always), vocabularies, gates, ungated)

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
