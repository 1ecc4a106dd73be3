"""Training and evaluating a learned router: multinomial logistic regression in plain Python.

``fit(examples, options)`` takes the heads with two labels or more (``_heads``), builds the vocabulary
(n-grams seen in at least ``min_count`` training examples, at most ``max_grams``, facts always) and
encodes the examples with it (``_encode``), then runs stochastic gradient descent on the softmax
cross-entropy of each head (task, complexity) with L2 weight decay, over shuffled examples for
``epochs`` passes with a decaying rate (``_descend``). Both heads share the n-grams and have their own
weights; an example with one label trains that head only. The result is the router file document
(``model``; ``_document``).

Each example keeps only the numbers of its n-grams while the vocabulary is counted, an array of 4-byte
numbers (fit allocates at most about 0.9 KB an example: 100,000 examples train in 190 MB of memory,
where tuples of strings took 740 MB).

``split(examples, holdout, seed)`` sets aside a seeded random share for the held-out report;
``label_notes`` says what the training share cannot teach; ``evaluate(model, examples)`` gives per
head the accuracy, per-label recall and the confusion matrix; ``format_report`` prints them (a
label the model does not have is marked on its row). No numpy: a few thousand examples train in
seconds, and the sidecar that reads the file never imports the trainer.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ... import __version__
from ..textview import TextView
from .grams import GROUPS, SCHEME, WINDOW, grams
from .labeled import HEADS, Labeled
from .model import FORMAT, VERSION, LearnedModel


@dataclass(frozen=True, slots=True)
class TrainOptions:
    epochs: int = 12
    learning_rate: float = 1.0
    l2: float = 1e-4
    min_count: int = 2
    max_grams: int = 50_000
    seed: int = 0


def split(examples: Sequence[Labeled], holdout: float, seed: int) -> tuple[list[Labeled], list[Labeled]]:
    """(training, held out): a seeded shuffle, the last ``holdout`` share held out."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    cut = len(order) - round(len(order) * holdout)
    return order[:cut], order[cut:]


def _keys(example: Labeled) -> list[tuple[str, str]]:
    return [
        (group, gram)
        for group, values in zip(GROUPS, grams(TextView(example.features)), strict=True)
        for gram in values
    ]


def fit(examples: Sequence[Labeled], options: TrainOptions = TrainOptions()) -> dict[str, Any]:
    """The router file document trained on ``examples``."""
    heads = _heads(examples)
    offsets, width = {}, 0
    for head, names in heads:
        offsets[head] = width
        width += len(names)
    kept, encoded = _encode(examples, heads, offsets, options)
    rows, bias = _descend(encoded, len(kept), width, options)
    return _document(examples, options, heads, kept, rows, bias)


def _heads(examples: Sequence[Labeled]) -> list[tuple[str, list[str]]]:
    """The heads trained: each with at least two labels in ``examples``, and its labels, sorted."""
    labels = {head: sorted({e.labels[head] for e in examples if head in e.labels}) for head in HEADS}
    heads = [(head, names) for head, names in labels.items() if len(names) >= 2]
    if not heads:
        raise ValueError("every head needs at least two distinct labels")
    return heads


def _numbered(examples: Sequence[Labeled]) -> tuple[list[tuple[str, str]], list[int], list[array[int]]]:
    """The distinct n-grams in the order first seen, how many examples each is in, and each example's
    n-grams as their numbers (positions in that order)."""
    # Each distinct n-gram gets a number on first sight, and an example keeps only its numbers (4 bytes
    # each, not a tuple of strings: 100,000 examples took 600 MB as tuples); ties in count keep the
    # first-seen order, so the n-grams kept and their order are alike every run.
    numbers: dict[tuple[str, str], int] = {}
    counts: list[int] = []
    numbered = []
    for example in examples:
        ids = array("I")
        for key in _keys(example):
            number = numbers.setdefault(key, len(numbers))
            if number == len(counts):
                counts.append(0)
            ids.append(number)
        for number in dict.fromkeys(ids):
            counts[number] += 1
        numbered.append(ids)
    return list(numbers), counts, numbered


_Encoded: TypeAlias = "tuple[array[int], float, list[tuple[int, int, int]]]"
"""An example as the descent reads it: its kept n-grams (rows), the norm of its features, and per head it
has a label of: the head's first column, its width, the label's position."""


def _encode(
    examples: Sequence[Labeled], heads: list[tuple[str, list[str]]], offsets: dict[str, int], options: TrainOptions
) -> tuple[list[tuple[str, str]], list[_Encoded]]:
    """The vocabulary (the n-grams in at least ``min_count`` examples, facts always, most frequent first,
    at most ``max_grams``) and each example encoded with it."""
    keys, counts, numbered = _numbered(examples)
    ranked = sorted(range(len(keys)), key=counts.__getitem__, reverse=True)  # stable: first seen first
    kept_numbers = [n for n in ranked if counts[n] >= options.min_count or keys[n][0] == "f"][: options.max_grams]
    kept = [keys[n] for n in kept_numbers]
    index = {number: i for i, number in enumerate(kept_numbers)}
    encoded = []
    for example, ids in zip(examples, numbered, strict=True):
        targets = [
            (offsets[h], len(names), names.index(example.labels[h])) for h, names in heads if h in example.labels
        ]
        norm = 1.0 / math.sqrt(len(ids)) if ids else 0.0
        encoded.append((array("I", [index[n] for n in ids if n in index]), norm, targets))
    return kept, encoded


