"""Templated labeled prompts per class, generated in the tests (no fixture files to drift)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

TEMPLATES = {
    "extraction": (
        "Extract the {field} from this {doc}: {snippet}",
        "Pull out every {field} in the following {doc}. {snippet}",
        "From the {doc} below, list the {field}. {snippet}",
    ),
    "classification": (
        "Classify this {doc} as positive, negative or neutral: {snippet}",
        "Which category does this {doc} belong to? {snippet}",
        "Label the sentiment of the {doc}: {snippet}",
    ),
    "code": (
        "Write a {lang} function that {job}.",
        "Fix the bug in this {lang} code that {job}.",
        "Why does my {lang} program crash when it {job}?",
    ),
    "math": (
        "Prove that {theorem}.",
        "Show that {theorem}, step by step.",
        "Derive a proof that {theorem}.",
    ),
}
SLOTS = {
    "field": ("dates", "names", "amounts", "email addresses", "order numbers"),
    "doc": ("invoice", "email", "review", "contract", "ticket"),
    "snippet": (
        "Order 1234 shipped on May 3 to Anna.",
        "The product broke after two days.",
        "Meeting moved to Friday.",
    ),
    "lang": ("Python", "Go", "Rust", "JavaScript"),
    "job": ("parses a CSV file", "reverses a linked list", "reads a config file", "sorts a list of users"),
    "theorem": (
        "there are infinitely many primes",
        "the square root of two is irrational",
        "a tree with n nodes has n-1 edges",
    ),
}
COMPLEXITY = {"extraction": "simple", "classification": "simple", "code": "medium", "math": "complex"}


def examples(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        task = rng.choice(list(TEMPLATES))
        text = rng.choice(TEMPLATES[task]).format(**{k: rng.choice(v) for k, v in SLOTS.items()})
        out.append({"text": text, "task": task, "complexity": COMPLEXITY[task]})
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    return path


def train_router(path: Path, n: int = 400, *, swap: tuple[str, str] | None = None) -> Path:
    """Write at ``path`` a router file trained on ``examples(n)``; ``swap``: two task labels exchanged
    (the same prompts, the other class: a retrained file that decides differently)."""
    from sidecar.routing.learned.labeled import read_labeled
    from sidecar.routing.learned.train import fit

    records = examples(n, seed=1)
    if swap is not None:
        exchange = {swap[0]: swap[1], swap[1]: swap[0]}
        records = [{**r, "task": exchange.get(r["task"], r["task"])} for r in records]
    labeled = write_jsonl(path.with_suffix(".jsonl"), records)
    path.write_bytes(orjson.dumps(fit(read_labeled(labeled))))
    return path
