"""Hypothesis strategies for JSON that parses but lies about its shape: hostile values (every JSON type,
huge integers, NaN-like strings, lone surrogates, RTL, NUL, deep nesting, parts of unknown types, odd
tool schemas) and ``mutated(body)``, a valid body with a few of its fields replaced, removed, emptied,
added or reordered. ``dumps`` writes a body as the wire carries it: ASCII JSON, where a lone surrogate
is the escape ``\\ud800`` (a Python ``str`` holding one cannot be encoded otherwise).

``fuzz_settings(examples)``: the settings of every fuzz test (derandomized, no example database: CI runs
the same examples every time; the stack is a fixture shared by a test's examples). The checks every
fuzz test shares: ``error_shape_problem(dialect, status, body)`` (None when an error
body is in the caller's dialect's shape) and ``logged_faults(lines)`` (error-level or traceback lines).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ODD_STRINGS = (
    "",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "null",
    "\ud800",  # a lone surrogate: ``\ud800`` on the wire
    "a\udfffb",
    "\u202eevil\u202c",  # right-to-left override
    "\u0627\u0644\u0633\u0644\u0627\u0645",  # Arabic
    "a\x00b",
    "\x00",
    "🦀" * 3,
    " ",
    "{",
    '{"a": 1}',
    "data:image/png;base64,@@@",
    "data:;base64,",
    "http://",
    "get weather!",
    "x" * 9000,  # past an HTTP client's 8 KiB header line, were it echoed in a header
    "\u00e9\n" * 1500,  # percent-encoded in a header: 9 KiB
)
ODD_NUMBERS = (0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**30, 1e308, -1e308, 0.5, -0.0, 1e-320)
ODD_PARTS = (
    {"type": "nope"},
    {"type": None},
    {"type": 7},
    {"type": "text"},
    {"type": "text", "text": None},
    {"type": "image_url"},
    {"type": "image_url", "image_url": "http://x"},
    {"type": "image_url", "image_url": {"url": 5}},
    {"type": "input_audio", "input_audio": {"data": "@@", "format": "wav"}},
    {"type": "image", "source": {"type": "base64"}},
    {"type": "image", "source": {"type": "url", "url": None}},
    {"type": "document", "source": {"type": "text", "data": 5}},
    {"type": "tool_use"},
    {"type": "tool_use", "id": None, "name": 5, "input": "x"},
    {"type": "tool_result"},
    {"type": "tool_result", "tool_use_id": "zz", "content": [{"type": "nope"}]},
    {"type": "thinking", "thinking": 5},
    {"type": "redacted_thinking"},
    {"inlineData": {"mimeType": 5, "data": "@@"}},
    {"inlineData": None},
    {"fileData": {"fileUri": None}},
    {"functionCall": {"name": None, "args": "x"}},
    {"functionCall": {}},
    {"functionResponse": {"name": 5, "response": 5}},
    {"functionResponse": {}},
    {"executableCode": {"code": 5}},
    {"text": 5},
    {"thought": True},
    {},
)
ODD_SCHEMAS = (
    {"type": "object", "properties": None},
    {"type": "object", "properties": {"a": None}},
    {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": "a"},
    {"type": ["object", "array"]},
    {"type": "nope"},
    {"type": 5},
    {"$ref": "#/definitions/x"},
    {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}},
    {"anyOf": None},
    {"anyOf": [5, None]},
    {"allOf": [{"type": "string"}, {"type": "number"}]},
    {"enum": [None, {}, []]},
    {"enum": "x"},
    {"type": "array", "items": 5},
    {"type": "array", "items": [{"type": "string"}]},
    {"type": "OBJECT", "properties": {"a": {"type": "STRING", "nullable": "yes"}}},
    {"properties": {"": {}}},
    {"format": 5, "pattern": "("},
    {"additionalProperties": "no"},
    True,
    False,
)
ODD_MESSAGES = (
    {"role": "tool", "content": "orphan", "tool_call_id": "nobody"},
    {"role": "assistant", "tool_calls": []},
    {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}]},
    {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{not json"}}]},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nobody", "content": "x"}]},
    {"role": "system", "content": "late system"},
    {"role": "developer", "content": [{"type": "text", "text": "d"}]},
    {"role": "function", "name": "f", "content": "x"},
    {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "nobody", "response": {}}}]},
    {"role": "nope", "content": "x"},
    {"role": None},
    {},
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


_keys = st.sampled_from(["a", "type", "text", "role", "content", "", "\ud800", "$ref", "__proto__", "x" * 300])
_scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(ODD_NUMBERS)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(ODD_STRINGS)
    | st.text(max_size=12)
)
json_values = st.recursive(
    _scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(_keys, c, max_size=3), max_leaves=6
)
hostile_values = (  # copied: ``mutated`` may change a value it inserted, never the constants above
    json_values
    | st.sampled_from(ODD_PARTS)
    | st.sampled_from(ODD_SCHEMAS)
    | st.sampled_from(ODD_MESSAGES)
    | st.lists(st.sampled_from(ODD_PARTS), min_size=1, max_size=3)
    | st.integers(20, 300).map(_nested)
).map(copy.deepcopy)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (the root included), depth first."""
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``body`` with one to three fields replaced by a hostile value, removed, emptied, given an unknown
    field (or thousands), an odd item, or reordered (a list reversed). Top-level fields in ``keep`` stay as they are
    (``model``: a request routed nowhere checks nothing past the router)."""
    out = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(out) if not (p and p[0] in keep)]
        path = draw(st.sampled_from(paths))
        node = _at(out, path)
        ops = ["replace"]
        if path:
            ops.append("remove")
        if isinstance(node, dict):
            ops += ["empty", "unknown field", "many unknown fields"]
        if isinstance(node, list):
            ops += ["empty", "odd item", "reverse"]
        op = draw(st.sampled_from(ops))
        if op == "unknown field":
            node[draw(_keys)] = draw(hostile_values)
        elif op == "many unknown fields":
            node.update({f"field_{i}": i for i in range(draw(st.integers(500, 3000)))})
        elif op == "odd item":
            node.insert(draw(st.integers(0, len(node))), draw(hostile_values))
        elif op == "reverse":
            node.reverse()
        elif op == "empty":
            node.clear()
        elif not path:
            if op == "replace":
                return {"__body__": draw(hostile_values)}  # the body itself: not an object
        elif op == "remove":
            del _at(out, path[:-1])[path[-1]]
        else:
            _at(out, path[:-1])[path[-1]] = draw(hostile_values)
    return out


def dumps(body: dict[str, Any]) -> bytes:
    """The body as ASCII JSON (``{"__body__": v}`` from ``mutated`` is ``v`` itself)."""
    value = body["__body__"] if set(body) == {"__body__"} else body
    return json.dumps(value, ensure_ascii=True).encode()


PYTHON_TEXT = re.compile(
    r"' object|<class|not iterable|unhashable|has no attribute|subscriptable|indices must"
    r"|\bNone\b|\bTrue\b|\bFalse\b|\{'|\['"
)
"""Python's words for a value or an error, which a message to an app must never carry."""
MESSAGE_CHARS = 2000
"""The longest error message a hostile body may make: a clear error names a field, it does not quote it."""


