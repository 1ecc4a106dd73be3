"""The right answer, carried in the request so that a benchmark can score what comes back.

A request states its truth in an ``x-fake-truth`` header (forwarded by the sidecar like any app header)
or in a ``[truth:SPEC]`` marker in its text (which survives translation into any dialect): the last user
text first, else anywhere in the conversation (an earlier turn, the system prompt), so a re-ask that
appends turns keeps the truth. The header wins when both are present. Grammar::

    spec   := item (";" item)*
    item   := key "=" value            values are percent-decoded: %3B for ";", %5D for "]", %25 for "%"
    keys   := answer (required)         the right answer: a label, a number, a short text
              task                      the task class the model's profile is looked up by (default "*")
              choices                   the label set, "|"-separated; wrong answers are drawn from it
              trap                      the wrong answer every wrong model gives (a shared misconception)
              id                        tells apart requests with the same text (default: the text itself)
              field                     the JSON property that carries the answer (default "answer")

Example: ``[truth:task=sentiment;answer=positive;choices=positive|negative|neutral;id=17]``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

MARKER = re.compile(r"\[truth:([^\]]*)\]")
_KEYS = frozenset(("answer", "task", "choices", "trap", "id", "field"))


@dataclass(frozen=True)
class Truth:
    """What a right answer to one request is, and how to be plausibly wrong about it."""

    answer: str
    task: str = "*"
    choices: tuple[str, ...] = ()
    trap: str | None = None
    id: str | None = None
    field: str = "answer"


def parse_truth(spec: str) -> Truth:
    """A ``Truth`` from its spec text; ``ValueError`` naming the problem."""
    values: dict[str, str] = {}
    for item in spec.split(";"):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"{item.strip()!r}: expected key=value")
        if key not in _KEYS:
            raise ValueError(f"unknown key {key!r} (one of {', '.join(sorted(_KEYS))})")
        if key in values:
            raise ValueError(f"{key} given twice")
        values[key] = urllib.parse.unquote(raw.strip())
    answer = values.get("answer")
    if not answer:
        raise ValueError("answer= is required and must not be empty")
    choices = tuple(choice for choice in values.get("choices", "").split("|") if choice)
    field = values.get("field") or "answer"
    return Truth(answer, values.get("task") or "*", choices, values.get("trap") or None, values.get("id"), field)


def strings_in(value: Any) -> str:
    """Every string inside a JSON value, joined by newlines (where to look for a marker beyond the last turn)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # roles and part types are not text
        return "\n".join(strings_in(item) for key, item in value.items() if key not in ("role", "type"))
    if isinstance(value, list):
        return "\n".join(strings_in(item) for item in value)
    return ""


def find_truth(header: str | None, text: str) -> tuple[Truth | None, str]:
    """The request's truth (header first, then the first marker in ``text``) and its spec text.

    ``(None, "")`` when there is none; ``ValueError`` when one is present but does not parse.
    """
    if header is not None and header.strip():
        return parse_truth(header), header.strip()
    if "[truth:" not in text:
        return None, ""
    match = MARKER.search(text)
    if match is None:
        raise ValueError("a [truth: marker without its closing ]")
    return parse_truth(match.group(1)), match.group(1)
