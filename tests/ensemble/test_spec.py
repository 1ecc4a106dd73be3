"""The ensemble policy block: shorthands, defaults and validation errors with their paths."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sidecar.ensemble.spec import EnsembleSpec, JsonPathNormalizerSpec, RegexNormalizerSpec, TextNormalizerSpec
from sidecar.policy.load import format_validation_error


def errors(block: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        EnsembleSpec.model_validate(block)
    return format_validation_error(caught.value)


def test_shorthands_and_defaults():
    """Members may be model names or chains; the normalizer a kind name; defaults are majority and text."""
    spec = EnsembleSpec.model_validate({"members": ["a", ["b", "b-backup"], {"target": "c", "weight": 2}]})
    assert [member.chain for member in spec.members] == [["a"], ["b", "b-backup"], ["c"]]
    assert spec.members[2].weight == 2
    assert (spec.strategy, spec.tie_break, spec.min_members, spec.max_calls) == ("majority", "order", 1, None)
    assert spec.normalizer == TextNormalizerSpec()
    regex = EnsembleSpec.model_validate({"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": "(x)"}})
    assert isinstance(regex.normalizer, RegexNormalizerSpec)
    path = EnsembleSpec.model_validate({"members": ["a", "b"], "normalizer": {"kind": "json_path", "path": "a.b"}})
    assert isinstance(path.normalizer, JsonPathNormalizerSpec)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"members": ["a"]}, "members: List should have at least 2 items after validation, not 1"),
        ({"members": ["a"] * 6}, "members: List should have at most 5 items after validation, not 6"),
        ({"members": ["a", []]}, "members[1].target: an empty chain"),
        ({"members": ["a", {"target": "b", "weight": 0}]}, "members[1].weight: Input should be greater than 0"),
        ({"members": ["a", "b"], "strategy": "vote"}, "strategy: Input should be 'majority', 'confidence' or 'judge'"),
        ({"members": ["a", "b"], "strategy": "judge"}, "(top level): strategy judge needs judge: {target: ...}"),
        ({"members": ["a", "b"], "judge": {"target": "j"}}, "(top level): judge: only used by strategy judge"),
        ({"members": ["a", "b"], "min_members": 3}, "(top level): min_members: 3 is more than the 2 members"),
        (
            {"members": ["a", "b"], "strategy": "judge", "judge": {"target": "j"}, "max_calls": 2},
            "(top level): max_calls: 2 cannot call every member and the judge once (3)",
        ),
        ({"members": [{"target": "a", "name": "x"}, {"target": "b", "name": "x"}]}, "the name 'x' is used twice"),
        ({"members": ["a", "b"], "colour": 1}, "colour: unknown field"),
        ({"members": ["a", "b"], "normalizer": "fuzzy"}, "normalizer: Input tag 'fuzzy' found using 'kind'"),
        (
            {"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": "("}},
            "normalizer.regex.pattern: invalid regular expression: missing ), unterminated subpattern",
        ),
        (
            {"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": r"answer: (\w+\s?)+$"}},
            "normalizer.regex.pattern: 'answer: (\\w+\\s?)+$' backtracks exponentially",
        ),
        (  # one way to match case-sensitively, two case-folded: the flags are read with the pattern
            {"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": r"(ab|AB)+c", "flags": ["ignorecase"]}},
            "normalizer.regex: pattern with flags [ignorecase]: '(ab|AB)+c' backtracks exponentially",
        ),
        (
            {"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": "(a)", "group": 2}},
            "normalizer.regex: group: the pattern has 1 group(s), not 2",
        ),
        (
            {"members": ["a", "b"], "normalizer": {"kind": "regex", "pattern": "(a)", "group": "label"}},
            "normalizer.regex: group: the pattern has no group named 'label'",
        ),
        (
            {"members": ["a", "b"], "normalizer": {"kind": "json_path", "path": "a..b"}},
            "normalizer.json_path.path: path 'a..b': unexpected '..b'",
        ),
        (
            {"members": ["a", "b"], "strategy": "judge", "judge": {"target": "j", "prompt": "Pick one."}},
            "judge.prompt: the judge prompt must contain {question} and {candidates}",
        ),
    ],
)
def test_errors_name_their_path(block, expected):
    """Every mistake is reported at its path within the block, in words an SRE can act on."""
    assert any(line.startswith(expected) or expected in line for line in errors(block)), errors(block)
