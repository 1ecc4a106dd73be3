"""Values that satisfy a JSON Schema's required properties: the fake model's tool arguments and JSON.

Strings ``"test"``, numbers ``1``, booleans ``true``, enums their first value, arrays ``[]``, objects
filled the same way. Gemini's upper-case type names are read too. A local ``$ref`` (``#/$defs/Item``,
as pydantic writes a nested model) is followed in the root schema, ``anyOf`` / ``oneOf`` take their
first branch that is not null and a one-branch ``allOf`` its branch, as a provider's structured output
answers them; a schema nested deeper than ``MAX_DEPTH`` (a recursive model) gets an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 8


def example_arguments(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An object satisfying the schema's required properties: strings "test", numbers 1, booleans true
    (``root``: the schema its ``$ref`` point into; the schema itself when not given)."""
    return _object(schema, schema if root is None else root, 0)


def example_value(schema: Mapping[str, Any]) -> Any:
    """A value of the schema's type (an object's required properties filled as above): the JSON text an
    ungraded answer gives when JSON was asked, as a provider's structured output always parses."""
    return _example(schema, schema, 0)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    schema = _resolved(schema, root)
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if depth > MAX_DEPTH:
        return {}
    return {name: _example(properties.get(name) or {}, root, depth + 1) for name in required if isinstance(name, str)}


def _resolved(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with its local ``$ref`` followed, a union's first non-null branch taken (a few hops)."""
    for _ in range(MAX_DEPTH):
        ref = schema.get("$ref")
        branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("any_of")
        every = schema.get("allOf")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for key in ref[2:].split("/"):
                target = target.get(key) if isinstance(target, Mapping) else None
            if not isinstance(target, Mapping):
                return schema
            schema = target
        elif isinstance(branches, list) and branches and isinstance(branches[0], Mapping):
            schema = next((b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"), branches[0])
        elif isinstance(every, list) and len(every) == 1 and isinstance(every[0], Mapping):
            schema = every[0]
        else:
            return schema
    return schema


def _example(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    schema = _resolved(schema, root)
    enum_values = schema.get("enum")
    if isinstance(enum_values, list) and enum_values:
        return enum_values[0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):  # ["string", "null"]
        kind = next((item for item in kind if item != "null"), "string")
    kind = str(kind).lower()  # Gemini spells types in upper case
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "null":
        return None
    return "test"
