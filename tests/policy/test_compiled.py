"""The compiler's handling of a route's ensemble, gates and shadow blocks: names resolved, errors with
their paths."""

from __future__ import annotations

from pathlib import Path

from sidecar.ensemble.plan import EnsemblePlan
from sidecar.policy.load import load_policy_bytes

from .policies import BASE, errors_of


def test_an_ensemble_route_has_an_ensemble_plan_over_every_member_and_the_judge() -> None:
    """Members' chains and the judge resolve to targets; the route's targets are all of them, once."""
    policy = load_policy_bytes(
        (
            BASE
            + "routes:\n  - name: vote\n    ensemble:\n      members: [gpt-4o, [claude, gpt-4o-mini]]\n"
            + "      strategy: judge\n      judge: {target: gpt-4o}\n"
        ).encode(),
        "test.yaml",
    )
    plan = policy.routes[0].plan
    assert isinstance(plan, EnsemblePlan)
    assert [[t.name for t in chain] for chain in plan.chains] == [["gpt-4o"], ["claude", "gpt-4o-mini"]]
    assert [t.name for t in plan.judge] == ["gpt-4o"]
    assert [t.name for t in policy.routes[0].chain] == ["gpt-4o", "claude", "gpt-4o-mini"]


def test_unknown_models_in_the_new_blocks_are_named_with_their_paths() -> None:
    """An unknown member, judge or shadow candidate is refused at its path."""
    errors = errors_of(
        BASE
        + "routes:\n  - name: vote\n    ensemble:\n      members: [gpt-4o, [claude, gpt-5x]]\n"
        + "      strategy: judge\n      judge: {target: nope}\n"
        + "    shadow: {candidates: [gpt-4o-mini, ghost]}\n"
    )
    assert errors == [
        "routes[0].ensemble.members[1].target[1]: unknown model 'gpt-5x'",
        "routes[0].ensemble.judge.target: unknown model 'nope'",
        "routes[0].shadow.candidates[1]: unknown model 'ghost'",
    ]


def test_a_shadow_candidate_or_judge_on_a_passthrough_provider_is_refused() -> None:
    """A shadow candidate, or an agreement judge, whose provider passes the app's own key through is refused
    at its path: a shadow call is the sidecar's and never carries an app's key (before 2026-12-06 the app's
    key went to the candidate's provider, another provider than the one serving the app included)."""
    passthrough = BASE.replace("api_key: {env: ANTHROPIC_API_KEY}", "api_key: {passthrough: true}")
    errors = errors_of(
        passthrough
        + "routes:\n  - target: gpt-4o\n"
        + "    shadow: {candidates: [gpt-4o-mini, claude], judge: {target: [gpt-4o, claude]}}\n"
    )
    assert [error.split(":", 1)[0] for error in errors] == [
        "routes[0].shadow.candidates[1]",
        "routes[0].shadow.judge.target",
    ]
    assert "'claude' is on provider 'anthropic', which passes the app's own key through" in errors[0]


def test_a_bad_gate_is_refused_with_its_path() -> None:
    """A re-ask prompt without {error} is refused where it stands."""
    errors = errors_of(BASE + "routes:\n  - {target: gpt-4o, gates: {reask_prompt: 'try again'}}\n")
    assert len(errors) == 1 and errors[0].startswith("routes[0].gates.reask_prompt:")
    assert "{error}" in errors[0]


def test_a_route_may_not_have_both_a_target_and_an_ensemble() -> None:
    """target and ensemble are alternatives."""
    errors = errors_of(BASE + "routes:\n  - {target: gpt-4o, ensemble: {members: [gpt-4o, claude]}}\n")
    assert errors == ["routes[0]: set exactly one of target, split, ensemble, deny"]


def test_the_annotated_example_in_docs_ensembles_is_a_valid_route() -> None:
    """docs/ensembles.md's annotated route (ensemble, gates, shadow) loads, its models defined."""
    text = (Path(__file__).parents[2] / "docs" / "ensembles.md").read_text()
    example = text.split("## Every field, annotated", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    models = "".join(
        f"  {name}: {{provider: openai, model: {name}}}\n"
        for name in ("gpt-4o-mini", "claude-haiku", "claude-haiku-eu", "gemini-flash")
    )
    head = BASE.split("models:\n", 1)[0] + "models:\n" + BASE.split("models:\n", 1)[1] + models
    policy = load_policy_bytes((head + example).encode(), "example.yaml")
    route = policy.routes[0]
    assert isinstance(route.plan, EnsemblePlan) and route.gates is not None and route.shadow is not None
