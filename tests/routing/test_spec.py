"""Validation of the routing blocks: every error names its path, all errors come together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sidecar.routing.matrix import RoutingError, routing_from_document
from sidecar.routing.spec import CapsSpec, SelectSpec, SplitSpec


def errors(routing: dict[str, Any]) -> list[str]:
    with pytest.raises(RoutingError) as caught:
        routing_from_document({"routing": routing}, base_dir=Path("."))
    return caught.value.errors


def test_invalid_regex_names_its_path() -> None:
    """A regex that does not compile is reported at routing.classes[i].rules[j].regex[k]."""
    found = errors(
        {
            "classes": [
                {"name": "a", "rules": [{"keywords": ["x"]}]},
                {"name": "b"},
                {"name": "c", "rules": [{"regex": "(unclosed"}]},
            ]
        }
    )
    assert found == [
        "routing.classes[2].rules[0].regex[0]: "
        "invalid regular expression: missing ), unterminated subpattern at position 0"
    ]


def test_one_bad_regex_in_a_list_names_its_index() -> None:
    """In a list of regexes the bad one is named by its index."""
    found = errors({"classes": [{"name": "a", "rules": [{"regex": ["ok", "[z-a]"]}]}]})
    assert found[0].startswith("routing.classes[0].rules[0].regex[1]: invalid regular expression")


def test_a_regex_that_backtracks_exponentially_names_its_path_and_part() -> None:
    """A regex whose repeated part can match a text in two ways is refused at its path, naming the part."""
    found = errors({"classes": [{"name": "a", "rules": [{"regex": ["ok", r"(a|a)+b"]}]}]})
    assert len(found) == 1
    assert found[0].startswith(
        "routing.classes[0].rules[0].regex[1]: '(a|a)+b' backtracks exponentially: its repeated part '(a(?:|))+'"
    )


def test_empty_rule_is_an_error() -> None:
    """A rule with nothing to test would match everything: refused."""
    assert errors({"classes": [{"name": "a", "rules": [{}]}]}) == [
        "routing.classes[0].rules[0]: a rule needs features, keywords or regex"
    ]


def test_unknown_feature_is_an_error() -> None:
    """A misspelt feature is an unknown field at its path, with the feature meant."""
    assert errors({"classes": [{"name": "a", "rules": [{"features": {"image": True}}]}]}) == [
        "routing.classes[0].rules[0].features.image: unknown field (did you mean 'images'?)"
    ]


def test_number_test_needs_a_comparison() -> None:
    """prompt_tokens: {} compares nothing: refused."""
    assert errors({"classes": [{"name": "a", "rules": [{"features": {"prompt_tokens": {}}}]}]}) == [
        "routing.classes[0].rules[0].features.prompt_tokens: set at least one of gt, ge, lt, le, eq"
    ]


def test_keyword_with_edge_punctuation_is_refused() -> None:
    """'c++' cannot match as a whole word; the error says to use a regex."""
    assert errors({"classes": [{"name": "code", "rules": [{"keywords": ["python", "c++"]}]}]}) == [
        "routing.classes[0].rules[0].keywords[1]: "
        "'c++': keywords match whole words; for symbols such as 'c++' use a regex"
    ]


def test_min_keywords_above_the_keyword_count() -> None:
    """min_keywords larger than the set can never hold: refused."""
    assert errors({"classes": [{"name": "a", "rules": [{"keywords": ["x"], "min_keywords": 2}]}]}) == [
        "routing.classes[0].rules[0]: min_keywords 2 is more than the 1 keywords"
    ]


def test_unknown_text_field() -> None:
    """in: only system and last_user exist."""
    found = errors({"classes": [{"name": "a", "rules": [{"keywords": ["x"], "in": ["assistant"]}]}]})
    assert found[0].startswith("routing.classes[0].rules[0].in[0]: Input should be 'system' or 'last_user'")


def test_references_are_checked_together() -> None:
    """Unknown tiers and levels, duplicates and a bad default are all listed at once, with paths."""
    found = errors(
        {
            "classes": [
                {"name": "a", "min_tier": "gold"},
                {"name": "a", "tier_by_level": {"hard": "premium"}},
            ],
            "complexity": {
                "levels": [{"name": "easy", "tier": "economy"}, {"name": "hard", "tier": "platinum"}],
                "default": "medium",
            },
        }
    )
    assert found == [
        "routing.complexity.levels[1].tier: unknown tier 'platinum' (tiers: economy, standard, premium)",
        "routing.complexity.default: unknown level 'medium'",
        "routing.classes[0].min_tier: unknown tier 'gold' (tiers: economy, standard, premium)",
        "routing.classes[1].name: class 'a' appears twice",
    ]


def test_missing_router_file() -> None:
    """learned.file that does not exist is reported at routing.learned.file."""
    found = errors({"learned": {"file": "nope.json"}})
    assert found == ["routing.learned.file: nope.json: cannot read nope.json: No such file or directory"]


def test_class_names_are_lowercase_identifiers() -> None:
    """Class names go into headers and metric labels: lowercase letters, digits, _ . - only."""
    found = errors({"classes": [{"name": "Bad Name"}]})
    assert found[0].startswith("routing.classes[0].name: String should match pattern")


def test_split_sticky_by_forms() -> None:
    """sticky_by is 'app' or 'header:<name>'; anything else is refused."""
    assert (
        SplitSpec.model_validate({"arms": [{"target": "a", "weight": 1}], "sticky_by": "header:X-User"}).sticky_by
        == "header:x-user"
    )
    with pytest.raises(ValidationError, match="sticky_by is 'app' or 'header:<name>'"):
        SplitSpec.model_validate({"arms": [{"target": "a", "weight": 1}], "sticky_by": "cookie:x"})


def test_split_weights_must_be_positive() -> None:
    """A zero weight is refused (remove the arm instead)."""
    with pytest.raises(ValidationError, match="greater than 0"):
        SplitSpec.model_validate({"arms": [{"target": "a", "weight": 0}]})


def test_a_split_of_more_than_a_hundred_arms_is_refused() -> None:
    """101 arms are refused at their path (each arm is a label value of the routing metrics); 100 load."""
    arms = [{"target": "a", "weight": 1, "name": f"arm-{i}"} for i in range(101)]
    assert len(SplitSpec.model_validate({"arms": arms[:100]}).arms) == 100
    with pytest.raises(ValidationError, match="arms\n  List should have at most 100 items after validation, not 101"):
        SplitSpec.model_validate({"arms": arms})


def test_select_only_cheapest() -> None:
    """select knows one strategy, cheapest; from lists candidates."""
    assert SelectSpec.model_validate({"select": "cheapest", "from": ["a", "b"]}).from_ == ["a", "b"]
    with pytest.raises(ValidationError):
        SelectSpec.model_validate({"select": "fastest"})


def test_caps_must_be_positive() -> None:
    """A cap of zero tokens is refused."""
    with pytest.raises(ValidationError):
        CapsSpec.model_validate({"max_output_tokens": 0})
