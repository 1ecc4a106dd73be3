"""Values that satisfy a JSON Schema's required properties: the fake model's tool arguments and JSON.

Strings ``"test"``, numbers ``1``, booleans ``true``, enums their first value, arrays ``[]``, objects
filled the same way. Gemini's upper-case type names are read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def example_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An object satisfying the schema's required properties: strings "test", numbers 1, booleans true."""
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    return {name: _example(properties.get(name) or {}) for name in required if isinstance(name, str)}


def example_value(schema: Mapping[str, Any]) -> Any:
    """A value of the schema's type (an object's required properties filled as above): the JSON text an
    ungraded answer gives when JSON was asked, as a provider's structured output always parses."""
    return _example(schema)


def _example(schema: Mapping[str, Any]) -> Any:
    enum_values = schema.get("enum")
    if isinstance(enum_values, list) and enum_values:
        return enum_values[0]
    kind = schema.get("type", "string")
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
        return example_arguments(schema)
    if kind == "null":
        return None
    return "test"
