"""Misroutes on a hand-written held-out set: hard prompts sent to the cheap tier, easy ones to premium.

    python bench/routing_misroutes.py [--train 1500] [--min-confidence 0.7] [--sets heldout,fresh]

The held-out set (``bench/data/routing_heldout.jsonl``, 111 prompts) mixes ordinary simple and medium
prompts with 48 complex ones, most of them short and written to look simple: proofs, trick
arithmetic, terse multi-step questions, logic puzzles. Each router below decides a tier per prompt
(economy for simple, standard for medium, premium for complex, as ``bench/data/routing_rules.yaml``
maps them); the report counts

- complex -> economy: a hard prompt on the cheap model (target: at most 5% of the complex prompts);
- simple -> premium: money wasted on an easy prompt;

and the accuracy of the complexity and task labels. The learned router is trained on templated
prompts (``bench/routing_data.py``), never on the held-out set.

A second set, ``bench/data/routing_fresh.jsonl`` (45 prompts: 20 complex, 15 simple, 10 medium), was
written after the rules were last revised against the first and is never used to tune them: its
table says whether a rule change generalises or only fits the first set.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml

from sidecar.routing.learned.labeled import Labeled, parse_line, read_labeled
from sidecar.routing.learned.train import fit
from sidecar.routing.matrix import Router, routing_from_document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routing_data import training_examples

DATA = Path(__file__).resolve().parent / "data"

LENGTH_ONLY = {
    "routing": {
        "complexity": {
            "default": "medium",
            "levels": [
                {"name": "simple", "tier": "economy", "rules": [{"features": {"last_user_chars": {"lt": 200}}}]},
                {"name": "medium", "tier": "standard"},
                {"name": "complex", "tier": "premium", "rules": [{"features": {"prompt_tokens": {"gt": 2000}}}]},
            ],
        }
    }
}


def rules_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DATA / "routing_rules.yaml").read_text())
    return document


def without_rules(document: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(document)
    for item in stripped["routing"]["classes"] + stripped["routing"]["complexity"]["levels"]:
        item.pop("rules", None)
    return stripped


def with_model(document: dict[str, Any], model: str, min_confidence: float) -> dict[str, Any]:
    combined = copy.deepcopy(document)
    combined["routing"]["learned"] = {"file": model, "min_confidence": min_confidence}
    return combined


def score(router: Router, examples: list[Labeled], verbose: bool = False) -> dict[str, Any]:
    complex_cheap = simple_premium = complexity_right = task_right = 0
    tiers: Counter[str] = Counter()
    cheap, top = router.tiers[0], router.tiers[-1]
    for example in examples:
        decision = router.decide(example.features)
        tiers[decision.tier] += 1
        truth = example.labels["complexity"]
        missed = (truth == "complex" and decision.tier == cheap) or (truth == "simple" and decision.tier == top)
        if missed and verbose:
            print(f"  {truth} -> {decision.tier}: {example.features.last_user_text[:90]!r}")
        complex_cheap += truth == "complex" and decision.tier == cheap
        simple_premium += truth == "simple" and decision.tier == top
        complexity_right += decision.complexity.label == truth
        task_right += decision.task.label == example.labels.get("task")
    counts = Counter(e.labels["complexity"] for e in examples)
    return {
        "complex_cheap": complex_cheap,
        "complex": counts["complex"],
        "simple_premium": simple_premium,
        "simple": counts["simple"],
        "complexity_accuracy": complexity_right / len(examples),
        "task_accuracy": task_right / len(examples),
        "tiers": tiers,
    }


def print_table(routers: dict[str, Router], held_out: list[Labeled], verbose: bool) -> None:
    print(
        "| router | complex -> economy | simple -> premium | complexity accuracy | task accuracy "
        "| economy / standard / premium |"
    )
    print("|---|---|---|---|---|---|")
    for name, router in routers.items():
        s = score(router, held_out, verbose)
        tiers = (
            " / ".join(str(s["tiers"][t]) for t in router.tiers) if len(router.tiers) == 3 else str(dict(s["tiers"]))
        )
        task = f"{s['task_accuracy']:.0%}" if router.classes or router.model else "-"
        print(
            f"| {name} | {s['complex_cheap']} of {s['complex']} ({s['complex_cheap'] / s['complex']:.0%}) "
            f"| {s['simple_premium']} of {s['simple']} ({s['simple_premium'] / s['simple']:.0%}) "
            f"| {s['complexity_accuracy']:.0%} | {task} | {tiers} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1500, help="templated training examples")
    parser.add_argument("--min-confidence", type=float, default=0.7, help="unsure means up below this")
    parser.add_argument("--verbose", action="store_true", help="list every misrouted prompt")
    parser.add_argument("--sets", default="heldout,fresh", help="labeled sets: bench/data/routing_<name>.jsonl")
    args = parser.parse_args()
    sets = {name: read_labeled(DATA / f"routing_{name}.jsonl") for name in args.sets.split(",")}
    training = [parse_line(orjson.dumps(r), i) for i, r in enumerate(training_examples(args.train, seed=0), 1)]
    rules = rules_document()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "router.json"
        model.write_bytes(orjson.dumps(fit(training)))
        routers = {
            "length only (short = simple)": routing_from_document(LENGTH_ONLY, base_dir=DATA),
            "rules (routing_rules.yaml)": routing_from_document(rules, base_dir=DATA),
            "learned, unsure-up off": routing_from_document(
                with_model(without_rules(rules), str(model), 0.0), base_dir=DATA
            ),
            f"learned, unsure-up below {args.min_confidence}": routing_from_document(
                with_model(without_rules(rules), str(model), args.min_confidence), base_dir=DATA
            ),
            f"rules + learned, unsure-up below {args.min_confidence}": routing_from_document(
                with_model(rules, str(model), args.min_confidence), base_dir=DATA
            ),
        }
        print(f"learned router trained on {len(training)} templated prompts")
        for set_name, held_out in sets.items():
            print(f"\n{set_name} (bench/data/routing_{set_name}.jsonl): {len(held_out)} prompts\n")
            print_table(routers, held_out, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
