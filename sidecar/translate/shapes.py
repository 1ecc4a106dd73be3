"""The JSON types of a dialect's documented request fields, to say in words which field a translator
could not read.

A translator reads a body as its API documents it and trusts the types: a field of the wrong JSON type
(``"content": 42``) fails deep inside it with a Python error (``'int' object is not iterable``), which
must never reach the caller. When a translation fails so, the facade asks ``mismatch(body, shape)`` for
the first documented field whose JSON type is wrong and answers with it:
``messages[0].content: must be a string or an array, not a number``. Only the failure path pays for
it; a request that translates is never walked twice.

A shape is a ``Json``: the JSON types a value may have and, for an object, the shapes of the fields
it documents (fields not listed are not checked: unknown fields are each translator's business), for
an array the shape of every item. ``OBJECT(...)``, ``ARRAY(...)``, ``STRING``, ``NUMBER``,
``INTEGER``, ``BOOLEAN``, ``NULL`` build them; ``a | b`` allows either. Each dialect's package holds
its chat request's shape (``shape.CHAT_REQUEST``), in its own field names, so the path is the one the
caller wrote.

Scalar settings are the exception: a translator copies ``max_tokens``, ``temperature``,
``generationConfig.topP``... unread, so a wrong type (``"max_tokens": "5"``) did not fail here but at
the upstream, whose 400 named its own field (``max_completion_tokens``, ``maxOutputTokens``). So every
translated body is checked against ``settings_of(shape)``: the shape's scalar fields, also inside its
objects but not inside arrays, each also allowed null, as ``setting_rules`` for ``breaks`` (a few dict
lookups over the body's keys, not a walk of the messages; ``mismatch`` words the field only when one breaks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orjson import Fragment

_ARTICLES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class Json:
    """The JSON types a value may have, the shapes of an object's documented fields, an array's items."""

    kinds: tuple[str, ...]
    fields: Mapping[str, Json] = field(default_factory=dict)
    items: Json | None = None

    def __or__(self, other: Json) -> Json:
        return Json(
            (*self.kinds, *(k for k in other.kinds if k not in self.kinds)),
            {**self.fields, **other.fields},
            self.items or other.items,
        )

    def says(self) -> str:
        """The types allowed, in words: ``a string or an array``."""
        return " or ".join(_ARTICLES[kind] for kind in self.kinds)


# Upper case: reads as the JSON type it stands for.
def OBJECT(**fields: Json) -> Json:
    return Json(("object",), fields)


def ARRAY(items: Json | None = None) -> Json:
    return Json(("array",), items=items)


STRING = Json(("string",))
NUMBER = Json(("number",))
INTEGER = Json(("integer",))
BOOLEAN = Json(("boolean",))
NULL = Json(("null",))


def kind_of(value: Any) -> str:
    """The JSON type of a parsed value (an integral number is both ``integer`` and ``number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Fragment)) or (isinstance(value, float) and value.is_integer()):
        return "integer"  # a Fragment is an integer beyond 64 bits, read exactly (``numbers``)
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def said_kind(value: Any) -> str:
    """The JSON type of ``value`` in words: ``a string``, ``an object``, ``null``."""
    kind = kind_of(value)
    return "a number" if kind == "integer" else _ARTICLES[kind]


def _fits(kind: str, allowed: tuple[str, ...]) -> bool:
    return kind in allowed or (kind == "integer" and "number" in allowed)


_CONTAINERS = frozenset(("object", "array"))


def settings_of(shape: Json) -> Json:
    """The scalar fields of ``shape`` (numbers, strings, booleans; each also allowed null), also inside
    its objects' documented fields, not inside arrays: what ``mismatch`` checks of every translated body."""
    fields: dict[str, Json] = {}
    for name, inner in shape.fields.items():
        if inner.fields:
            nested = settings_of(inner)
            if nested.fields:
                fields[name] = nested | NULL
        elif inner.items is None and not _CONTAINERS.intersection(inner.kinds):
            fields[name] = inner | NULL
    return Json(shape.kinds, fields)


_PYTHON_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float, Fragment),
    "integer": (int, Fragment),  # an integer beyond 64 bits, read exactly (``numbers``)
    "boolean": (bool,),
    "null": (type(None),),
}


@dataclass(frozen=True, slots=True)
class SettingRule:
    """One settings field as ``breaks`` checks it: the Python types its JSON types parse to, whether a float
    of integral value passes (an integer field), and an object's own rules."""

    types: frozenset[type]
    integral: bool
    inner: Mapping[str, SettingRule] | None


def setting_rules(settings: Json) -> dict[str, SettingRule]:
    """``settings`` (``settings_of``) as rules by field name, for ``breaks``."""
    return {
        name: SettingRule(
            frozenset(kind for json_kind in inner.kinds for kind in _PYTHON_TYPES[json_kind]),
            "integer" in inner.kinds,
            setting_rules(inner) if inner.fields else None,
        )
        for name, inner in settings.fields.items()
    }


def breaks(value: Mapping[str, Any], rules: Mapping[str, SettingRule]) -> bool:
    """Whether a field ``rules`` names holds a value of another JSON type: a few dict lookups over the
    body's own keys (``mismatch`` then says which field, in words)."""
    for key, item in value.items():
        rule = rules.get(key)
        if rule is None:
            continue
        kind = type(item)
        if kind in rule.types:
            if rule.inner is not None and kind is dict and breaks(item, rule.inner):
                return True
        elif not (rule.integral and kind is float and item.is_integer()):
            return True
    return False


def mismatch(value: Any, shape: Json, path: str = "") -> str | None:
    """``path: must be <types>, not <type>`` for the first documented field of the wrong JSON type in
    ``value``, depth first in the order the shape lists them; None when every one fits."""
    kind = kind_of(value)
    if not _fits(kind, shape.kinds):
        actual = "a number" if kind == "integer" and "integer" not in shape.kinds else _ARTICLES[kind]
        return f"{path or 'the body'}: must be {shape.says()}, not {actual}"
    if kind == "object":
        for name, inner in shape.fields.items():
            if name in value:
                found = mismatch(value[name], inner, f"{path}.{name}" if path else name)
                if found is not None:
                    return found
    elif kind == "array" and shape.items is not None:
        for index, item in enumerate(value):
            found = mismatch(item, shape.items, f"{path}[{index}]")
            if found is not None:
                return found
    return None
