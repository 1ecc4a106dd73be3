"""Rules and keywords an earlier rule always decides first are load warnings naming both paths."""

from __future__ import annotations

from typing import Any

from sidecar.routing.shadowed import shadowed_rules
from sidecar.routing.spec import RoutingSpec


def warnings(block: dict[str, Any]) -> list[str]:
    return shadowed_rules(RoutingSpec.model_validate(block))


def test_a_keyword_an_earlier_class_has_never_decides_the_later_class() -> None:
    """'summary' in extraction (tried first) and in summarization: summarization never gets it."""
    block = {
        "classes": [
            {"name": "extraction", "rules": [{"keywords": ["extract", "summary"]}]},
            {"name": "summarization", "rules": [{"keywords": ["summarize", "summary"]}]},
        ]
    }
    assert warnings(block) == [
        "routing.classes[1].rules[0].keywords: 'summary' never decides class 'summarization':"
        " routing.classes[0].rules[0] (class 'extraction', tried first) has them too"
    ]


def test_a_rule_whose_every_match_an_earlier_rule_has_never_decides() -> None:
    """A later rule reading no other window, with no keyword outside the earlier rule's, is dead as a whole."""
    block = {
        "classes": [
            {"name": "extraction", "rules": [{"keywords": ["tldr", "extract"]}]},
            {"name": "summarization", "rules": [{"keywords": ["tldr"], "in": ["last_user"], "regex": "x"}]},
        ]
    }
    assert warnings(block) == [
        "routing.classes[1].rules[0]: never decides class 'summarization': routing.classes[0].rules[0] (class"
        " 'extraction', tried first) matches every text this rule can match ('tldr')"
    ]


def test_a_lower_level_rule_a_higher_level_rule_covers_never_decides() -> None:
    """Levels are tried from the highest down: a simple-level rule on 'prove' loses to complex's."""
    block = {
        "complexity": {
            "levels": [
                {"name": "simple", "tier": "economy", "rules": [{"keywords": ["prove"]}]},
                {"name": "complex", "tier": "premium", "rules": [{"keywords": ["prove", "derive"]}]},
            ]
        },
        "tiers": ["economy", "premium"],
    }
    assert warnings({**block, "complexity": {**block["complexity"], "default": "simple"}}) == [
        "routing.complexity.levels[0].rules[0]: never decides level 'simple': routing.complexity.levels[1].rules[0]"
        " (level 'complex', tried first) matches every text this rule can match ('prove')"
    ]


def test_an_earlier_rule_that_needs_more_than_its_keywords_shadows_nothing() -> None:
    """An earlier rule with features, a regex, min_keywords 2 or fewer windows may not match: no warning."""
    later = {"name": "summarization", "rules": [{"keywords": ["summary"]}]}
    for earlier_rule in (
        {"keywords": ["summary"], "features": {"tools": True}},
        {"keywords": ["summary"], "regex": "x"},
        {"keywords": ["summary", "extract"], "min_keywords": 2},
        {"keywords": ["summary"], "in": ["system"]},
    ):
        assert warnings({"classes": [{"name": "extraction", "rules": [earlier_rule]}, later]}) == [], earlier_rule