def _descend(
    encoded: list[_Encoded], grams: int, width: int, options: TrainOptions
) -> tuple[list[list[float]], list[float]]:
    """The weights (a row of ``width`` per n-gram kept) and the bias: ``epochs`` passes of stochastic
    gradient descent over the shuffled examples, with a decaying rate and L2 weight decay."""
    rows = [[0.0] * width for _ in range(grams)]
    bias = [0.0] * width
    rng = random.Random(options.seed)
    for epoch in range(options.epochs):
        rate = options.learning_rate / (1.0 + epoch)
        decay = 1.0 - rate * options.l2
        rng.shuffle(encoded)
        for ids, norm, targets in encoded:
            sums = [sum(column) for column in zip(*(rows[i] for i in ids), strict=True)] if ids else [0.0] * width
            scores = [b + s * norm for b, s in zip(bias, sums, strict=True)]
            gradient = [0.0] * width
            for start, size, truth in targets:
                part = scores[start : start + size]
                top = max(part)
                exps = [math.exp(s - top) for s in part]
                total = sum(exps)
                for k in range(size):
                    gradient[start + k] = exps[k] / total - (1.0 if k == truth else 0.0)
            bias = [b - rate * g for b, g in zip(bias, gradient, strict=True)]
            step = rate * norm
            for i in ids:
                rows[i] = [w * decay - step * g for w, g in zip(rows[i], gradient, strict=True)]
    return rows, bias


def _document(
    examples: Sequence[Labeled],
    options: TrainOptions,
    heads: list[tuple[str, list[str]]],
    kept: list[tuple[str, str]],
    rows: list[list[float]],
    bias: list[float],
) -> dict[str, Any]:
    """The router file document: the weights rounded, an n-gram whose weights are all about 0 left out."""
    weights: dict[str, dict[str, list[float]]] = {group: {} for group in GROUPS}
    for (group, gram), row in zip(kept, rows, strict=True):
        if max(abs(w) for w in row) > 1e-4:
            weights[group][gram] = [round(w, 5) for w in row]
    return {
        "format": FORMAT,
        "version": VERSION,
        "scheme": SCHEME,
        "window": dict(WINDOW),
        "heads": [{"name": head, "labels": names} for head, names in heads],
        "bias": [round(b, 5) for b in bias],
        "weights": weights,
        "training": {
            "examples": len(examples),
            "grams": sum(len(g) for g in weights.values()),
            "options": {k: getattr(options, k) for k in TrainOptions.__dataclass_fields__},
            "llm_sidecar": __version__,
        },
    }


def label_notes(examples: Sequence[Labeled], training: Sequence[Labeled]) -> list[str]:
    """What ``fit(training)`` cannot learn of ``examples``: a head whose examples all have one label
    (not trained), a label whose every example was held out (never answered)."""
    notes = []
    for head in HEADS:
        counts = Counter(e.labels[head] for e in examples if head in e.labels)
        if len(counts) == 1:
            notes.append(
                f"{head}: not trained: every example has the label {next(iter(counts))!r}"
                " (a head needs at least two labels)"
            )
            continue
        trained = {e.labels[head] for e in training if head in e.labels}
        for label in sorted(set(counts) - trained):
            n = counts[label]
            notes.append(
                f"{head}: label {label!r} is only in the held-out share ({n} example{'s' * (n > 1)}):"
                " the model cannot answer it; add examples or lower --holdout"
            )
    return notes


@dataclass(slots=True)
class HeadReport:
    head: str
    labels: list[str]
    confusion: dict[str, Counter[str]] = field(default_factory=dict)  # true -> predicted -> count

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def correct(self) -> int:
        return sum(row[label] for label, row in self.confusion.items())

    def recall(self, label: str) -> tuple[int, float]:
        row = self.confusion.get(label, Counter())
        n = sum(row.values())
        return n, (row[label] / n if n else 0.0)


def evaluate(model: LearnedModel, examples: Sequence[Labeled]) -> list[HeadReport]:
    reports = {head.name: HeadReport(head.name, list(head.labels)) for head in model.heads}
    for example in examples:
        predictions = model.predict(TextView(example.features))
        for name, report in reports.items():
            truth = example.labels.get(name)
            if truth is not None:
                report.confusion.setdefault(truth, Counter())[predictions[name].label] += 1
    return list(reports.values())


def format_report(reports: Sequence[HeadReport], title: str, confusion: bool = False) -> str:
    lines = []
    for report in reports:
        if not report.total:
            lines.append(f"{report.head}: no {title} examples")
            continue
        accuracy = report.correct / report.total
        lines.append(f"{report.head}: {title} accuracy {accuracy:.3f} ({report.correct} of {report.total})")
        truths = [label for label in report.labels if label in report.confusion]
        truths += sorted(set(report.confusion) - set(report.labels))
        for label in truths:
            n, recall = report.recall(label)
            unknown = "" if label in report.labels else "  (not a label of the model)"
            lines.append(f"  {label:<24} n={n:<5} accuracy {recall:.3f}{unknown}")
        if confusion:
            columns = report.labels
            width = max(6, *(len(c) for c in columns))
            lines.append("  true \\ predicted".ljust(28) + " ".join(c.rjust(width) for c in columns))
            for label in truths:
                row = report.confusion[label]
                lines.append(f"  {label:<26}" + " ".join(str(row[c]).rjust(width) for c in columns))
    return "\n".join(lines)
