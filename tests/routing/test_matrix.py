"""The routing matrix: task class, complexity, tier; header trust; the learned model; unsure means up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.routing.matrix import Router, RoutingError, Verdict, make_decision, routing_from_document

from .requests import features

CLASSES: list[dict[str, Any]] = [
    {"name": "extraction", "rules": [{"keywords": ["extract", "pull out"]}], "output_tokens": 200},
    {"name": "code", "rules": [{"regex": r"```|\bdef |\bfunction\b"}, {"keywords": ["python", "golang"]}]},
    {
        "name": "math",
        "min_tier": "standard",
        "tier_by_level": {"complex": "premium"},
        "rules": [{"keywords": ["prove"]}],
    },
]
LEVELS: dict[str, Any] = {
    "levels": [
        {"name": "simple", "tier": "economy", "rules": [{"features": {"last_user_chars": {"lt": 60}}}]},
        {"name": "medium", "tier": "standard"},
        {"name": "complex", "tier": "premium", "rules": [{"keywords": ["prove", "theorem", "step by step"]}]},
    ],
    "default": "medium",
}


def router(base_dir: Path = Path("."), **routing: Any) -> Router:
    return routing_from_document({"routing": {"classes": CLASSES, "complexity": LEVELS, **routing}}, base_dir=base_dir)


def test_first_matching_class_in_file_order_wins() -> None:
    """A prompt matching extraction and code rules is extraction: classes are tried in order."""
    decision = router().decide(features("extract the function names from this python file"))
    assert (decision.task.label, decision.task.source, decision.task.rule) == (
        "extraction",
        "rule",
        "routing.classes[0].rules[0]",
    )


def test_the_deciding_rule_is_named() -> None:
    """The second rule of a class that matched is named by its path."""
    assert (
        router().decide(features("my golang build fails with a linker error, what now")).task.rule
        == "routing.classes[1].rules[1]"
    )


def test_no_rule_gives_the_default_class() -> None:
    """Nothing matches: default_class, source default."""
    decision = router().decide(features("what a lovely afternoon it is, don't you think so?"))
    assert (decision.task.label, decision.task.source) == ("general", "default")


def test_highest_matching_level_wins() -> None:
    """A short prompt that says 'prove' is complex: levels are tried from the highest."""
    decision = router().decide(features("prove it"))
    assert (decision.complexity.label, decision.complexity.rule) == ("complex", "routing.complexity.levels[2].rules[0]")


def test_level_tier_and_class_min_tier() -> None:
    """Simple extraction is economy; a simple math prompt is raised to math's min_tier standard."""
    r = router(classes=[*CLASSES[:2], {**CLASSES[2], "rules": [{"keywords": ["sum"]}]}])
    assert r.decide(features("extract the date")).tier == "economy"
    assert r.decide(features("what is the sum of 2 and 2")).tier == "standard"


def test_tier_by_level_overrides_the_level_tier() -> None:
    """math at complexity complex uses its tier_by_level entry."""
    assert router().decide(features("prove there are infinitely many primes")).tier == "premium"


def test_expected_output_tokens_from_class_or_default() -> None:
    """A class's output_tokens, else routing.output_tokens."""
    assert router().decide(features("extract the date")).output_tokens == 200
    assert router(output_tokens=300).decide(features("hello there")).output_tokens == 300


def test_trusted_header_sets_the_class() -> None:
    """task_header: trust lets x-sidecar-task name a declared class, before any rule."""
    decision = router(task_header="trust").decide(features("extract the date"), {"x-sidecar-task": "code"})
    assert (decision.task.label, decision.task.source) == ("code", "header")


def test_ignored_header_changes_nothing() -> None:
    """task_header: ignore (the default) disregards x-sidecar-task."""
    assert router().decide(features("extract the date"), {"x-sidecar-task": "code"}).task.label == "extraction"


def test_header_naming_no_class_is_ignored() -> None:
    """A trusted header that names no declared class falls through to the rules."""
    assert (
        router(task_header="trust").decide(features("extract it"), {"x-sidecar-task": "poetry"}).task.label
        == "extraction"
    )


