"""Routing's part of policy load: every broken reference is an error with its path, all at once."""

from __future__ import annotations

import pytest

from sidecar.policy import PolicyError, load_policy_bytes
from sidecar.routing.plans import SelectPlan, SplitPlan

from .policies import TWO_MODELS

BASE = TWO_MODELS
ROUTING = """
routing:
  classes: [{name: extraction, rules: [{keywords: [extract]}]}]
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_bytes(text.encode(), "test.yaml")
    return info.value.errors


def test_select_and_split_compile_to_their_plans() -> None:
    """target: {select: cheapest} and split: become a SelectPlan and a SplitPlan with every model they may call."""
    policy = load_policy_bytes(
        (
            BASE
            + ROUTING
            + "routes:\n  - {name: a, match: {model: a}, target: {select: cheapest}}\n"
            + "  - {name: b, split: {arms: [{target: big, weight: 9}, {target: [mini, big], weight: 1}]}}\n"
        ).encode(),
        "test.yaml",
    )
    select, split = (route.plan for route in policy.routes)
    assert isinstance(select, SelectPlan) and isinstance(split, SplitPlan)
    assert [t.name for t in select.targets] == ["big", "mini"]
    assert [t.name for t in split.targets] == ["big", "mini"]


def test_unknown_names_in_selection_and_split_name_their_paths() -> None:
    """Unknown models in from/arms, an unknown min_tier and a repeated arm are reported with paths, together."""
    errors = errors_of(
        BASE
        + "routes:\n  - {name: a, target: {select: cheapest, from: [big, gpt-5x], min_tier: gold}}\n"
        + "  - {name: b, split: {arms: [{target: [mini, nope], weight: 1}, {target: mini, weight: 1}]}}\n"
    )
    assert errors == [
        "routes[0].target.from[1]: unknown model 'gpt-5x'",
        "routes[0].target.min_tier: unknown tier 'gold' (tiers: economy, standard, premium)",
        "routes[1].split.arms[0].target[1]: unknown model 'nope'",
        "routes[1].split.arms[1]: arm 'mini' appears twice (give the arms distinct names)",
    ]


def test_match_on_task_needs_a_routing_block() -> None:
    """match: {task: ...} in a policy without routing is an error at the route's path."""
    errors = errors_of(BASE + "routes:\n  - {match: {task: extraction}, target: mini}\n")
    assert errors == ["routes[0].match.task: needs a routing block (routing.classes, routing.complexity)"]


def test_match_on_an_undeclared_class_or_level_is_an_error() -> None:
    """A task or complexity a route matches on must be a declared class or level."""
    errors = errors_of(
        BASE + ROUTING + "routes:\n  - {match: {task: poetry, complexity: [simple, hard]}, target: mini}\n"
    )
    assert errors == [
        "routes[0].match.task: unknown task class 'poetry' (known: extraction, general)",
        "routes[0].match.complexity: unknown level 'hard' (known: simple, medium, complex)",
    ]


def test_model_quality_names_known_tiers_and_classes() -> None:
    """models.<name>.quality: an unknown tier or task class is an error at its path."""
    text = BASE.replace("quality: {tier: premium}", "quality: {tier: gold, tasks: {poetry: economy}}")
    assert errors_of(text + ROUTING) == [
        "models.big.quality.tier: unknown tier 'gold' (tiers: economy, standard, premium)",
        "models.big.quality.tasks.poetry: unknown task class 'poetry'",
    ]


def test_a_bad_regex_in_a_class_names_its_path() -> None:
    """A regular expression that does not compile is refused at load, at its path in the routing block."""
    bad = "routing:\n  classes: [{name: code, rules: [{regex: '(unclosed'}]}]\n"
    assert errors_of(BASE + bad) == [
        "routing.classes[0].rules[0].regex[0]: invalid regular expression: missing ), unterminated subpattern at "
        "position 0"
    ]


def test_target_and_split_together_are_refused() -> None:
    """A route sets exactly one of target, split, deny."""
    errors = errors_of(BASE + "routes:\n  - {target: mini, split: {arms: [{target: big, weight: 1}]}}\n")
    assert errors == ["routes[0]: set exactly one of target, split, ensemble, deny"]


def test_caps_need_positive_ceilings() -> None:
    """caps.max_output_tokens must be positive, reported at its path."""
    errors = errors_of(BASE + "routes:\n  - {target: mini, caps: {max_output_tokens: 0}}\n")
    assert errors == ["routes[0].caps.max_output_tokens: Input should be greater than 0"]
