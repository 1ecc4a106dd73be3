"""How far ``sidecar.routing.tokens.estimate_tokens`` is from real token counts, per kind of text.

    python bench/token_estimate.py          # the error table (docs/routing.md)
    python bench/token_estimate.py --fit    # refit COEFFICIENTS on the fitting half (needs numpy)

Reference counts come from ``quicktok`` (PyPI ``quicktok-v1``, a test-only dependency), which ships
OpenAI's ``o200k_base`` and ``cl100k_base`` vocabularies in its wheel, so nothing is downloaded. The
sample texts are fixed files under ``bench/data/`` (so the table in docs/routing.md stays what this
prints as the repository grows: ``tests/test_docs.py`` compares them): ``estimator/prose.txt`` (the
prose of docs/*.md but the benchmark logs, 2026-12-07), ``estimator/code.txt`` (sidecar/**/*.py, the
same day), ``estimator/schema.json`` (the policy schema, the same day) followed by generated records,
``cjk_samples.txt`` (Chinese, Japanese, Korean, written for this purpose),
``multilingual_samples.txt``, and generated numbers, cut into pieces of 120 to 6,000 characters.
Even-numbered pieces fit the coefficients (``--fit``), odd-numbered ones are held out and reported.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import orjson
import quicktok

from sidecar.routing import tokens

ROOT = Path(__file__).resolve().parent.parent
SIZES = (120, 400, 1500, 6000)
EMOJI_TOKENS = 1.5  # an emoji (4-byte character) is one to two o200k tokens


def _cut(text: str, kind: str, out: list[tuple[str, str]], limit: int = 60) -> None:
    start, i = 0, 0
    while start < len(text) and i < limit:
        size = SIZES[i % len(SIZES)]
        piece = text[start : start + size]
        if len(piece) >= 40:
            out.append((kind, piece))
        start += size
        i += 1


def _numbers(rng: random.Random) -> str:
    rows = []
    for _ in range(400):
        rows.append(
            f"{rng.randint(1, 99999)},{rng.uniform(-1000, 1000):.4f},{rng.randint(2000, 2030)}-"
            f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},+1 {rng.randint(200, 999)} "
            f"{rng.randint(100, 999)} {rng.randint(1000, 9999)},{rng.random() * 1e6:.2f}"
        )
    return "\n".join(rows)


def _records(rng: random.Random) -> str:
    words = ["alpha", "beta", "invoice", "customer", "status", "open", "closed", "amount", "currency", "EUR"]
    records = [
        {
            "id": rng.randint(1, 10**6),
            "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))),
            "amount": round(rng.uniform(0, 5000), 2),
            "tags": [rng.choice(words) for _ in range(rng.randint(0, 3))],
            "active": rng.random() < 0.5,
            "address": {"city": rng.choice(["Berlin", "Lyon", "Osaka"]), "zip": f"{rng.randint(10000, 99999)}"},
        }
        for _ in range(120)
    ]
    half = len(records) // 2
    compact = orjson.dumps(records[:half]).decode()
    indented = orjson.dumps(records[half:], option=orjson.OPT_INDENT_2).decode()
    return compact + "\n" + indented


def samples() -> list[tuple[str, str]]:
    rng = random.Random(7)
    out: list[tuple[str, str]] = []
    fixed = ROOT / "bench" / "data" / "estimator"
    _cut((fixed / "prose.txt").read_text(), "English prose", out)
    _cut((fixed / "code.txt").read_text(), "Python code", out)
    _cut((fixed / "schema.json").read_text() + "\n" + _records(rng), "JSON", out)
    for name, kind in (
        ("cjk_samples.txt", "CJK (zh, ja, ko)"),
        ("multilingual_samples.txt", "ru, de, fr, es, el, emoji"),
    ):
        lines = (ROOT / "bench" / "data" / name).read_text().splitlines()
        _cut("\n".join(line for _ in range(8) for line in rng.sample(lines, len(lines))), kind, out)
    _cut(_numbers(rng), "numbers (CSV)", out)
    return out


def _fit(pieces: list[tuple[str, str]], reference: quicktok.Tokenizer) -> None:
    import numpy as np

    rows, truth = [], []
    for i, (_kind, text) in enumerate(pieces):
        if i % 2 == 0:
            count = len(reference.encode_ordinary(text))
            *counts, emoji = tokens.byte_class_counts(text.encode())
            # relative error: weigh each row by 1 / true count; too few emoji to fit theirs (fixed)
            rows.append([c / count for c in counts])
            truth.append(1.0 - EMOJI_TOKENS * emoji / count)
    fitted, *_ = np.linalg.lstsq(np.array(rows), np.array(truth), rcond=None)
    coefficients = [*fitted, EMOJI_TOKENS]
    print("COEFFICIENTS: tuple[float, ...] = (" + ", ".join(f"{c:.4f}" for c in coefficients) + ")")


def _table(pieces: list[tuple[str, str]], encodings: dict[str, quicktok.Tokenizer]) -> None:
    kinds = list(dict.fromkeys(kind for kind, _ in pieces))
    header = "| text | held-out pieces | characters |"
    for name in encodings:
        header += f" {name} tokens | error vs {name}: mean (bias), worst |"
    print(header)
    print("|---" * (3 + 2 * len(encodings)) + "|")
    for kind in kinds:
        held = [text for i, (k, text) in enumerate(pieces) if k == kind and i % 2 == 1]
        line = f"| {kind} | {len(held)} | {sum(len(t) for t in held):,} |"
        for reference in encodings.values():
            errors, total = [], 0
            for text in held:
                real = len(reference.encode_ordinary(text))
                total += real
                errors.append((tokens.estimate_tokens(text) - real) / real * 100)
            mean_abs = statistics.fmean(abs(e) for e in errors)
            bias = statistics.fmean(errors)
            worst = max(errors, key=abs)
            line += f" {total:,} | {mean_abs:.1f}% ({bias:+.1f}%), {worst:+.1f}% |"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="print coefficients fitted on the even pieces")
    args = parser.parse_args()
    pieces = samples()
    encodings = {name: quicktok.get_encoding(name) for name in ("o200k_base", "cl100k_base")}
    if args.fit:
        _fit(pieces, encodings["o200k_base"])
        return 0
    _table(pieces, encodings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
