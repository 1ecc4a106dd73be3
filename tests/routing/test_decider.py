"""The decision function a policy's classifier compiles: readable, and deciding as the rules tried one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sidecar.routing.matrix import routing_from_document
from sidecar.routing.textview import TextView

from .requests import features
from .rules import bench_rules

ROOT = Path(__file__).resolve().parents[2]

UNUSUAL = {
    "classes": [
        # a pattern without a leading literal, searched always (no shorter chain for the classes)
        {"name": "words", "rules": [{"regex": r"\bfoo\w*\b", "in": ["system"]}]},
        # non-ASCII keywords: tried through the rule itself
        {"name": "japanese", "rules": [{"keywords": ["翻訳"]}]},
        # features and a regex together
        {"name": "long-code", "rules": [{"features": {"prompt_tokens": {"gt": 5}}, "regex": "def "}]},
        # a feature that may be absent (no max output), against a bound, and a count as a flag
        {"name": "capped", "rules": [{"features": {"max_output_tokens": {"lt": 100}}}]},
        {"name": "uncapped", "rules": [{"features": {"max_output_tokens": {"ge": 100}, "tools": False}}]},
    ],
    "complexity": {
        "default": "medium",
        "levels": [
            {"name": "simple", "tier": "economy", "rules": [{"features": {"json_mode": True}}]},
            {"name": "medium", "tier": "standard"},
            {"name": "complex", "tier": "premium", "rules": [{"keywords": ["step by step"], "min_keywords": 1}]},
        ],
    },
}


def test_source_has_one_branch_per_rule_named_by_its_path() -> None:
    """The compiled function's source (``router.classifier.source``) tests every rule of the bench
    policy in a branch commented with the rule's path, and binds no policy value into its text
    except regex literals."""
    router = routing_from_document({"routing": bench_rules(extra_classes=2)}, base_dir=ROOT)
    source = router.classifier.source
    for _, rule in (*router.task_rules.entries, *router.level_rules.entries):
        assert f"# {rule.path}\n" in source, rule.path
    assert source.startswith("def decide(features, headers):\n")
    assert "prove" not in source  # keywords are bound as names, not written


def decide_as_rules(routing: dict[str, Any], cases: list[tuple[str, str | None, dict[str, Any]]]) -> None:
    router = routing_from_document({"routing": routing}, base_dir=ROOT)
    for user, system, body in cases:
        request = features(user, system=system, **body)
        assert router.decide(request, {}) == router.decide_by_rules(TextView(request), {}), (user, system, body)


def test_unusual_rules_decide_as_rule_by_rule() -> None:
    """A pattern searched always, non-ASCII keywords, features with a regex, an absent max output and
    a phrase keyword decide as the rules tried one by one, on texts that match each and none."""
    cases: list[tuple[str, str | None, dict[str, Any]]] = [
        ("hello", None, {}),
        ("hello", "the foobar system", {}),
        ("これを翻訳して", None, {}),
        ("def main(): pass", None, {}),
        ("hi", None, {"max_tokens": 50}),
        ("hi", None, {"max_tokens": 500}),
        ("think step by step", None, {"response_format": {"type": "json_object"}}),
        ("Step-by-step, please", "foo", {"max_tokens": 5}),
    ]
    decide_as_rules(UNUSUAL, cases)


DIGITS = {
    "classes": [
        # a keyword with a digit beside a digit-led pattern in the same window: the words keep their digits
        {"name": "model-talk", "rules": [{"keywords": ["gpt4", "v2"], "in": ["last_user"]}]},
        {"name": "numbers", "rules": [{"regex": r"\d+ items", "in": ["last_user"]}]},
        {"name": "plain-words", "rules": [{"keywords": ["invoice"], "in": ["system"]}]},
        {"name": "tickets", "rules": [{"regex": r"\d+-\d+", "in": ["system"]}]},
    ],
}


def test_digits_in_keywords_and_patterns_decide_as_rule_by_rule() -> None:
    """A window whose keywords hold digits keeps them in its words (the digit test translates apart);
    a window whose keywords hold none reads its words and its digit test from one ``translate``:
    both decide as the rules tried one by one, on texts with and without digits and keywords."""
    router = routing_from_document({"routing": DIGITS}, base_dir=ROOT)
    assert "_lowered = _data.translate(LOWERED_DIGITS_AS_ZERO)" in router.classifier.source  # the system window
    assert "D_last_user = 48 in _data.translate(DIGITS_AS_ZERO)" in router.classifier.source
    cases: list[tuple[str, str | None, dict[str, Any]]] = [
        ("is gpt4 better than v2?", None, {}),
        ("is gpt5 better?", None, {}),
        ("send 12 items", None, {}),
        ("send twelve items", None, {}),
        ("hello", "the invoice 2026-12 is due", {}),
        ("hello", "ticket 2026-12 is open", {}),
        ("hello", "invoice0 2026", {}),
        ("hello", "no numbers here", {}),
    ]
    decide_as_rules(DIGITS, cases)


def marked(level_regex: str) -> dict[str, Any]:
    """Classes whose regexes start with punctuation (``#``, ``-``) beside a keyword rule in the same window,
    and a complex level whose regex starts with ``level_regex``'s first character."""
    return {
        "classes": [
            {"name": "invoices", "rules": [{"keywords": ["invoice"], "in": ["last_user"]}]},
            {"name": "tagged", "rules": [{"regex": r"#tag-\d+", "in": ["last_user"]}]},
            {"name": "arrows", "rules": [{"regex": r"->\w|=>", "in": ["last_user"]}]},
        ],
        "complexity": {
            "default": "medium",
            "levels": [
                {"name": "simple", "tier": "economy"},
                {"name": "medium", "tier": "standard"},
                {"name": "complex", "tier": "premium", "rules": [{"regex": level_regex, "in": ["last_user"]}]},
            ],
        },
    }


MARKED_CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("plain words only", None, {}),
    ("see #tag-12 please", None, {}),
    ("a # alone, #tag- without digits", None, {}),
    ("map x -> y, then a=>b", None, {}),
    ("x ->y", None, {}),
    ("why? and how? both", None, {}),
    ("one question?", None, {}),
    ("#hard one", None, {}),
    ("the invoice #tag-3 => why? really?", None, {}),
    ("form\x0cfeed #tag-1", None, {}),
    ("vertical\x0btab why? why?", None, {}),
    ("form\x0cfeed and vertical\x0btab alone", None, {}),
    ("não #tag-9 porquê? sim?", None, {}),
]


def test_marks_read_from_the_words_translate_decide_as_rule_by_rule() -> None:
    """The punctuation a window's regexes start with is marked by the words' ``translate`` (the classes'
    as form feeds, the levels' as vertical tabs when the two share none; both as form feeds when they
    share one), and the probes run only when the window may hold a mark: texts with each mark, with a
    raw form feed or vertical tab, with none, and non-ASCII, decide as the rules tried one by one."""
    disjoint, shared = marked(r"\?[^?]{2,}\?"), marked(r"#hard")
    source = routing_from_document({"routing": disjoint}, base_dir=ROOT).classifier.source
    assert "F0_last_user = 12 in _lowered" in source and "F1_last_user = 11 in _lowered" in source
    source = routing_from_document({"routing": shared}, base_dir=ROOT).classifier.source
    assert "F0_last_user = 12 in _lowered" in source and "F1_last_user" not in source
    decide_as_rules(disjoint, MARKED_CASES)
    decide_as_rules(shared, MARKED_CASES)
