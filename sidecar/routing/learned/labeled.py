"""Labeled examples for the trainer and ``router eval``: one JSON object per line.

Each line holds the request in one of three forms, and at least one label::

    {"text": "Prove that sqrt(2) is irrational.", "task": "math", "complexity": "complex"}
    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}], "task": "..."}
    {"body": {...a request body...}, "dialect": "anthropic", "operation": "chat", "complexity": "simple"}

``text`` may come with ``system``. ``messages`` are OpenAI chat messages. ``body`` is any body the
sidecar serves, read by the same feature extraction as live traffic, so tools, images and JSON modes
in the examples train the model's fact features. Labels are class and level names as the policy
spells them (``spec.NAME_PATTERN``: "Math" is refused, not trained as a class beside "math").

The file is read line by line (a large file is never held whole), as UTF-8 with or without a byte
order mark, LF or CRLF; a UTF-16 file (PowerShell 5's ``>``) or a byte that is not UTF-8 is said
so. Blank lines and lines starting with ``#`` are skipped; anything else a line holds that the
reader does not know (a misspelt label, ``dialect`` without ``body``, an empty text, a body with no
messages in its ``dialect``: a Gemini body read as OpenAI) is an error with its line number, every
one of the file reported at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ...dialects import Dialect, Operation
from ...dialects.registry import dialect_named
from ..errors import RoutingError
from ..features import RequestFeatures, extract_features
from ..spec import NAME_PATTERN

HEADS = ("task", "complexity")
_FORMS = ("text", "messages", "body")
_KEYS = ("text", "system", "messages", "body", "dialect", "operation", *HEADS)
_WHAT = {"task": "class", "complexity": "level"}
_NAME = re.compile(NAME_PATTERN)
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # PowerShell 5's `>` writes UTF-16
_OPERATIONS = {operation.value: operation for operation in Operation}


class LabeledFileError(RoutingError):
    """A labeled file that cannot be used."""


@dataclass(frozen=True, slots=True)
class Labeled:
    line: int
    features: RequestFeatures
    labels: dict[str, str]  # head name -> label


def _operation(value: object) -> Operation:
    found = _OPERATIONS.get(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"operation {value!r} is not one of {', '.join(_OPERATIONS)}")
    return found


def _messages(messages: object) -> list[Any]:
    if not isinstance(messages, list):
        raise ValueError("messages must be a list")
    if not messages:
        raise ValueError("messages is empty")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError(f"messages[{i}] is not an object with a role")
    return messages


def _request(record: dict[str, Any]) -> tuple[dict[str, Any], Dialect, Operation]:
    forms = [form for form in _FORMS if form in record]
    if len(forms) > 1:
        raise ValueError("text, messages and body are three forms of the request: give one")
    if not forms:
        raise ValueError("needs text, messages or body")
    if forms[0] != "body" and ("dialect" in record or "operation" in record):
        raise ValueError("dialect and operation go with body")
    if forms[0] != "text" and "system" in record:
        raise ValueError("system goes with text (messages and body carry their own)")
    if forms[0] == "body":
        body = record["body"]
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        return body, dialect_named(record.get("dialect", "openai")), _operation(record.get("operation", "chat"))
    if forms[0] == "messages":
        return {"messages": _messages(record["messages"])}, Dialect.OPENAI, Operation.CHAT
    text = record["text"]
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    if not text.strip():
        raise ValueError("text is empty")
    messages = [{"role": "user", "content": text}]
    if "system" in record:
        if not isinstance(record["system"], str):
            raise ValueError("system must be a string")
        messages.insert(0, {"role": "system", "content": record["system"]})
    return {"messages": messages}, Dialect.OPENAI, Operation.CHAT


def _label(head: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{head} must be a non-empty string")
    if not _NAME.match(value):
        hint = f": {value.lower()!r}?" if _NAME.match(value.lower()) else ""
        raise ValueError(f"{head} {value!r} is not a {_WHAT[head]} name (lowercase letters, digits, _ . -){hint}")
    return value


def parse_line(raw: bytes, line: int) -> Labeled:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode()
        except UnicodeDecodeError as bad:
            raise ValueError(
                f"not UTF-8: byte 0x{raw[bad.start]:02x} at column {bad.start + 1}; save the file as UTF-8"
            ) from None
        raise ValueError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    unknown = [key for key in record if key not in _KEYS]
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ValueError(
            f"unknown key {names} (a line has text, system, messages or body, dialect, operation, task, complexity)"
        )
    labels = {head: _label(head, record[head]) for head in HEADS if record.get(head) is not None}
    if not labels:
        raise ValueError("no label: set task, complexity or both")
    body, dialect, operation = _request(record)
    features = extract_features(body, dialect, operation)
    if not features.turns and not features.system_text:
        read_as = f"dialect {dialect}, operation {operation}"
        raise ValueError(f"the body has no messages read as {read_as}: is dialect right?")
    return Labeled(line, features, labels)


def read_labeled(path: str | Path) -> list[Labeled]:
    examples, errors = [], []
    try:
        with open(path, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                elif number == 1 and raw.startswith(_UTF16_BOMS):
                    raise LabeledFileError([f"{path}: the file is UTF-16 (its byte order mark): save it as UTF-8"])
                raw = raw.rstrip(b"\r\n")
                if not raw.strip() or raw.lstrip().startswith(b"#"):
                    continue
                try:
                    examples.append(parse_line(raw, number))
                except ValueError as exc:
                    errors.append(f"{path}:{number}: {exc}")
    except OSError as exc:
        raise LabeledFileError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    if errors:
        raise LabeledFileError(errors)
    if not examples:
        raise LabeledFileError([f"{path}: no examples"])
    return examples
