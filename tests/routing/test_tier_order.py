"""Complexity levels asking a higher tier than a level above them are load warnings naming both."""

from __future__ import annotations

from sidecar.policy import load_policy_bytes
from sidecar.routing.spec import RoutingSpec
from sidecar.routing.tier_order import misordered_levels


def test_a_lower_level_asking_a_higher_tier_is_warned() -> None:
    """simple on premium below complex on economy: one warning, with both levels' paths."""
    spec = RoutingSpec.model_validate(
        {
            "complexity": {
                "levels": [
                    {"name": "simple", "tier": "premium"},
                    {"name": "complex", "tier": "economy"},
                ],
                "default": "simple",
            }
        }
    )
    assert misordered_levels(spec) == [
        "routing.complexity.levels[0].tier: level 'simple' asks premium, above the economy of level 'complex'"
        " (routing.complexity.levels[1], a higher level): levels are lowest first, so harder requests would get"
        " the lower tier"
    ]


def test_levels_in_tier_order_and_equal_tiers_are_not_warned() -> None:
    """The default levels, and two levels sharing a tier, are in order."""
    assert misordered_levels(RoutingSpec()) == []
    shared = {"levels": [{"name": "a", "tier": "standard"}, {"name": "b", "tier": "standard"}], "default": "a"}
    assert misordered_levels(RoutingSpec.model_validate({"complexity": shared})) == []


def test_the_policy_load_carries_the_warning() -> None:
    """load_policy_bytes: the policy's warnings say the misordered level (compile_policy calls the check)."""
    text = (
        "version: 1\nproviders:\n  openai: {kind: openai, base_url: 'https://api.openai.com/v1',"
        " api_key: {env: OPENAI_API_KEY}}\nmodels:\n  m: {provider: openai, model: gpt-4o}\n"
        "routing:\n  complexity:\n    default: medium\n    levels:\n"
        "      - {name: medium, tier: premium}\n      - {name: complex, tier: standard}\n"
        "routes:\n  - {target: m}\n"
    )
    warnings = load_policy_bytes(text.encode(), "test.yaml").warnings
    assert [w for w in warnings if w.startswith("routing.complexity.levels[0].tier: level 'medium' asks premium")]