def error_shape_problem(dialect: str, status: int, body: Any) -> str | None:
    """None when ``body`` is an error body of the ``dialect`` caller's shape with a message of at most
    ``MESSAGE_CHARS`` and no Python text, else what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return f"not an error envelope: {body!r:.300}"
    error = body["error"]
    if not isinstance(error.get("message"), str):
        return f"no message: {body!r:.300}"
    if PYTHON_TEXT.search(error["message"]):
        return f"Python's text in the message: {error['message']:.300}"
    if len(error["message"]) > MESSAGE_CHARS:
        return f"a message of {len(error['message'])} characters: {error['message']:.300}"
    if dialect == "openai" and not ({"type", "param", "code"} <= set(error)):
        return f"not OpenAI's error shape: {body!r:.300}"
    if dialect == "anthropic" and not (body.get("type") == "error" and isinstance(error.get("type"), str)):
        return f"not Anthropic's error shape: {body!r:.300}"
    if dialect == "gemini" and not (error.get("code") == status and isinstance(error.get("status"), str)):
        return f"not Gemini's error shape: {body!r:.300}"
    return None


def logged_faults(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log lines at error level or above, or carrying a traceback."""
    return [line for line in lines if line.get("level") in ("error", "critical") or "traceback" in line]


def fuzz_settings(examples: int) -> settings:
    """A fuzz test's settings: ``examples`` derandomized examples, no deadline and no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
