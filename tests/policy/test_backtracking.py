r"""Regular expressions that backtrack exponentially, found at load from the standard parser's tree.

Every refused shape here is shown slow on a hostile text in ``bench/regex_backtracking.py`` (its table is
in docs/routing.md); the accepted look-alikes are shown fast there."""

from __future__ import annotations

import re
from re import _parser

import pytest

from sidecar.policy.backtracking import check_backtracking, exponential_part

# (pattern, its part that backtracks exponentially, as the parser reads it)
REFUSED = [
    (r"(a+)+b", "(a+)+"),
    (r"(\w+\s?)+$", r"(\w+\s?)+"),
    (r"(a*)*b", "(a*)*"),
    (r"(.*,)*X", "(.*,)*"),
    (r"(a|a)+b", "(a(?:|))+"),  # the parser moves the common prefix out: two empty alternatives are left
    (r"(\w|\d\d)+$", r"(\w|\d\d)+"),
    (r"(a?a?)*b", "(a?a?)*"),
    (r"(x+x+)+y", "(x+x+)+"),
    (r"(x+x+y)+z", "(x+x+y)+"),
    (r"(\d{1,3})+$", r"(\d{1,3})+"),
    (r"(a+){2,5}b", "(a+){2,5}"),
    (r"((a+)+b)+c", "(a+)+"),  # the innermost part that is ambiguous is named
    (r"x(?=(a+)+b)", "(a+)+"),  # inside a lookahead too
    (r"(?i)(a|A?a)+b", "(a|A?a)+"),  # case-insensitive: the alternatives meet
]

# accepted look-alikes: each repeated part has one way to match a text, or the engine never goes back
# into it, or the parser makes it a character class
ACCEPTED = [
    r"(?>a+)+b",
    r"(a++)+b",
    r"(ab)+",
    r"\w+\s+\w+",
    r"(\w+\s)+$",
    r"(\d+,)+$",
    r"(\d+\.){3}\d+",
    r"(x{3})+y",
    r"(\w|\d)+$",  # the parser reads [\w\d]+
    r"(a|ab)*c",  # a then b or not: one way for any text (quadratic at most over a search)
    r"(a?)*b",
    r"SELECT .+ FROM",
    r"```|def \w+\(|=>|#include|SELECT .+ FROM",
    r"\d\s*(\^|\*\*|[x×*/])\s*\(?\w",  # noqa: RUF001 (the multiplication sign of policies/routing.yaml)
    r"(?i)\b(approve|deny|escalate)\b",
    r"^(https?://)?([\w-]+\.)+[a-z]{2,}(/\S*)?$",
]


def test_the_standard_parser_still_has_what_the_check_reads() -> None:
    """``re._parser`` (private) has the parse function, the opcodes and the categories the check reads:
    a Python that drops or renames them fails here first."""
    first = {
        "(?>a)": "ATOMIC_GROUP",
        "b++": "POSSESSIVE_REPEAT",
        "b+": "MAX_REPEAT",
        "b+?": "MIN_REPEAT",
        "[^a-c\\d]": "IN",
        "(?=c)": "ASSERT",
        "(?<!d)": "ASSERT_NOT",
        ".": "ANY",
        "ab|cd": "BRANCH",
        "(?i:a)": "SUBPATTERN",
        "$": "AT",
        "(a)(?(1)b|c)": "SUBPATTERN",
    }
    for pattern, op in first.items():
        assert str(_parser.parse(pattern)[0][0]) == op, pattern
    assert _parser.parse("(?i)a").state.flags & re.IGNORECASE
    for name in ("LITERAL", "NOT_LITERAL", "RANGE", "NEGATE", "CATEGORY", "GROUPREF", "GROUPREF_EXISTS"):
        assert hasattr(_parser, name), name
    for name in ("MAXREPEAT", "CATEGORY_DIGIT", "CATEGORY_NOT_WORD", "AT_BOUNDARY", "AT_END_STRING"):
        assert hasattr(_parser, name), name


@pytest.mark.parametrize(("pattern", "part"), REFUSED)
def test_a_repeated_part_that_matches_a_text_in_two_ways_is_found(pattern: str, part: str) -> None:
    """The repeated part that can match one text in more than one way is found and named as written."""
    assert exponential_part(pattern) is not None
    assert exponential_part(pattern)[0] == part  # type: ignore[index]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_a_repeated_part_with_one_way_to_match_is_accepted(pattern: str) -> None:
    """Atomic, possessive, separated or polynomial look-alikes are accepted."""
    assert exponential_part(pattern) is None
    assert check_backtracking(pattern) == pattern


@pytest.mark.parametrize(("pattern", "part"), REFUSED)
def test_the_atomic_rewrite_the_error_proposes_is_accepted(pattern: str, part: str) -> None:
    """The atomic form the error proposes for the refused part passes the check itself."""
    found = exponential_part(pattern)
    assert found is not None
    assert exponential_part(pattern.replace(part, found[1], 1) if part in pattern else found[1]) is None


def test_the_error_names_the_pattern_the_part_and_the_fixes() -> None:
    """The error quotes the pattern and its part as written and gives the atomic, possessive and separator
    forms."""
    with pytest.raises(ValueError, match="backtracks") as refused:
        check_backtracking(r"(\w+\s?)+$")
    assert str(refused.value) == (
        r"'(\w+\s?)+$' backtracks exponentially: its repeated part '(\w+\s?)+' can match a text in more than one"
        " way, and Python's engine tries every way on a text that almost matches (exponential time, while the"
        r" event loop of every pod waits). Write it atomic, '(?>\w+\s?)+', or with possessive inner repeats"
        r" ('a++' for 'a+'), or so each repetition ends with a separator it cannot match otherwise ('(\w+\s)+')"
    )


def test_a_repeated_alternation_too_large_to_check_is_refused() -> None:
    """A repeat over hundreds of alternatives that start alike is refused as too large to check, with the
    way out (several patterns, or keywords)."""
    words = "|".join(f"{chr(0x4E00 + n)}a" for n in range(800))
    with pytest.raises(ValueError, match="too large to check for exponential backtracking"):
        check_backtracking(f"(?:{words})+")


def test_a_long_alternation_outside_a_repeat_is_accepted() -> None:
    """Hundreds of alternatives not inside a repeat have no loop to check: accepted."""
    words = "|".join(f"a{chr(0x4E00 + n)}" for n in range(800))
    assert exponential_part(rf"\b(?:{words})\b") is None


def test_a_pattern_re_refuses_is_left_to_whoever_compiles_it() -> None:
    """A text that is no regular expression (a JSON Schema's example data) is not this check's error."""
    assert check_backtracking("(unclosed") == "(unclosed"
