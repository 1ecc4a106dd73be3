"""The literals a regular expression's matches start with, and the searches they save (``routing.literal``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.routing.literal import (
    AnyPattern,
    PatternKey,
    has_ascii_digit_or_is_not_ascii,
    leading_literals,
    leads_with_digit,
    may_match,
)

PATTERNS = (
    r"#travel-\d+",
    r"\?[^?]{2,}\?",
    r"!(?<=(?:\d|\b[a-z])!)",
    r"```|def \w+\(|=>|#include|SELECT .+ FROM",
    r"\d\s*(\^|\*\*|[x\u00d7*/])\s*\(?\w",
    r"ab?c",
    r"ab[](]|x",
    r"ab[^]|]c",
    r"a{2}b",
    r"\.py$|\|x",
    r"(?i)abc",
    r"(?x) a b",
    r"step\s+by\s+step",
)


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"#travel-\d+", ("#travel-",)),
        (r"\?[^?]{2,}\?", ("?",)),
        (r"!(?<=(?:\d|\b[a-z])!)", ("!",)),
        (r"```|def \w+\(|=>|#include|SELECT .+ FROM", ("```", "def ", "=>", "#include", "SELECT ")),
        (r"ab?c", ("a",)),
        (r"ab[](]|x", ("ab", "x")),
        (r"ab[^]|]c", ("ab",)),
        (r"\.py$|\|x", (".py", "|x")),
        (r"\d\s*", ()),
        (r"a|", ()),
        (r"(?i)abc", ()),
    ],
)
def test_leading_literals_of_a_pattern(pattern: str, literals: tuple[str, ...]) -> None:
    """Each top-level alternative's leading literal, stopping before classes, groups, escapes like
    ``\\d`` and a character a quantifier may drop; none when an alternative has none or case is ignored."""
    assert leading_literals(re.compile(pattern)) == literals


def test_a_literal_read_case_insensitively_is_not_used() -> None:
    """A pattern compiled with IGNORECASE has no literal (``ABC`` matches it without containing ``abc``)."""
    assert leading_literals(re.compile("abc", re.IGNORECASE)) == ()


texts = st.lists(
    st.sampled_from(["#travel-", "12", "?", "!", "a", "b", "c", "x", "(", "]", "|", "def f(", "=>", " ", "*", ".py"]),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), text=texts)
def test_a_text_a_pattern_matches_always_passes_its_literal_test(pattern: str, text: str) -> None:
    """The literal test never rejects a text the pattern finds something in."""
    compiled = re.compile(pattern)
    if compiled.search(text) is not None:
        assert may_match(leading_literals(compiled), text)


@settings(max_examples=300, deadline=None)
@given(patterns=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=6), text=texts)
def test_any_pattern_answers_as_searching_every_pattern(patterns: list[str], text: str) -> None:
    """``AnyPattern.finds`` is true exactly when one of its patterns finds something in the text."""
    compiled = tuple(re.compile(p) for p in patterns)
    assert AnyPattern(compiled).finds(text) == any(p.search(text) is not None for p in compiled)


@settings(max_examples=300, deadline=None)
@given(
    first=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=4),
    second=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=4),
    text=texts,
)
def test_gates_sharing_remembered_searches_answer_as_alone(first: list[str], second: list[str], text: str) -> None:
    """Two gates sharing one memo of searches answer as each would without it."""
    gates = [AnyPattern(tuple(re.compile(p) for p in patterns)) for patterns in (first, second)]
    searched: dict[tuple[PatternKey, str], bool] = {}
    assert [gate.finds(text, searched) for gate in gates] == [gate.finds(text) for gate in gates]


DIGIT_LED = {
    r"\d\s*(\^|\*\*|[x\u00d7*/])\s*\(?\w": True,
    r"(?i)\d\s*(?:times|plus|minus)\s*\d": True,
    r"\d\D+\d": True,
    r"\d?x": False,
    r"\d*y": False,
    r"\d{0,2}y": False,
    r"\d|a": False,
    r"a\d": False,
    r"\\d": False,
    r"(?x)\d": False,
}


@pytest.mark.parametrize(("pattern", "expected"), list(DIGIT_LED.items()))
def test_digit_led_patterns_are_those_whose_every_match_starts_with_a_digit(pattern: str, expected: bool) -> None:
    """``\\d`` first (after global flags), not optional, not one alternative of several: digit-led."""
    assert leads_with_digit(re.compile(pattern)) is expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x700), max_size=40))
def test_a_text_the_digit_test_rejects_matches_no_digit_led_pattern(text: str) -> None:
    """When ``has_ascii_digit_or_is_not_ascii`` is false, no digit-led pattern finds anything; it is
    false exactly for ASCII texts without a digit (another script's digits count as digits)."""
    digit_led = [re.compile(p) for p, led in DIGIT_LED.items() if led]
    verdict = has_ascii_digit_or_is_not_ascii(text)
    assert verdict is (not text.isascii() or any(c.isdigit() for c in text))
    if not verdict:
        assert all(p.search(text) is None for p in digit_led)


def test_an_ascii_text_has_a_digit_exactly_when_one_of_its_characters_is_one() -> None:
    """Every ASCII character, alone and inside a text: a digit is found, any other character is not; a
    non-ASCII text may hold another script's digits (True)."""
    for code in range(128):
        char = chr(code)
        for text in (char, f"say {char} twice{char}"):
            assert has_ascii_digit_or_is_not_ascii(text) is char.isdigit(), repr(text)
    assert has_ascii_digit_or_is_not_ascii("") is False
    assert has_ascii_digit_or_is_not_ascii("café") is True
