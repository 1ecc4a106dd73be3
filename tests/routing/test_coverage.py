"""What a select route's candidates cannot serve is said at load: an error when the route can serve
nothing, a warning naming the kind of request that will get 400 no_capable_model."""

from __future__ import annotations

import pytest

from sidecar.policy import PolicyError, load_policy_bytes

BASE = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  big:
    provider: openai
    model: gpt-4o
    capabilities: [chat, streaming, tools, vision, audio, json, thinking]
    quality: {tier: premium}
  mid: {provider: openai, model: gpt-4.1-mini, capabilities: [chat, streaming], quality: {tier: standard}}
  mini:
    provider: openai
    model: gpt-4o-mini
    capabilities: [chat]
    quality: {tier: economy, tasks: {extraction: standard}}
routing:
  classes:
    - {name: extraction, rules: [{keywords: [extract]}]}
    - {name: math, min_tier: premium, rules: [{keywords: [prove]}]}
routes:
"""


def warnings_of(routes: str) -> list[str]:
    return list(load_policy_bytes((BASE + routes).encode(), "test.yaml").warnings)


def errors_of(routes: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_bytes((BASE + routes).encode(), "test.yaml")
    return info.value.errors


def test_a_route_floor_no_candidate_reaches_is_an_error() -> None:
    """min_tier above every candidate's best tier (any class) is a load error at its path: nothing could be served."""
    assert errors_of("  - {target: {select: cheapest, from: [mid, mini], min_tier: premium}}\n") == [
        "routes[0].target.min_tier: no candidate reaches premium (the best: mid, standard): every request of"
        " this route would get 400 no_capable_model"
    ]


def test_a_class_whose_tier_no_candidate_reaches_is_a_warning_naming_its_levels() -> None:
    """A class floor (math: premium) and a level's tier (complex: premium) the candidates miss are said per class."""
    warnings = warnings_of("  - {target: {select: cheapest, from: [mid, mini]}}\n")
    assert warnings[:4] == [
        "routes[0].target: no candidate reaches premium for task extraction (complexity complex; the best: mid,"
        " standard): those requests get 400 no_capable_model; add a candidate of that tier for the class, or"
        " lower the tier it needs",
        "routes[0].target: no candidate reaches premium for task math (complexity simple, medium, complex; the"
        " best: mid, standard): those requests get 400 no_capable_model; add a candidate of that tier for the"
        " class, or lower the tier it needs",
        "routes[0].target: no candidate reaches premium for task general (complexity complex; the best: mid,"
        " standard): those requests get 400 no_capable_model; add a candidate of that tier for the class, or"
        " lower the tier it needs",
        "routes[0].target: no candidate has the tools capability: a request that declares tools gets 400"
        " no_capable_model (add a model that has it to from, or declare it on a candidate that has it)",
    ]


def test_the_classes_and_levels_a_route_cannot_see_are_not_warned_about() -> None:
    """match: {task, complexity} limits the check to what reaches the route: simple extraction has mini."""
    route = "  - {match: {task: extraction, complexity: [simple, medium]}, target: {select: cheapest, from: [mini]}}\n"
    assert not [w for w in warnings_of(route) if "no candidate reaches" in w]


def test_a_route_no_class_and_level_can_be_served_on_is_an_error() -> None:
    """Every (class, level) the route sees needs a tier no candidate has: an error, not a warning per class."""
    errors = errors_of("  - {match: {task: math}, target: {select: cheapest, from: [mid, mini]}}\n")
    assert errors == [
        "routes[0].target: every task class and complexity level this route sees needs a tier no candidate"
        " reaches, so every request would get 400 no_capable_model (the first: no candidate reaches premium for"
        " task math (complexity simple, medium, complex; the best: mid, standard): those requests get 400"
        " no_capable_model; add a candidate of that tier for the class, or lower the tier it needs)"
    ]


def test_a_capability_no_candidate_has_is_a_warning_per_capability() -> None:
    """Each of tools, vision, audio, json, thinking that no candidate declares is named with the requests it refuses."""
    route = "  - {match: {task: extraction, complexity: simple}, target: {select: cheapest, from: [mid]}}\n"
    warnings = warnings_of(route)
    assert [w.split(":")[1].strip() for w in warnings] == [
        "no candidate has the tools capability",
        "no candidate has the vision capability",
        "no candidate has the audio capability",
        "no candidate has the json capability",
        "no candidate has the thinking capability",
    ]


def test_a_capability_the_route_match_rules_out_is_not_warned_about() -> None:
    """match.features tools: false, images and video false: such requests never reach the route."""
    route = (
        "  - match: {task: extraction, complexity: simple, features: {tools: false, images: false, video: false}}\n"
        "    target: {select: cheapest, from: [mid]}\n"
    )
    assert [w.split(":")[1].strip() for w in warnings_of(route)] == [
        "no candidate has the audio capability",
        "no candidate has the json capability",
        "no candidate has the thinking capability",
    ]


def test_a_route_whose_candidates_serve_everything_has_no_warning() -> None:
    """The premium model with every capability among the candidates: nothing to say."""
    assert warnings_of("  - {target: {select: cheapest, from: [mini, mid, big]}}\n") == []


def test_a_capability_no_model_of_the_policy_declares_is_not_warned_about() -> None:
    """Without a model that thinks anywhere in the policy, no route could serve such requests: no warning per route."""
    text = (
        BASE.replace(", audio, json, thinking]", ", audio, json]") + "  - {target: {select: cheapest, from: [mid]}}\n"
    )
    warnings = list(load_policy_bytes(text.encode(), "test.yaml").warnings)
    assert warnings and not [w for w in warnings if "thinking" in w]
