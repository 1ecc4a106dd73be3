"""The request path's classifier answers what the rules tried one by one (``explain``'s path) answer."""

from __future__ import annotations

from pathlib import Path

import orjson

from sidecar.routing.matrix import Router, routing_from_document
from sidecar.routing.textview import TextView

from .request_corpus import RECORDED, observe
from .requests import features
from .rules import ROOT, bench_rules


def by_rules(router: Router, user: str, system: str | None = None, headers: dict[str, str] | None = None) -> None:
    """Assert the classifier's decision for one prompt is the one of the rules tried one by one."""
    request = features(user, system=system)
    expected = router.decide_by_rules(TextView(request), headers or {})
    assert router.decide(request, headers) == expected, (user, system)


def prompts() -> list[str]:
    texts = []
    for name in ("routing_heldout.jsonl", "routing_fresh.jsonl"):
        for line in (ROOT / "bench/data" / name).read_text().splitlines():
            texts.append(orjson.loads(line)["text"])
    return texts


def test_labeled_prompts_decided_as_rule_by_rule() -> None:
    """Every prompt of both labeled sets gets the same task, complexity, tier and deciding rules from the
    classifier as from the rules tried in order, with 14 more classes gated by regexes on both windows."""
    router = routing_from_document({"routing": bench_rules(extra_classes=14)}, base_dir=ROOT)
    for text in prompts():
        by_rules(router, text)


def test_system_window_and_gates_decided_as_rule_by_rule() -> None:
    """Prompts that open a gate through the system prompt only, the user's message only, or both (and
    none), and keywords in either window, decide as the rules tried in order do."""
    router = routing_from_document({"routing": bench_rules(extra_classes=3)}, base_dir=ROOT)
    cases = [
        ("Say hello, please.", "You are terse. #c1-42"),
        ("ticket #c2-7: what is 17 * 24?", None),
        ("Hi!", "topic0 subject1"),
        ("Is 3 larger than 2? why? explain", "#c0-1"),
        ("my mother's only son's daughter is who?", None),
        ("how many r's are in strawberry", "#nothing-1"),
        ("", "You are terse."),
        ("what is \u0663 * \u0664? and 7 times 3", None),
    ]
    for user, system in cases:
        by_rules(router, user, system)


def test_trusted_header_decided_as_rule_by_rule() -> None:
    """A trusted task header names the class (a declared one, or the default class); an unknown name
    leaves the rules to decide, as on the rule-by-rule path."""
    routing = {**bench_rules(), "task_header": "trust"}
    router = routing_from_document({"routing": routing}, base_dir=ROOT)
    for named in ("math", "chat", "no-such-class"):
        by_rules(router, "Summarize this memo: the meeting moved to 3pm", headers={"x-sidecar-task": named})


def test_same_cell_gives_the_same_decision_object() -> None:
    """Two requests decided by the same rules share one ``Decision``: it is built once per cell."""
    router = routing_from_document({"routing": bench_rules()}, base_dir=ROOT)
    first = router.decide(features("Say hello to the benchmark, in one short sentence please."))
    second = router.decide(features("Say goodbye to the benchmark, in one short sentence."))
    assert first is second
    assert (first.task.label, first.complexity.label) == ("chat", "simple")


def test_model_decides_what_no_rule_did(router_file: Path) -> None:
    """With a learned model, a prompt no rule decides is decided by the model (with its confidence and
    unsure-means-up), as on the rule-by-rule path; a prompt a level rule decides keeps that level."""
    levels = [
        {"name": "simple", "tier": "economy"},
        {"name": "medium", "tier": "standard"},
        {"name": "complex", "tier": "premium", "rules": [{"keywords": ["prove"]}]},
    ]
    routing = {
        "classes": [{"name": n} for n in ("extraction", "classification", "code", "math")],
        "complexity": {"levels": levels},
        "learned": {"file": router_file.name, "min_confidence": 0.9},
    }
    router = routing_from_document({"routing": routing}, base_dir=router_file.parent)
    for text in ("Label the sentiment of the review: it broke", "Prove that 2 is prime", "Hello"):
        by_rules(router, text)
    decision = router.decide(features("Label the sentiment of the review: it broke"))
    assert (decision.task.label, decision.task.source) == ("classification", "model")


def test_corpus_decided_as_recorded_from_the_base() -> None:
    """Requests of every dialect (tools, images, documents, long and short texts, several task classes,
    a trusted task header) get the features, decisions, headers, route and targets recorded from the
    package before routing's features and classification were made cheaper (``request_corpus``)."""
    recorded = orjson.loads(RECORDED.read_bytes())
    observed = orjson.loads(orjson.dumps(observe()))
    assert observed.keys() == recorded.keys()
    for name, expected in recorded.items():
        assert observed[name] == expected, name
