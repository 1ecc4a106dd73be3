"""Rules and keywords an earlier rule always decides first are load warnings naming both paths."""

from __future__ import annotations

from typing import Any

from sidecar.policy import load_policy_bytes
from sidecar.routing.shadowed import always_true_rules, shadowed_rules
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


def always_true(block: dict[str, Any]) -> list[str]:
    return always_true_rules(RoutingSpec.model_validate(block))


def test_an_always_true_class_rule_shadows_the_later_classes_and_the_default() -> None:
    """turns >= 0 holds for every request: the classes after it and default_class never decide."""
    block = {
        "classes": [
            {"name": "code", "rules": [{"keywords": ["python"]}]},
            {"name": "chat", "rules": [{"features": {"turns": {"ge": 0}}}]},
            {"name": "math", "rules": [{"keywords": ["prove"]}]},
        ]
    }
    assert always_true(block) == [
        "routing.classes[1].rules[0]: matches every request (turns >= 0): class 'math', default_class 'general'"
        " never decide"
    ]


def test_an_always_true_level_rule_shadows_the_lower_levels() -> None:
    """prompt_tokens < 1e15 (above any request) on medium: simple and the learned model never decide."""
    block = {
        "complexity": {
            "levels": [
                {"name": "simple", "tier": "economy", "rules": [{"keywords": ["hi"]}]},
                {"name": "medium", "tier": "standard", "rules": [{"features": {"prompt_tokens": {"lt": 1e15}}}]},
                {"name": "complex", "tier": "premium", "rules": [{"keywords": ["prove"]}]},
            ]
        },
        "learned": {"file": "router.json", "decides": ["complexity"]},
    }
    assert always_true(block) == [
        "routing.complexity.levels[1].rules[0]: matches every request (prompt_tokens < 1e+15): level 'simple',"
        " the learned model never decide"
    ]


def test_a_feature_rule_some_request_fails_is_not_always_true() -> None:
    """A positive lower bound, a reachable upper bound, an absent-able or a true/false feature: no warning."""
    for features in (
        {"turns": {"ge": 1}},
        {"prompt_tokens": {"lt": 100000}},
        {"max_output_tokens": {"ge": 0}},
        {"tools": False},
        {"turns": {"ge": 0}, "images": True},
    ):
        block = {"classes": [{"name": "chat", "rules": [{"features": features}]}, {"name": "math", "rules": []}]}
        assert always_true(block) == [], features


def test_the_policy_load_carries_the_always_true_warning() -> None:
    """load_policy_bytes: the policy's warnings say the always-true rule (compile_policy calls the check)."""
    text = (
        "version: 1\nproviders:\n  openai: {kind: openai, base_url: 'https://api.openai.com/v1',"
        " api_key: {env: OPENAI_API_KEY}}\nmodels:\n  m: {provider: openai, model: gpt-4o}\n"
        "routing:\n  classes:\n    - {name: chat, rules: [{features: {prompt_tokens: {ge: 0}}}]}\n"
        "routes:\n  - {target: m}\n"
    )
    warning = "routing.classes[0].rules[0]: matches every request (prompt_tokens >= 0): default_class 'general'"
    assert f"{warning} never decides" in load_policy_bytes(text.encode(), "test.yaml").warnings
