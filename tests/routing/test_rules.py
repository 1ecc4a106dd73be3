"""Compiled rules: feature comparisons, keyword sets, regexes, the texts they read, explanations."""

from __future__ import annotations

from sidecar.dialects import Dialect, Operation
from sidecar.routing.features import extract_features
from sidecar.routing.textview import TextView

from .requests import features
from .rules import rule


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
