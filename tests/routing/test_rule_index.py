"""The rule index: only the rules that can match are tried, in their order, each in its own windows."""

from __future__ import annotations

from typing import Any

from sidecar.routing.rule_index import RuleIndex
from sidecar.routing.textview import TextView

from .requests import features
from .rules import rule


def index(*labelled: tuple[str, list[dict[str, Any]]]) -> RuleIndex:
    return RuleIndex.build([(label, [rule(**spec) for spec in specs]) for label, specs in labelled])


def test_index_keeps_the_rules_order_across_gates() -> None:
    """A regex rule listed before a keyword rule still wins when both match; a later one does not."""
    rules = index(("code", [{"regex": "```"}]), ("math", [{"keywords": ["prove"]}]), ("late", [{"regex": "prove"}]))
    found = rules.first(TextView(features("```\nprove it\n```")))
    assert found is not None and found[0] == "code"
    found = rules.first(TextView(features("prove it")))
    assert found is not None and found[0] == "math"


def test_index_agrees_with_trying_every_rule() -> None:
    """On texts that match none, one or several rules, the index answers what trying each rule in order does."""
    specs = [
        ("a", [{"keywords": ["invoice", "pull out"]}, {"regex": "(?i)^total"}]),
        ("b", [{"regex": r"\d+\s*\*\s*\d+"}, {"keywords": ["über"]}]),
        ("c", [{"features": {"last_user_chars": {"lt": 12}}}, {"keywords": ["step by step"], "min_keywords": 1}]),
    ]
    rules = index(*specs)
    assert rules.gates
    for text in [
        "hello there, friend",
        "TOTAL due",
        "3 * 4 please",
        "Pull out the dates",
        "über alles",
        "go step-by-step now please",
        "short",
        "nothing at all matches this long text",
    ]:
        view = TextView(features(text))
        expected = next(
            ((label, r) for label, group in specs for r in [rule(**s) for s in group] if r.matches(view)), None
        )
        found = rules.first(view)
        assert (found[0] if found else None) == (expected[0] if expected else None), text


def test_index_gates_patterns_with_back_references() -> None:
    """A pattern with a back-reference is in the gate like any other (each pattern is searched alone):
    its rule is tried when it finds something, and only then."""
    rules = index(("a", [{"regex": r"(\w)\1"}]))
    assert rules.gates
    assert rules.first(TextView(features("aardvark"))) is not None
    assert rules.first(TextView(features("abcde"))) is None


def test_index_reads_each_rule_in_its_own_windows() -> None:
    """A rule reading only the system prompt is chosen by words or patterns there, not by the same ones
    in the user's message (and the other way round), whatever the other rules read."""
    rules = index(
        ("sys-word", [{"keywords": ["tagger"], "in": ["system"]}]),
        ("user-word", [{"keywords": ["invoice"], "in": ["last_user"]}]),
        ("sys-regex", [{"regex": "#ticket-\\d+", "in": ["system"]}]),
        ("user-regex", [{"regex": "SKU-\\d+", "in": ["last_user"]}]),
    )
    cases = {
        ("tagger here", "invoice 7"): "sys-word",
        ("plain", "tagger invoice"): "user-word",
        ("see #ticket-12", "SKU-4"): "sys-regex",
        ("plain", "#ticket-12 and SKU-4"): "user-regex",
        ("SKU-4 invoice", "#ticket-12 tagger"): None,
    }
    for (system, user), expected in cases.items():
        found = rules.first(TextView(features(user, system=system)))
        assert (found[0] if found else None) == expected, (system, user)
