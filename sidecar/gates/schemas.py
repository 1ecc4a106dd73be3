"""The JSON a request asks for: where its schema is, in each dialect, and which part of the answer it binds.

``requested_json(body, dialect, operation)`` returns an ``Expectation`` or None:

- OpenAI chat: the text, for ``response_format`` ``json_schema`` (its ``json_schema.schema``) or
  ``json_object``; a forced tool's arguments, for ``tool_choice`` naming a function (or ``required`` with
  one tool): its ``parameters``.
- OpenAI Responses: the text, for ``text.format`` ``json_schema`` (its ``schema``) or ``json_object``; a
  forced tool's arguments, for ``tool_choice`` naming a function: its ``parameters``.
- Anthropic: the text, for ``output_config.format`` (or ``output_format``) ``json_schema``; a forced tool's
  arguments, for ``tool_choice`` ``tool`` (or ``any`` with one tool): its ``input_schema``.
- Gemini: the text, for ``responseMimeType: application/json`` with ``responseJsonSchema``, or
  ``responseSchema`` (Gemini's OpenAPI form, converted by ``translate.schema.to_json_schema``); a forced
  call, for ``functionCallingConfig`` mode ``ANY`` with one allowed (or one declared) function: its
  ``parametersJsonSchema`` or ``parameters`` (converted).

``json_object`` (and JSON without a schema) expects a JSON object (OpenAI's mode) or any JSON (Gemini).
A forced tool wins over a text format when a request has both (the answer is the call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..dialects import Dialect, Operation
from ..translate.schema import to_json_schema

ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


@dataclass(frozen=True, slots=True)
class Expectation:
    schema: Mapping[str, Any] | None  # None: any JSON value
    where: Literal["text", "tool"]
    tool: str | None  # the forced tool, when ``where`` is ``tool``
    source: str  # the request field it came from, for messages


def requested_json(body: Mapping[str, Any], dialect: Dialect, operation: Operation) -> Expectation | None:
    """What JSON the request asks the answer to be, or None when it asks for none."""
    if dialect is Dialect.OPENAI and operation is Operation.CHAT:
        return _openai_tool(body, responses=False) or _openai_format(body.get("response_format"), "response_format")
    if dialect is Dialect.OPENAI and operation is Operation.RESPONSES:
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, Mapping) else None
        return _openai_tool(body, responses=True) or _openai_format(fmt, "text.format")
    if dialect is Dialect.ANTHROPIC:
        return _anthropic(body)
    if dialect is Dialect.GEMINI:
        return _gemini_tool(body) or _gemini_format(body.get("generationConfig"))
    return None


def _openai_format(fmt: Any, source: str) -> Expectation | None:
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_object":
        return Expectation(ANY_OBJECT, "text", None, f"{source} json_object")
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") if source == "response_format" else fmt
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return Expectation(schema if isinstance(schema, Mapping) else None, "text", None, f"{source} json_schema")
    return None


def _openai_tool(body: Mapping[str, Any], *, responses: bool) -> Expectation | None:
    choice = body.get("tool_choice")
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, Mapping) and tool.get("type") == "function"]
    functions = [tool if responses else tool.get("function") for tool in tools]
    by_name = {str(f.get("name")): f for f in functions if isinstance(f, Mapping)}
    name: str | None = None
    if isinstance(choice, Mapping):
        named = choice if responses else choice.get("function")
        name = str(named.get("name")) if isinstance(named, Mapping) and named.get("name") else None
    elif choice == "required" and len(by_name) == 1:
        name = next(iter(by_name))
    if name is None or name not in by_name:
        return None
    schema = by_name[name].get("parameters")
    return Expectation(schema if isinstance(schema, Mapping) else ANY_OBJECT, "tool", name, f"tool {name}")


def _anthropic(body: Mapping[str, Any]) -> Expectation | None:
    choice = body.get("tool_choice")
    tools = {str(t.get("name")): t for t in body.get("tools") or [] if isinstance(t, Mapping) and "input_schema" in t}
    if isinstance(choice, Mapping):
        name = choice.get("name") if choice.get("type") == "tool" else None
        if choice.get("type") == "any" and len(tools) == 1:
            name = next(iter(tools))
        if isinstance(name, str) and name in tools:
            schema = tools[name].get("input_schema")
            return Expectation(schema if isinstance(schema, Mapping) else ANY_OBJECT, "tool", name, f"tool {name}")
    output = body.get("output_config")
    fmt = output.get("format") if isinstance(output, Mapping) else body.get("output_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return Expectation(schema if isinstance(schema, Mapping) else None, "text", None, "output_config.format")
    return None


def _gemini_format(config: Any) -> Expectation | None:
    if not isinstance(config, Mapping) or config.get("responseMimeType") != "application/json":
        return None
    schema = config.get("responseJsonSchema") or config.get("_responseJsonSchema")
    if isinstance(schema, Mapping):
        return Expectation(schema, "text", None, "responseJsonSchema")
    native = config.get("responseSchema")
    if isinstance(native, Mapping):
        return Expectation(to_json_schema(native), "text", None, "responseSchema")
    return Expectation(None, "text", None, "responseMimeType")


def _gemini_tool(body: Mapping[str, Any]) -> Expectation | None:
    tool_config = body.get("toolConfig")
    calling = tool_config.get("functionCallingConfig") if isinstance(tool_config, Mapping) else None
    if not isinstance(calling, Mapping) or str(calling.get("mode", "")).upper() != "ANY":
        return None
    declarations = {
        str(d.get("name")): d
        for tool in body.get("tools") or []
        if isinstance(tool, Mapping)
        for d in tool.get("functionDeclarations") or []
        if isinstance(d, Mapping)
    }
    allowed = [name for name in calling.get("allowedFunctionNames") or [] if name in declarations]
    candidates = allowed or list(declarations)
    if len(candidates) != 1:
        return None
    declaration = declarations[candidates[0]]
    schema = declaration.get("parametersJsonSchema")
    if not isinstance(schema, Mapping):
        native = declaration.get("parameters")
        schema = to_json_schema(native) if isinstance(native, Mapping) else ANY_OBJECT
    return Expectation(schema, "tool", candidates[0], f"tool {candidates[0]}")
