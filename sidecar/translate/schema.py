"""JSON Schema <-> Gemini ``Schema`` (the OpenAPI 3.0 subset Gemini accepts for tools and responses).

``to_gemini`` keeps the keywords Gemini documents (type, format, title, description, nullable, enum,
items, properties, required, anyOf, min/max*, pattern, default, example, propertyOrdering) and rewrites
or drops the rest:

- ``$ref`` into ``$defs``/``definitions`` is inlined (a cycle, or nesting past 32 levels, becomes a bare
  object);
- ``type: [T, "null"]`` becomes ``type: T, nullable: true``; several non-null types become ``anyOf``;
- ``const`` becomes a one-value ``enum``; ``oneOf`` becomes ``anyOf``; a one-element ``allOf`` is inlined;
- ``additionalProperties``, ``$schema``, ``$id``, ``strict``, ``examples``, ``not``, conditionals and
  formats Gemini rejects are dropped; non-string enums are dropped.

``described`` puts a response format's description on a schema's root (``to_gemini``'s output has no
other place for it). ``to_json_schema`` goes back: lower-case types, ``nullable`` as a ``"null"`` type, no
``propertyOrdering``; a keyword in snake case (``any_of``, ``max_items``...: google-genai writes them so,
and Gemini reads both spellings) is read as its camelCase form.
"""

from __future__ import annotations

from typing import Any

_KEEP = frozenset(
    (
        "title",
        "description",
        "maxItems",
        "minItems",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "default",
        "minimum",
        "maximum",
        "propertyOrdering",
    )
)
_FORMATS = {
    "STRING": frozenset(("enum", "date-time")),
    "NUMBER": frozenset(("float", "double")),
    "INTEGER": frozenset(("int32", "int64")),
}
_TYPES = frozenset(("STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"))
_MAX_DEPTH = 32
_SNAKE_KEYWORDS = {
    "any_of": "anyOf",
    "max_items": "maxItems",
    "min_items": "minItems",
    "max_length": "maxLength",
    "min_length": "minLength",
    "max_properties": "maxProperties",
    "min_properties": "minProperties",
    "property_ordering": "propertyOrdering",
}
"""The Gemini ``Schema`` keywords spelt with an underscore, as google-genai sends them."""


def to_gemini(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema as a Gemini ``Schema``."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    return _to_gemini(schema, defs if isinstance(defs, dict) else {}, (), 0)


def _to_gemini(node: Any, defs: dict[str, Any], seen: tuple[str, ...], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {"type": "OBJECT"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _inline_ref(node, ref, defs, seen, depth)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        merged = {**all_of[0], **{k: v for k, v in node.items() if k != "allOf"}}
        return _to_gemini(merged, defs, seen, depth + 1)
    out: dict[str, Any] = {}
    _add_type(out, node, defs, seen, depth)
    if "anyOf" not in out:
        _add_options(out, node, defs, seen, depth)
    _add_enum(out, node)
    _add_properties(out, node, defs, seen, depth)
    _add_items(out, node, defs, seen, depth)
    for key in _KEEP.intersection(node):
        out[key] = node[key]
    return out


def _inline_ref(
    node: dict[str, Any], ref: str, defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> dict[str, Any]:
    """``node`` with the definition ``ref`` names inlined (its own keywords win); a bare object for a
    cycle or a name not in ``defs``."""
    name = ref.rsplit("/", 1)[-1]
    target = defs.get(name)
    if target is None or name in seen:
        return {"type": "OBJECT"}
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _to_gemini(merged, defs, (*seen, name), depth + 1)


def _add_type(
    out: dict[str, Any], node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    """``type`` upper-cased, with its ``format`` when Gemini accepts it, and ``nullable``; a list of types
    is one type and ``nullable``, or ``anyOf`` when several are not null."""
    kind = node.get("type")
    nullable = bool(node.get("nullable"))
    if isinstance(kind, list):
        kinds = [str(k).upper() for k in kind if k != "null"]
        nullable = nullable or len(kinds) < len(kind)
        if len(kinds) == 1:
            kind = kinds[0]
        elif kinds:
            single = {k: v for k, v in node.items() if k != "type"}
            out["anyOf"] = [_to_gemini({**single, "type": k}, defs, seen, depth + 1) for k in kinds]
            kind = None
        else:
            kind = "NULL"
    if isinstance(kind, str):
        upper = kind.upper()
        if upper in _TYPES:
            out["type"] = upper
            fmt = node.get("format")
            if isinstance(fmt, str) and fmt in _FORMATS.get(upper, ()):
                out["format"] = fmt
    if nullable:
        out["nullable"] = True


def _add_options(
    out: dict[str, Any], node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    """``anyOf`` or ``oneOf`` as ``anyOf``: a ``null`` branch is ``nullable``, a single branch inlined."""
    options = node.get("anyOf") or node.get("oneOf")
    if not isinstance(options, list):
        return
    branches = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    if len(branches) < len(options):
        out["nullable"] = True
    if len(branches) == 1:
        out.update(_to_gemini(branches[0], defs, seen, depth + 1))
    elif branches:
        out["anyOf"] = [_to_gemini(b, defs, seen, depth + 1) for b in branches]


def _add_enum(out: dict[str, Any], node: dict[str, Any]) -> None:
    """``enum`` (``const`` as a one-value one) when every value is a string: Gemini's enums are strings."""
    enum = node.get("enum")
    if "const" in node:
        enum = [node["const"]]
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        out["enum"] = enum
        out.setdefault("type", "STRING")


def _add_properties(
    out: dict[str, Any], node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    """``properties``, each converted, and the ``required`` ones among them."""
    props = node.get("properties")
    if not isinstance(props, dict):
        return
    out["properties"] = {k: _to_gemini(v, defs, seen, depth + 1) for k, v in props.items()}
    out.setdefault("type", "OBJECT")
    required = node.get("required")
    if isinstance(required, list):
        kept = [r for r in required if r in props]
        if kept:
            out["required"] = kept


def _add_items(
    out: dict[str, Any], node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    """``items`` converted (a tuple's first item schema stands for all)."""
    items = node.get("items")
    if isinstance(items, list):
        items = items[0] if items else None
    if isinstance(items, dict):
        out["items"] = _to_gemini(items, defs, seen, depth + 1)
        out.setdefault("type", "ARRAY")


def to_json_schema(node: Any) -> dict[str, Any]:
    """A Gemini ``Schema`` as JSON Schema."""
    if not isinstance(node, dict):
        return {}
    out: dict[str, Any] = {}
    for raw_key, value in node.items():
        key: str = _SNAKE_KEYWORDS.get(raw_key) or raw_key
        if key == "type":
            if isinstance(value, str) and value.upper() != "TYPE_UNSPECIFIED":
                out["type"] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: to_json_schema(v) for k, v in value.items()}
        elif key == "items":
            out["items"] = to_json_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out["anyOf"] = [to_json_schema(v) for v in value]
        elif key not in ("nullable", "propertyOrdering"):
            out[key] = value
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"].append({"type": "null"})
    return out


def object_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A tool's parameter schema as a JSON Schema object (Anthropic requires ``type: object``)."""
    if not schema:
        return {"type": "object", "properties": {}}
    if schema.get("type") == "object":
        return schema
    return {**schema, "type": "object"}


def described(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    """``schema`` with ``description`` (what an OpenAI ``response_format.json_schema.description`` says the
    answer is for) on its root, before the root's own description when it has one: Gemini's response
    schema has no other place for it, and the model reads both."""
    if not description:
        return schema
    own = schema.get("description")
    return {**schema, "description": f"{description}\n\n{own}" if own else description}
