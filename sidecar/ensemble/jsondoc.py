"""JSON inside model answers: reading it, its canonical form, and a small path language.

- ``parse_json``      the answer's JSON value (one surrounding ```json fence allowed), or ``NOT_JSON``
- ``canonical_json``  sorted keys, compact, integral floats as integers: equal values, equal strings
- ``parse_path``      ``label``, ``result.items[0].name``, ``$.a["dotted.key"]`` -> steps, once at policy
                      load (``ValueError`` naming the problem)
- ``walk``            follows the steps through a value; ``MISSING`` when a step does not exist
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)\s*```", re.DOTALL)

_STEP = re.compile(r'\.?(?:\["(?P<quoted>[^"]*)"\]|\[(?P<index>\d+)\]|(?P<name>[^.\[\]"]+))')


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
NOT_JSON: Final[Any] = object()
Step = str | int


def parse_json(text: str) -> Any:
    """The JSON value of an answer (inside a ```json fence if the whole answer is one), or ``NOT_JSON``."""
    body = text.strip()
    fenced = _FENCE.fullmatch(body)
    if fenced is not None:
        body = fenced.group(1)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return NOT_JSON


def canonical_json(value: Any) -> str:
    """Sorted keys, compact, 1.0 as 1: equal JSON values give equal strings."""
    return orjson.dumps(_integral(value), option=orjson.OPT_SORT_KEYS).decode()


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a path: keys (str) and list indexes (int)."""
    rest = text.strip()
    if rest.startswith("$"):
        rest = rest[1:]
    elif rest.startswith("."):
        raise ValueError(f"path {text!r}: a key must come before the first '.'")
    steps: list[Step] = []
    at = 0
    while at < len(rest):
        match = _STEP.match(rest, at)
        if match is None or match.end() == at:
            raise ValueError(f"path {text!r}: unexpected {rest[at:]!r}")
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("quoted") if match.group("quoted") is not None else match.group("name"))
        at = match.end()
    if not steps:
        raise ValueError("path: empty")
    return tuple(steps)


def walk(value: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` inside ``value``, or ``MISSING``."""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return MISSING
        elif not isinstance(value, dict) or step not in value:
            return MISSING
        value = value[step]
    return value
