r"""Regular expressions of a high polynomial degree of backtracking, refused at load (degree above 1).

The costs quoted in the error were measured by one search of a hostile text (docs/routing.md)."""

from __future__ import annotations

import pytest

from sidecar.policy.backtracking import check_backtracking, read_pattern
from sidecar.policy.polynomial import MAX_DEGREE, ambiguity_degree


def degree(pattern: str) -> int | None:
    automaton, masks, final = read_pattern(pattern, 0)
    return ambiguity_degree(len(automaton.sets), automaton.edges, masks, final)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\w+\s+\w+!", 0),  # the loops take disjoint characters: one way to cut a text
        (r"(\w+\s)+x", 0),  # one loop (the repetition and its separator)
        (r"[^a]*a[^b]*b[^c]*c", 0),  # each part excludes what ends it
        (r"a++a++a++b", 0),  # possessive: the engine never gives characters back
        (r".*a.*b", 1),
        (r"\w+\w+!", 1),
        (r".*a.*b.*c", 2),
        (r"a+a+a+b", 2),
        (r"(a+){3}b", 2),  # an exact count is read as copies
        (r"(a+){10}b", 9),
        (r"((a+){3}){3}b", 8),
    ],
)
def test_the_degree_is_the_longest_chain_of_loops_that_can_take_the_same_text(pattern: str, expected: int) -> None:
    """The degree counts the places a text can be cut between repeated parts that each take it."""
    assert degree(pattern) == expected


@pytest.mark.parametrize("pattern", [r"a+a+a+b", r"(a+){10}b", r".*a.*b.*c", r"((a+){3}){3}b", r"a+a+a+$"])
def test_a_degree_above_the_bound_is_refused_with_its_cost(pattern: str) -> None:
    """Degree 2 and above is refused, naming the degree and the measured cost of degree 2."""
    with pytest.raises(ValueError, match="backtracks polynomially with degree") as info:
        check_backtracking(pattern)
    assert "23 s on a hostile text of 1,280 characters" in str(info.value)
    assert MAX_DEGREE == 1


@pytest.mark.parametrize("pattern", [r".*a.*b", r"\w+\w+!", r"[^a]*a[^b]*b[^c]*c", r"a++a++a++b"])
def test_a_degree_within_the_bound_is_accepted(pattern: str) -> None:
    """Degree 0 and 1 (.*a.*b: 0.3 s on the largest window) load."""
    assert check_backtracking(pattern) == pattern


def test_loops_a_match_may_end_after_are_not_counted() -> None:
    """'a*a*a*' and a trailing '...\\b' stop at their first match; an end anchor after them can fail and counts."""
    assert check_backtracking(r"a*a*a*") == r"a*a*a*"
    numbers = r"(?i)\b(?:\d[\d.,]*|one|two)\b[\s\S]*?\b(?:\d[\d.,]*|one|two)\b"  # bench/data/routing_rules.yaml's
    assert check_backtracking(numbers) == numbers
    with pytest.raises(ValueError, match="degree 2"):
        check_backtracking(r"a*a*a*$")
    with pytest.raises(ValueError, match="degree 2"):
        check_backtracking(r"a+a+a+(?=x)")
