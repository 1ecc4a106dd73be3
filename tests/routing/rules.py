"""Routing rules for the routing tests: one rule compiled from its spec (``rule``), and the benchmark's
rule set (``bench_rules``, ``bench/data/routing_rules.yaml``) with more classes when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sidecar.routing.rules import Rule, compile_rule
from sidecar.routing.spec import RuleSpec

ROOT = Path(__file__).resolve().parents[2]


def rule(**spec: Any) -> Rule:
    """The rule ``spec`` describes, compiled as the first rule of the first class."""
    return compile_rule(RuleSpec.model_validate(spec), "routing.classes[0].rules[0]")


def bench_rules(extra_classes: int = 0) -> dict[str, Any]:
    """``bench/data/routing_rules.yaml``'s block, with ``extra_classes`` more of a keyword and a regex rule each."""
    routing: dict[str, Any] = yaml.safe_load((ROOT / "bench/data/routing_rules.yaml").read_text())["routing"]
    for i in range(extra_classes):
        rules = [{"keywords": [f"topic{i}", f"subject{i}"]}, {"regex": f"#c{i}-\\d+", "in": ["last_user", "system"]}]
        routing["classes"].append({"name": f"c{i}", "rules": rules})
    return routing
