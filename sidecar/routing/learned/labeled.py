"""Labeled examples for the trainer and ``router eval``: one JSON object per line.

Each line holds the request in one of three forms, and at least one label::

    {"text": "Prove that sqrt(2) is irrational.", "task": "math", "complexity": "complex"}
    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}], "task": "..."}
    {"body": {...a request body...}, "dialect": "anthropic", "operation": "chat", "complexity": "simple"}

``text`` may come with ``system``. ``messages`` are OpenAI chat messages. ``body`` is any body the
sidecar serves, read by the same feature extraction as live traffic, so tools, images and JSON modes
in the examples train the model's fact features. Blank lines and lines starting with ``#`` are
skipped; every problem is reported with its line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ...dialects import Dialect, Operation
from ...dialects.registry import dialect_named
from ..errors import RoutingError
from ..features import RequestFeatures, extract_features

HEADS = ("task", "complexity")


class LabeledFileError(RoutingError):
    """A labeled file that cannot be used."""


@dataclass(frozen=True, slots=True)
class Labeled:
    line: int
    features: RequestFeatures
    labels: dict[str, str]  # head name -> label


def _request(record: dict[str, Any]) -> tuple[dict[str, Any], Dialect, Operation]:
    if "body" in record:
        body = record["body"]
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        return body, dialect_named(record.get("dialect", "openai")), Operation(record.get("operation", "chat"))
    if "messages" in record:
        if not isinstance(record["messages"], list):
            raise ValueError("messages must be a list")
        return {"messages": record["messages"]}, Dialect.OPENAI, Operation.CHAT
    text = record.get("text")
    if not isinstance(text, str) or not text:
        raise ValueError("needs text, messages or body")
    messages = [{"role": "user", "content": text}]
    if isinstance(record.get("system"), str):
        messages.insert(0, {"role": "system", "content": record["system"]})
    return {"messages": messages}, Dialect.OPENAI, Operation.CHAT


def parse_line(raw: bytes, line: int) -> Labeled:
    record = orjson.loads(raw)
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    labels = {}
    for head in HEADS:
        value = record.get(head)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{head} must be a non-empty string")
            labels[head] = value
    if not labels:
        raise ValueError("no label: set task, complexity or both")
    body, dialect, operation = _request(record)
    return Labeled(line, extract_features(body, dialect, operation), labels)


def read_labeled(path: str | Path) -> list[Labeled]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise LabeledFileError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    examples, errors = [], []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith(b"#"):
            continue
        try:
            examples.append(parse_line(raw, number))
        except (ValueError, orjson.JSONDecodeError) as exc:
            errors.append(f"{path}:{number}: {exc}")
    if errors:
        raise LabeledFileError(errors)
    if not examples:
        raise LabeledFileError([f"{path}: no examples"])
    return examples
