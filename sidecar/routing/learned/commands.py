"""``llm-sidecar router train`` and ``llm-sidecar router eval`` (docs/cli.md).

router train LABELED.jsonl -o router.json [--holdout 0.2] [--epochs N] [--seed S]
    fit on the examples minus a held-out share, print the held-out accuracy per head and label,
    write the router file; exit 1 listing every bad line of the labeled file
router eval --model router.json LABELED.jsonl
    accuracy per head and label and the confusion matrix on other examples
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from .labeled import LabeledFileError, read_labeled
from .model import RouterFileError, load_model, parse_model
from .train import TrainOptions, evaluate, fit, format_report, split

EXIT_OK, EXIT_INVALID = 0, 1
_DEFAULTS = TrainOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="router_command", required=True)
    train = commands.add_parser("train", help="fit a router file on labeled examples")
    train.add_argument("labeled", help="JSONL: one {text|messages|body, task, complexity} per line")
    train.add_argument("-o", "--output", required=True, help="the router file to write")
    train.add_argument("--holdout", type=float, default=0.2, help="share held out for the report (0 to 0.9)")
    train.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    train.add_argument("--seed", type=int, default=_DEFAULTS.seed)
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
    try:
        examples = read_labeled(args.labeled)
    except LabeledFileError as exc:
        return _fail(exc.errors)
    training, held_out = split(examples, args.holdout, args.seed)
    try:
        document = fit(training, TrainOptions(epochs=args.epochs, seed=args.seed))
    except ValueError as exc:
        return _fail([f"llm-sidecar router train: {exc}"])
    model = parse_model(orjson.dumps(document), args.output)
    print(f"trained on {len(training)} examples, {document['training']['grams']} n-grams kept")
    if held_out:
        reports = evaluate(model, held_out)
        document["training"]["held_out"] = {r.head: round(r.correct / r.total, 4) for r in reports if r.total}
        print(format_report(reports, "held-out"))
    Path(args.output).write_bytes(orjson.dumps(document))
    print(f"wrote {args.output}")
    return EXIT_OK


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
    return EXIT_OK
