"""JSON Schema <-> Gemini Schema conversion edge cases."""

from __future__ import annotations

from sidecar.translate.schema import object_schema, to_gemini, to_json_schema


def test_recursive_ref_stops() -> None:
    """A self-referencing $ref is inlined once and then cut to a bare object (no infinite recursion)."""
    schema = {
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    assert to_gemini(schema) == {"type": "OBJECT", "properties": {"child": {"type": "OBJECT"}}}


def test_one_of_and_all_of() -> None:
    """oneOf becomes anyOf; a one-element allOf is inlined; several non-null types become anyOf."""
    assert to_gemini({"oneOf": [{"type": "string"}, {"type": "integer"}]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]
    }
    assert to_gemini({"allOf": [{"type": "string", "title": "T"}], "description": "d"}) == {
        "type": "STRING",
        "title": "T",
        "description": "d",
    }
    assert to_gemini({"type": ["string", "integer", "null"]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}],
        "nullable": True,
    }


def test_rejected_keywords_and_formats_dropped() -> None:
    """Non-string enums, unknown formats, exclusive bounds and examples are dropped; known ones kept."""
    assert to_gemini(
        {
            "type": "integer",
            "enum": [1, 2],
            "format": "int64",
            "exclusiveMinimum": 0,
            "examples": [1],
            "minimum": 1,
        }
    ) == {"type": "INTEGER", "format": "int64", "minimum": 1}
    assert to_gemini({"type": "string", "format": "uri"}) == {"type": "STRING"}


def test_tuple_items_and_implicit_types() -> None:
    """Tuple-style items take the first schema; properties or items alone imply the type."""
    assert to_gemini({"items": [{"type": "number"}]}) == {"type": "ARRAY", "items": {"type": "NUMBER"}}
    assert to_gemini({"properties": {"a": {"enum": ["x"]}}}) == {
        "type": "OBJECT",
        "properties": {"a": {"type": "STRING", "enum": ["x"]}},
    }


def test_back_to_json_schema() -> None:
    """Gemini's upper-case types, nullable and propertyOrdering become plain JSON Schema."""
    assert to_json_schema(
        {
            "type": "OBJECT",
            "properties": {
                "a": {"type": "STRING", "nullable": True},
                "b": {"anyOf": [{"type": "INTEGER"}], "nullable": True},
            },
            "propertyOrdering": ["a", "b"],
            "required": ["a"],
        }
    ) == {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["a"],
    }


def test_object_schema_for_anthropic() -> None:
    """Anthropic input schemas are objects: absent parameters become an empty object schema."""
    assert object_schema(None) == {"type": "object", "properties": {}}
    assert object_schema({"properties": {"a": {}}}) == {"properties": {"a": {}}, "type": "object"}
