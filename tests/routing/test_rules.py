"""Compiled rules: feature comparisons, keyword sets, regexes, the texts they read, explanations."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect, Operation
from sidecar.routing.features import extract_features
from sidecar.routing.rules import Rule, RuleIndex, TextView, ascii_words, compile_rule, split_words
from sidecar.routing.spec import RuleSpec

from .requests import features


def rule(**spec: Any) -> Rule:
    return compile_rule(RuleSpec.model_validate(spec), "routing.classes[0].rules[0]")


def test_keywords_match_whole_words_case_insensitively() -> None:
    """'prove' matches 'PROVE,' but not 'improve'."""
    r = rule(keywords=["prove"])
    assert r.matches(TextView(features("Please PROVE, formally, that it halts")))
    assert not r.matches(TextView(features("How can I improve my essay?")))


def test_phrase_matches_across_punctuation() -> None:
    """The phrase 'step by step' matches 'Step-by-step' (punctuation separates words)."""
    assert rule(keywords=["step by step"]).matches(TextView(features("Explain it Step-by-step.")))


def test_non_ascii_keyword_is_a_substring() -> None:
    """A CJK keyword matches inside text without spaces between words."""
    assert rule(keywords=["证明"]).matches(TextView(features("请证明存在无穷多个素数")))


def test_min_keywords_counts_distinct_keywords() -> None:
    """min_keywords: 2 needs two different keywords, not one twice."""
    r = rule(keywords=["derive", "integral", "limit"], min_keywords=2)
    assert not r.matches(TextView(features("derive it, derive it again")))
    assert r.matches(TextView(features("derive the limit of the sequence")))


def test_keywords_read_only_the_texts_named() -> None:
    """in: [last_user] ignores a keyword in the system prompt."""
    r = rule(keywords=["invoice"], **{"in": ["last_user"]})
    assert not r.matches(TextView(features("hello", system="You read invoices. invoice")))
    assert rule(keywords=["invoice"]).matches(TextView(features("hello", system="You read an invoice")))


def test_regex_is_case_sensitive_unless_flagged() -> None:
    """Regexes are Python's: (?i) makes them case-insensitive."""
    text = TextView(features("SELECT * FROM users"))
    assert not rule(regex=r"\bselect\b").matches(text)
    assert rule(regex=r"(?i)\bselect\b").matches(text)


def test_any_regex_of_a_list_matches() -> None:
    """With several regexes, one matching is enough."""
    assert rule(regex=[r"^never$", r"\d+\s*[*/^]\s*\d+"]).matches(TextView(features("what is 17 * 23?")))


def test_number_comparisons_all_hold() -> None:
    """prompt_tokens {gt, lt} is a range; both bounds must hold."""
    r = rule(features={"prompt_tokens": {"gt": 5, "lt": 100}})
    assert r.matches(TextView(features("a question with a few words in it")))
    assert not r.matches(TextView(features("word " * 200)))


def test_absent_max_output_tokens_fails_a_comparison() -> None:
    """A request without max tokens does not satisfy max_output_tokens {lt: 100}."""
    r = rule(features={"max_output_tokens": {"lt": 100}})
    assert not r.matches(TextView(features("hi")))
    assert r.matches(TextView(features("hi", max_tokens=50)))


def test_counts_test_as_booleans() -> None:
    """images: true holds for one image or more; tools: false holds without tools."""
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, image]}]}
    with_image = extract_features(body, Dialect.OPENAI, Operation.CHAT)
    assert rule(features={"images": True, "tools": False}).matches(TextView(with_image))
    assert not rule(features={"images": True}).matches(TextView(features("x")))


def test_all_parts_must_hold() -> None:
    """A rule with features and keywords needs both."""
    r = rule(features={"json_mode": True}, keywords=["extract"])
    assert not r.matches(TextView(features("extract the names")))
    assert r.matches(TextView(features("extract the names", response_format={"type": "json_object"})))


def test_explain_names_what_matched_and_what_failed() -> None:
    """explain gives each part's verdict: the comparison with its value, the keywords found."""
    r = rule(features={"prompt_tokens": {"gt": 1000}}, keywords=["prove", "lemma"])
    assert r.explain(TextView(features("prove the lemma"))) == [
        "prompt_tokens > 1000 fails (is 7)",
        "keywords 'lemma', 'prove' in system or last_user",
    ]


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


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=60))
def test_words_of_ascii_and_other_text_split_alike(text: str) -> None:
    """An ASCII text's words (split as bytes) are those the punctuation-to-space definition gives."""
    lowered = text.lower()
    expected = lowered.translate(str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))).split()
    assert split_words(lowered) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60))
def test_ascii_words_as_bytes_are_the_words_of_the_text(text: str) -> None:
    """An ASCII text's words as bytes (``ascii_words``) are its words (``split_words`` of it lowercased),
    encoded: the same breaks at punctuation, whitespace and the ASCII separators."""
    assert [word.decode("ascii") for word in ascii_words(text)] == split_words(text.lower())
