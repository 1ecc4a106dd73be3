"""What the fake model says, independent of dialect.

Each dialect module reduces its request to a ``Prompt``; ``answer`` turns that into an ``Answer``:

1. the last turn is a tool result          -> text (``reply`` or "Tool result received: ...")
2. tools offered and (forced by tool_choice, or the last user text holds ``fake:tools2`` / ``fake:tool``)
                                            -> one call to the forced or first tool (two calls for tools2)
3. otherwise                               -> text: ``reply``, else the last user text echoed
Text longer than ``max_tokens`` is cut and marked ``truncated`` (finish reason length / max_tokens).
Tokens are estimated as ~4 characters each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

EMPTY_PROMPT_REPLY = "Hello from the fake provider."
TOOL_MARKER = "fake:tool"
TWO_TOOLS_MARKER = "fake:tools2"
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ToolSpec:
    name: str
    schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` is ``auto``, ``none`` or ``required``; ``name`` set when one tool is forced."""

    mode: str = "auto"
    name: str | None = None


@dataclass(frozen=True)
class Prompt:
    text: str  # the last user text
    input_tokens: int
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    tool_result: str | None = None  # set when the last turn is a tool result
    max_tokens: int | None = None


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return orjson.dumps(self.arguments).decode()


@dataclass(frozen=True)
class Answer:
    text: str
    calls: tuple[ToolCall, ...]
    truncated: bool
    input_tokens: int
    output_tokens: int


def estimate_tokens(text: str | int) -> int:
    """Tokens for a text (or a character count): ~4 characters per token, at least 1 for non-empty."""
    chars = text if isinstance(text, int) else len(text)
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def text_chars(value: Any) -> int:
    """Characters of every string inside a JSON value (keys excluded): the input-token basis."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_chars(item) for key, item in value.items() if key not in ("type", "role"))
    if isinstance(value, list | tuple):
        return sum(text_chars(item) for item in value)
    return 0


def answer(prompt: Prompt, reply: str | None) -> Answer:
    """The fake model's deterministic answer to ``prompt``."""
    calls = _tool_calls(prompt)
    if calls:
        size = sum(len(call.name) + len(call.arguments_json) for call in calls)
        return Answer("", calls, False, prompt.input_tokens, max(1, estimate_tokens(size)))
    if prompt.tool_result is not None:
        text = reply if reply is not None else f"Tool result received: {prompt.tool_result}"
    else:
        text = reply if reply is not None else (prompt.text or EMPTY_PROMPT_REPLY)
    truncated = False
    if prompt.max_tokens is not None and estimate_tokens(text) > prompt.max_tokens:
        text, truncated = text[: prompt.max_tokens * CHARS_PER_TOKEN], True
    return Answer(text, (), truncated, prompt.input_tokens, estimate_tokens(text))


def _tool_calls(prompt: Prompt) -> tuple[ToolCall, ...]:
    if not prompt.tools or prompt.tool_result is not None or prompt.tool_choice.mode == "none":
        return ()
    by_name = {tool.name: tool for tool in prompt.tools}
    forced = prompt.tool_choice.name
    if TWO_TOOLS_MARKER in prompt.text:
        tools = [prompt.tools[0], prompt.tools[1 % len(prompt.tools)]]
    elif forced in by_name:
        tools = [by_name[forced]]
    elif TOOL_MARKER in prompt.text or prompt.tool_choice.mode == "required":
        tools = [prompt.tools[0]]
    else:
        return ()
    return tuple(ToolCall(tool.name, example_arguments(tool.schema)) for tool in tools)


def example_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An object satisfying the schema's required properties: strings "test", numbers 1, booleans true."""
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    return {name: _example(properties.get(name) or {}) for name in required if isinstance(name, str)}


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


def split_text(text: str) -> list[str]:
    """Stream chunks of ``text``: one word with its trailing spaces each; joined they give ``text``."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def split_json(text: str, size: int = 16) -> list[str]:
    """Argument deltas: ``text`` in pieces of ``size`` characters."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [text]


def last_text(parts: Sequence[Any]) -> str:
    """Join the text parts of a content list (OpenAI/Anthropic blocks or Gemini parts)."""
    texts = [part.get("text", "") for part in parts if isinstance(part, Mapping) and isinstance(part.get("text"), str)]
    return "\n".join(texts)