def test_learned_model_decides_when_no_rule_matched(router_file: Path) -> None:
    """With no class rule matching, the trained model names the class, with its confidence."""
    r = router(
        router_file.parent,
        classes=[{"name": n} for n in ("extraction", "classification", "code", "math")],
        learned={"file": router_file.name},
    )
    decision = r.decide(features("Label the sentiment of the review: The product broke after two days."))
    assert (decision.task.label, decision.task.source) == ("classification", "model")
    assert 0.5 < decision.task.confidence <= 1.0


def learned_router(router_file: Path, min_confidence: float) -> Router:
    """Rule-less classes and levels: the trained model decides both labels."""
    levels = [
        {"name": n, "tier": t} for n, t in (("simple", "economy"), ("medium", "standard"), ("complex", "premium"))
    ]
    routing = {
        "classes": [{"name": n} for n in ("extraction", "classification", "code", "math")],
        "complexity": {"levels": levels},
        "learned": {"file": router_file.name, "min_confidence": min_confidence},
    }
    return routing_from_document({"routing": routing}, base_dir=router_file.parent)


def test_unsure_means_one_tier_up(router_file: Path) -> None:
    """A model decision below min_confidence moves the tier one up and records where it came from."""
    prompt = features("Extract the dates from this invoice: Order 1234 shipped on May 3 to Anna.")
    sure, unsure = learned_router(router_file, 0.0).decide(prompt), learned_router(router_file, 1.0).decide(prompt)
    assert (sure.tier, sure.escalated_from) == ("economy", None)
    assert (unsure.tier, unsure.escalated_from) == ("standard", "economy")


def test_unsure_at_the_top_tier_stays_there(router_file: Path) -> None:
    """An unsure decision that already needs the top tier stays on it (there is nothing above)."""
    decision = learned_router(router_file, 1.0).decide(features("Prove that there are infinitely many primes."))
    assert (decision.tier, decision.escalated_from) == ("premium", None)


def test_rule_decisions_are_never_escalated(router_file: Path) -> None:
    """A label decided by a rule is sure: min_confidence 1.0 does not move it."""
    r = router(
        router_file.parent,
        classes=[{"name": n, "rules": [{"keywords": [n]}]} for n in ("extraction", "classification", "code", "math")],
        learned={"file": router_file.name, "min_confidence": 1.0, "decides": ["task"]},
    )
    decision = r.decide(features("extraction please, of the date"))
    assert (decision.task.source, decision.escalated_from) == ("rule", None)


def test_model_labels_must_be_declared(router_file: Path) -> None:
    """A router file whose task labels are not classes of the policy is refused at load, with the path."""
    with pytest.raises(RoutingError) as caught:
        router(router_file.parent, learned={"file": router_file.name, "decides": ["task"]})
    assert caught.value.errors == [
        f"routing.learned.file: {router_file.name}: task label 'classification' is not a class of routing.classes"
    ]


def test_explain_lists_every_rule_verdict() -> None:
    """explain gives the decision and, for every rule, whether it matched and why."""
    report = router().explain(features("prove it"))
    assert report["task"] == {
        "label": "math",
        "source": "rule",
        "rule": "routing.classes[2].rules[0]",
        "confidence": 1.0,
    }
    assert report["rules"][0] == {
        "rule": "routing.classes[0].rules[0]",
        "class": "extraction",
        "matched": False,
        "why": ["no keyword of the set in system or last_user"],
    }


def test_a_decision_carries_its_answer_headers_and_access_fields() -> None:
    """``make_decision`` writes what the answer reports of a decision once: the three headers and the
    access line's labels, sources and tier, with the tier before escalation when there was one."""
    task, level = Verdict("math", "rule", "routing.classes[2].rules[0]"), Verdict("complex", "model", None, 0.4)
    made = make_decision(task, level, "premium", "standard", 600)
    assert made.headers == {"x-sidecar-task": "math", "x-sidecar-complexity": "complex", "x-sidecar-tier": "premium"}
    assert made.fields == {
        "task": "math",
        "task_source": "rule",
        "complexity": "complex",
        "complexity_source": "model",
        "tier": "premium",
        "tier_escalated_from": "standard",
    }
    assert "tier_escalated_from" not in make_decision(task, level, "premium", None, 600).fields
