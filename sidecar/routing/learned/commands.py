"""``llm-sidecar router train`` and ``llm-sidecar router eval`` (docs/cli.md).

router train LABELED.jsonl -o router.json [--holdout 0.2] [--epochs N] [--seed S]
    fit on the examples minus a held-out share, print what the examples cannot teach (a head with one
    label, a label only held out) and the held-out accuracy per head and label, write the router file
    (a temporary file renamed over it: a watching sidecar never reads half of it); exit 1 listing every
    bad line of the labeled file, or when the output's directory does not exist (before training)
router eval --model router.json LABELED.jsonl
    accuracy per head and label and the confusion matrix on other examples (a label or a head the
    model does not have is said)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from .labeled import HEADS, LabeledFileError, read_labeled
from .model import MAX_FILE_BYTES, RouterFileError, load_model, parse_model
from .train import TrainOptions, evaluate, fit, format_report, label_notes, split

EXIT_OK, EXIT_INVALID = 0, 1
_DEFAULTS = TrainOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="router_command", metavar="{train,eval}", required=True)
    train = commands.add_parser("train", help="fit a router file on labeled examples")
    train.add_argument("labeled", help="JSONL: one {text|messages|body, task, complexity} per line")
    train.add_argument("-o", "--output", required=True, help="the router file to write")
    train.add_argument(
        "--holdout", type=float, default=0.2, help="share held out for the report, 0 to 0.9 (default %(default)s)"
    )
    train.add_argument(
        "--epochs", type=int, default=_DEFAULTS.epochs, help="passes over the examples (default %(default)s)"
    )
    train.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        help="seed of the held-out draw and the training (default %(default)s)",
    )
    train.set_defaults(func=cmd_train)
    evaluate_ = commands.add_parser("eval", help="accuracy and confusion matrix of a router file")
    evaluate_.add_argument("--model", required=True, help="a router file")
    evaluate_.add_argument("labeled", help="JSONL labeled examples")
    evaluate_.set_defaults(func=cmd_eval)


def _fail(errors: list[str]) -> int:
    for error in errors:
        print(error, file=sys.stderr)
    return EXIT_INVALID


def cmd_train(args: argparse.Namespace) -> int:
    if not 0 <= args.holdout <= 0.9 or args.epochs < 1:
        return _fail(["llm-sidecar router train: --holdout is 0 to 0.9, --epochs at least 1"])
    output = Path(args.output)
    if not output.parent.is_dir():
        return _fail([f"llm-sidecar router train: cannot write {output}: {output.parent} is not a directory"])
    try:
        examples = read_labeled(args.labeled)
    except LabeledFileError as exc:
        return _fail(exc.errors)
    training, held_out = split(examples, args.holdout, args.seed)
    try:
        document = fit(training, TrainOptions(epochs=args.epochs, seed=args.seed))
    except ValueError as exc:
        where = "in the examples"
        if held_out:
            where = (
                f"in the training share ({len(training)} of {len(examples)} examples;"
                f" --holdout {args.holdout:g} held out {len(held_out)})"
            )
        return _fail([f"llm-sidecar router train: {exc} {where}"])
    model = parse_model(orjson.dumps(document), args.output)
    print(f"trained on {len(training)} examples, {document['training']['grams']} n-grams kept")
    for note in label_notes(examples, training):
        print(note)
    if held_out:
        reports = evaluate(model, held_out)
        document["training"]["held_out"] = {r.head: round(r.correct / r.total, 4) for r in reports if r.total}
        print(format_report(reports, "held-out"))
    data = orjson.dumps(document)
    if len(data) > MAX_FILE_BYTES:
        return _fail([f"llm-sidecar router train: the model is {len(data):,} bytes, more than a sidecar loads"])
    try:
        _write(output, data)
    except OSError as exc:
        return _fail([f"llm-sidecar router train: cannot write {output}: {exc.strerror or exc}"])
    print(f"wrote {args.output}")
    return EXIT_OK


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        model = load_model(args.model)
    except RouterFileError as exc:
        return _fail([f"{args.model}: {e}" for e in exc.errors])
    try:
        examples = read_labeled(args.labeled)
    except LabeledFileError as exc:
        return _fail(exc.errors)
    print(format_report(evaluate(model, examples), "eval", confusion=True))
    for head in HEADS:
        unscored = sum(head in e.labels for e in examples)
        if unscored and head not in {h.name for h in model.heads}:
            print(f"{head}: the model has no {head} head: {unscored} labels not scored")
    return EXIT_OK
