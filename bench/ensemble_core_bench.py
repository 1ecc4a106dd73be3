"""Ensemble core benchmarks: gate validation time, and the majority-of-three arithmetic on the fake provider's
quality profiles (no HTTP: the pure functions the fake server and the sidecar both run).

    python bench/ensemble_core_bench.py [--questions 20000] [--labels 4] [--seed 1]

1. Gate validation of a ~2 KB answer against a typical extraction schema: fastjsonschema (what the gates
   use) against jsonschema (when installed), the whole ``Gates.check`` (parse + every gate), the validator
   cache look-up, and one compilation. Medians of 7 rounds, in microseconds per call.
2. Majority of three independent members right 70 %, 75 % and 80 % of the time on a labelled workload
   (``--labels`` labels per question, a third of answers in a sentence, read by a regex normalizer):
   measured accuracy against the binomial expectation (at least two right) and the exact one (ties broken
   by member order, best member first), the best single member, the share of votes decided after two
   answers (the third call cancelled), a judge strategy with a judge right 90 % of the time, and the
   pure per-request cost of the vote.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from sidecar.answers import AnswerView
from sidecar.dialects import Dialect, Operation
from sidecar.ensemble import EnsembleSpec, compile_ensemble
from sidecar.ensemble.judge import DEFAULT_JUDGE_PROMPT, judge_prompt
from sidecar.fake_provider.profiles import QualityProfile
from sidecar.fake_provider.quality import Grading, decide, judge, judge_candidates, judge_text, render
from sidecar.fake_provider.truth import Truth
from sidecar.gates import GatesSpec, SchemaValidators, compile_gates, requested_json
from sidecar.gates.validators import SchemaValidator, compile_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_id": {"type": "string", "pattern": "^INV-[0-9]{6}$"},
        "date": {"type": "string"},
        "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
        "total": {"type": "number", "minimum": 0},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string"},
                "country": {"type": "string", "minLength": 2, "maxLength": 2},
            },
            "required": ["name", "email", "country"],
            "additionalProperties": False,
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "description": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": {"type": "number"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["sku", "description", "quantity", "unit_price"],
                "additionalProperties": False,
            },
        },
        "notes": {"type": ["string", "null"]},
    },
    "required": ["invoice_id", "date", "currency", "total", "customer", "items", "notes"],
    "additionalProperties": False,
}
ITEMS = [
    {
        "sku": f"SKU-{i:04d}",
        "description": f"Widget number {i} with a long-ish description",
        "quantity": i + 1,
        "unit_price": 9.99 + i,
        "tags": ["a", "bb", "ccc"],
    }
    for i in range(14)
]
ANSWER = {
    "invoice_id": "INV-000123",
    "date": "2025-01-02",
    "currency": "EUR",
    "total": 1234.5,
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "country": "GB"},
    "items": ITEMS,
    "notes": None,
}


def per_call_us(fn: Callable[[], object], calls: int, rounds: int = 7) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times) * 1e6


def gate_bench() -> None:
    text = orjson.dumps(ANSWER).decode()
    print(f"## gate validation: {len(text)}-byte answer, {len(orjson.dumps(SCHEMA))}-byte schema")
    compiled = compile_schema(SCHEMA)
    assert isinstance(compiled, SchemaValidator)
    assert compiled.error(orjson.loads(text)) is None
    rows = [
        ("parse only (orjson.loads)", per_call_us(lambda: orjson.loads(text), 5000)),
        ("fastjsonschema: parse + validate", per_call_us(lambda: compiled.error(orjson.loads(text)), 5000)),
    ]
    try:
        import jsonschema

        checker = jsonschema.Draft7Validator(SCHEMA)
        rows.append(("jsonschema: parse + validate", per_call_us(lambda: checker.is_valid(orjson.loads(text)), 300)))
    except ImportError:
        rows.append(("jsonschema: not installed", float("nan")))
    body = {"response_format": {"type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA}}}
    validators = SchemaValidators()
    gates = compile_gates(GatesSpec(), validators)
    answer = AnswerView(text, (), "stop")

    def whole() -> object:
        expectation = requested_json(body, Dialect.OPENAI, Operation.CHAT)
        return gates.check(answer, expectation)

    assert whole() is None
    rows.append(("Gates.check: schema lookup + every gate", per_call_us(whole, 5000)))
    rows.append(("validator cache look-up alone", per_call_us(lambda: validators.get(SCHEMA), 5000)))
    rows.append(("one compilation (a schema not cached yet)", per_call_us(lambda: compile_schema(SCHEMA), 20, 5)))
    for name, value in rows:
        print(f"  {name:45s} {value:9.1f} us")
    print()


def exact_majority(accuracies: list[float], labels: int) -> float:
    """P(the vote is right): two or three right, or one right whose member wins a three-way tie by order."""
    total = 0.0
    for right in itertools.product((True, False), repeat=3):
        p = 1.0
        for ok, accuracy in zip(right, accuracies, strict=True):
            p *= accuracy if ok else 1 - accuracy
        count = sum(right)
        if count >= 2:
            total += p
        elif count == 1 and labels > 2:
            first_right = right.index(True)
            # the other two are wrong and must differ from each other for a three-way tie,
            # and the right member must come before both wrong members in member order
            differ = (labels - 2) / (labels - 1)
            if first_right == 0:
                total += p * differ
    return total


def majority_bench(questions: int, labels: int, seed: int) -> None:
    accuracies = [0.80, 0.75, 0.70]  # member order: the best first (it wins three-way ties)
    names = ["member-80", "member-75", "member-70"]
    profiles = [QualityProfile(right={"*": p}, prose=0.33, spread=0.1) for p in accuracies]
    choices = tuple(f"label{index}" for index in range(labels))
    block = {
        "members": names,
        "normalizer": {"kind": "regex", "pattern": r"\b(label\d+)\b", "flags": ["ignorecase"]},
    }
    ensemble = compile_ensemble(EnsembleSpec.model_validate(block))
    judged = compile_ensemble(EnsembleSpec.model_validate({**block, "strategy": "judge", "judge": {"target": "j"}}))
    judge_profile = QualityProfile(right={"judge": 0.9}, spread=0.05)
    right_single = [0] * 3
    right_vote = right_judge = decided_at_two = judge_calls = 0
    vote_time = 0.0
    for index in range(questions):
        truth = Truth(choices[index % labels], task="classification", choices=choices)
        conversation = f"Question {index}: which label? [truth:answer={truth.answer}]"
        texts = []
        for position, (name, profile) in enumerate(zip(names, profiles, strict=True)):
            grading = Grading(truth, f"id={index}", profile, name, seed, conversation)
            verdict = decide(grading, json_asked=False)
            texts.append(render(verdict, truth, json_asked=False, schema=None).text)
            right_single[position] += verdict.value == truth.answer
        start = time.perf_counter()
        run = ensemble.start()
        members = run.ensemble.members
        decided_early = False
        for position, member in enumerate(members):
            if run.answered(member, texts[position]):
                decided_early = position == 1
                break
        vote_time += time.perf_counter() - start
        assert run.decision is not None
        decided_at_two += decided_early
        right_vote += run.decision.winner.key == truth.answer.casefold()
        run = judged.start()
        for member, text in zip(run.ensemble.members, texts, strict=True):
            run.answered(member, text)
        if run.judge_candidates:
            judge_calls += 1
            prompt = judge_prompt(DEFAULT_JUDGE_PROMPT, conversation, run.judge_candidates)
            grading = Grading(truth, f"id={index}", judge_profile, "judge", seed, prompt)
            verdict = judge(grading, judge_candidates(prompt))
            decision = run.judged(judge_text(verdict))
        else:
            assert run.decision is not None
            decision = run.decision
        right_judge += decision.winner.key == truth.answer.casefold()
    p1, p2, p3 = accuracies
    binomial = p1 * p2 * p3 + p1 * p2 * (1 - p3) + p1 * (1 - p2) * p3 + (1 - p1) * p2 * p3
    exact = exact_majority(accuracies, labels)
    best = max(right_single) / questions
    vote = right_vote / questions
    print(f"## majority of three: {questions} questions, {labels} labels, seed {seed}")
    for name, count, accuracy in zip(names, right_single, accuracies, strict=True):
        print(f"  {name}: right {count / questions:.2%} (profile {accuracy:.0%})")
    print(f"  majority vote: right {vote:.2%}")
    print(f"  binomial expectation (at least two right): {binomial:.2%}")
    print(f"  exact expectation (plus one right winning a three-way tie by order): {exact:.2%}")
    print(f"  gain over the best member: {vote - best:+.2%} points ({(vote - best) / best:+.1%} relative)")
    print(f"  decided after two answers (third call cancelled), in member order: {decided_at_two / questions:.2%}")
    print(
        f"  judge strategy (judge right 90 %): right {right_judge / questions:.2%}; "
        f"judge called on {judge_calls / questions:.2%} of questions (the rest unanimous)"
    )
    print(f"  vote arithmetic per request (EnsembleRun, 3 answers): {vote_time / questions * 1e6:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    gate_bench()
    majority_bench(args.questions, args.labels, args.seed)


if __name__ == "__main__":
    main()
