"""The literals a regular expression's matches start with, and the searches they save (``routing.literal``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.routing.literal import AnyPattern, PatternKey, leading_literals, may_match

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
