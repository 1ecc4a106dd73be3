"""Where a request's JSON schema is, in each dialect and form."""

from __future__ import annotations

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.gates.schemas import ANY_OBJECT, Expectation, requested_json

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
CHAT = (Dialect.OPENAI, Operation.CHAT)
RESPONSES = (Dialect.OPENAI, Operation.RESPONSES)
ANTHROPIC = (Dialect.ANTHROPIC, Operation.CHAT)
GEMINI = (Dialect.GEMINI, Operation.GENERATE_CONTENT)


@pytest.mark.parametrize(
    ("where", "body", "expected"),
    [
        (
            CHAT,
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}},
            Expectation(SCHEMA, "text", None, "response_format json_schema"),
        ),
        (
            CHAT,
            {"response_format": {"type": "json_object"}},
            Expectation(ANY_OBJECT, "text", None, "response_format json_object"),
        ),
        (CHAT, {"response_format": {"type": "text"}}, None),
        (
            CHAT,
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
            },
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (
            CHAT,
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
                "tool_choice": "required",
            },
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (
            CHAT,
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}], "tool_choice": "auto"},
            None,
        ),
        (
            RESPONSES,
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": SCHEMA}}},
            Expectation(SCHEMA, "text", None, "text.format json_schema"),
        ),
        (
            RESPONSES,
            {
                "tools": [{"type": "function", "name": "f", "parameters": SCHEMA}],
                "tool_choice": {"type": "function", "name": "f"},
            },
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (
            ANTHROPIC,
            {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
            Expectation(SCHEMA, "text", None, "output_config.format"),
        ),
        (
            ANTHROPIC,
            {"output_format": {"type": "json_schema", "schema": SCHEMA}},
            Expectation(SCHEMA, "text", None, "output_config.format"),
        ),
        (
            ANTHROPIC,
            {"tools": [{"name": "f", "input_schema": SCHEMA}], "tool_choice": {"type": "tool", "name": "f"}},
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (
            ANTHROPIC,
            {"tools": [{"name": "f", "input_schema": SCHEMA}], "tool_choice": {"type": "any"}},
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (ANTHROPIC, {"tools": [{"name": "f", "input_schema": SCHEMA}], "tool_choice": {"type": "auto"}}, None),
        (
            GEMINI,
            {"generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}},
            Expectation(SCHEMA, "text", None, "responseJsonSchema"),
        ),
        (
            GEMINI,
            {"generationConfig": {"responseMimeType": "application/json"}},
            Expectation(None, "text", None, "responseMimeType"),
        ),
        (GEMINI, {"generationConfig": {"responseSchema": {"type": "OBJECT"}}}, None),
        (
            GEMINI,
            {
                "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": SCHEMA}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            },
            Expectation(SCHEMA, "tool", "f", "tool f"),
        ),
        (
            GEMINI,
            {
                "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            },
            None,
        ),
    ],
)
def test_schema_forms(where, body, expected):
    """Each dialect's response formats and forced tools yield the schema and the part of the answer it binds."""
    assert requested_json(body, *where) == expected


def test_gemini_native_schema_is_converted():
    """Gemini's OpenAPI-style responseSchema (upper-case types, nullable) becomes JSON Schema."""
    native = {
        "type": "OBJECT",
        "properties": {"total": {"type": "INTEGER"}, "note": {"type": "STRING", "nullable": True}},
        "required": ["total"],
        "propertyOrdering": ["total", "note"],
    }
    found = requested_json(
        {"generationConfig": {"responseMimeType": "application/json", "responseSchema": native}}, *GEMINI
    )
    assert found is not None
    assert found.schema == {
        "type": "object",
        "properties": {"total": {"type": "integer"}, "note": {"type": ["string", "null"]}},
        "required": ["total"],
    }


def test_gemini_forced_function_with_native_parameters():
    """A Gemini call forced to one allowed function is checked against its (converted) parameters."""
    body = {
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}, {"name": "g"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "any", "allowedFunctionNames": ["f"]}},
    }
    assert requested_json(body, *GEMINI) == Expectation({"type": "object"}, "tool", "f", "tool f")


def test_plain_request_asks_nothing():
    """A request without a format or a forced tool has no expectation."""
    assert requested_json({"messages": []}, *CHAT) is None
    assert requested_json({"contents": []}, *GEMINI) is None
