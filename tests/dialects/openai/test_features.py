"""Routing's features read from OpenAI bodies (``sidecar/dialects/openai/features.py``): chat and responses."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.routing.documents import FILE_TOKENS, PAGE_TOKENS
from sidecar.routing.features import IMAGE_TOKENS, RequestFeatures, extract_features

from ...routing.pdfs import pdf_base64

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"name": "weather", "description": "Weather in a city", "parameters": {"type": "object"}}


def openai(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.CHAT)


def responses(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.RESPONSES)


# --- OpenAI chat completions -------------------------------------------------------------------------


def test_openai_system_and_last_user_text() -> None:
    """System and developer messages form the system text; the last user message with text is the ask."""
    f = openai(
        {
            "messages": [
                {"role": "system", "content": "You extract invoices."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in JSON."}]},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": [{"type": "text", "text": "second question"}]},
            ]
        }
    )
    assert (f.system_text, f.last_user_text, f.last_user_chars, f.turns) == (
        "You extract invoices.\nAnswer in JSON.",
        "second question",
        15,
        3,
    )


def test_openai_tool_result_is_not_the_last_user_message() -> None:
    """A tool message after the user's question leaves the question as the last user text."""
    f = openai(
        {
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            "tools": [{"type": "function", "function": WEATHER_TOOL}],
        }
    )
    assert (f.last_user_text, f.turns, f.tools, f.tool_choice_forced) == ("weather in Paris?", 3, 1, False)


@pytest.mark.parametrize(
    ("choice", "forced"),
    [
        ("auto", False),
        ("none", False),
        ("required", True),
        ({"type": "function", "function": {"name": "weather"}}, True),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}, False),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}}, True),
    ],
)
def test_openai_tool_choice_forced(choice: Any, forced: bool) -> None:
    """tool_choice required, a named function or allowed_tools in required mode force a tool call."""
    f = openai(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": WEATHER_TOOL}],
            "tool_choice": choice,
        }
    )
    assert f.tool_choice_forced is forced


def test_openai_media_parts_by_kind() -> None:
    """image_url, input_audio and file parts count as images, audio and files, each with its token cost."""
    text_only = openai({"messages": [{"role": "user", "content": "describe"}]})
    f = openai(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "describe"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
                    ],
                }
            ]
        }
    )
    assert (f.images, f.audio, f.files) == (2, 1, 1)
    assert f.prompt_tokens >= text_only.prompt_tokens + 2 * IMAGE_TOKENS


@pytest.mark.parametrize(
    ("fmt", "json_mode", "json_schema"),
    [
        ({"type": "text"}, False, False),
        ({"type": "json_object"}, True, False),
        ({"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}, True, True),
    ],
)
def test_openai_response_format(fmt: dict[str, Any], json_mode: bool, json_schema: bool) -> None:
    """response_format json_object asks for JSON; json_schema asks for JSON with a schema."""
    f = openai({"messages": [{"role": "user", "content": "hi"}], "response_format": fmt})
    assert (f.json_mode, f.json_schema) == (json_mode, json_schema)


def test_openai_max_tokens_and_stream() -> None:
    """max_completion_tokens wins over the legacy max_tokens; stream: true is streaming."""
    f = openai(
        {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 300, "max_tokens": 9, "stream": True}
    )
    assert (f.max_output_tokens, f.stream) == (300, True)


def test_openai_legacy_functions_count_as_tools() -> None:
    """The legacy functions list and a named function_call are tools and a forced choice."""
    f = openai(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "functions": [WEATHER_TOOL],
            "function_call": {"name": "weather"},
        }
    )
    assert (f.tools, f.tool_choice_forced) == (1, True)


def test_tools_add_their_schema_tokens() -> None:
    """Tool definitions are part of the prompt: the estimate grows with them."""
    plain = openai({"messages": [{"role": "user", "content": "hi"}]})
    tools = openai(
        {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": WEATHER_TOOL}]}
    )
    assert tools.prompt_tokens > plain.prompt_tokens + 10


# --- OpenAI responses --------------------------------------------------------------------------------


def test_responses_string_input_and_instructions() -> None:
    """A string input is one user message; instructions are the system text."""
    f = responses({"model": "m", "instructions": "Be terse.", "input": "What is 2+2?", "max_output_tokens": 50})
    assert (f.system_text, f.last_user_text, f.turns, f.max_output_tokens) == ("Be terse.", "What is 2+2?", 1, 50)


def test_responses_items_with_media_and_function_calls() -> None:
    """Message items with input_text/input_image/input_file parts, and function call items, are counted."""
    f = responses(
        {
            "input": [
                {"role": "developer", "content": "You are a helpful assistant."},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is in this picture?"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0="},
                    ],
                },
                {"type": "function_call", "call_id": "c1", "name": "look", "arguments": '{"zoom": 2}'},
                {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
            ],
            "tools": [{"type": "function", "name": "look", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "look"},
            "stream": True,
        }
    )
    assert (f.system_text, f.last_user_text) == ("You are a helpful assistant.", "what is in this picture?")
    assert (f.images, f.files, f.turns, f.tools, f.tool_choice_forced, f.stream) == (1, 1, 3, 1, True, True)


def test_responses_text_format_json_schema() -> None:
    """text.format json_schema asks for JSON with a schema."""
    f = responses({"input": "hi", "text": {"format": {"type": "json_schema", "name": "r", "schema": {}}}})
    assert (f.json_mode, f.json_schema) == (True, True)


@pytest.mark.parametrize(("effort", "thinks"), [("low", True), ("minimal", True), ("high", True), ("none", False)])
def test_openai_reasoning_effort_asks_for_thinking(effort: str, thinks: bool) -> None:
    """Chat ``reasoning_effort`` and Responses ``reasoning.effort`` ask the model to think, unless ``none``."""
    chat = openai({"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": effort})
    assert chat.thinking is thinks
    assert responses({"input": "hi", "reasoning": {"effort": effort}}).thinking is thinks


def test_openai_without_reasoning_effort_asks_for_no_thinking() -> None:
    """A plain chat body (the fast path) and a Responses body without ``reasoning`` think nothing."""
    assert openai({"messages": [{"role": "user", "content": "hi"}]}).thinking is False
    assert responses({"input": "hi"}).thinking is False


def test_openai_a_pdfs_file_data_counts_its_pages_in_chat_and_responses() -> None:
    """A chat ``file`` part's and a Responses ``input_file``'s PDF (a data URL, or bare base64 named
    .pdf) counts its pages, PAGE_TOKENS each; a file sent by id counts one file's FILE_TOKENS."""
    data = pdf_base64(30)
    chat_part = {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{data}"}}
    bare_part = {"type": "file", "file": {"filename": "report.pdf", "file_data": data}}
    by_id = {"type": "file", "file": {"file_id": "file-abc"}}
    input_file = {"type": "input_file", "filename": "report.pdf", "file_data": f"data:application/pdf;base64,{data}"}
    asked = openai({"messages": [{"role": "user", "content": [{"type": "text", "text": "summarise"}]}]})
    for part, tokens in ((chat_part, 30 * PAGE_TOKENS), (bare_part, 30 * PAGE_TOKENS), (by_id, FILE_TOKENS)):
        f = openai({"messages": [{"role": "user", "content": [part, {"type": "text", "text": "summarise"}]}]})
        assert (f.files, f.prompt_tokens - asked.prompt_tokens) == (1, tokens)
    text = [{"type": "input_text", "text": "summarise"}]
    asked_responses = responses({"input": [{"role": "user", "content": text}]})
    f = responses({"input": [{"role": "user", "content": [input_file, *text]}]})
    assert (f.files, f.prompt_tokens - asked_responses.prompt_tokens) == (1, 30 * PAGE_TOKENS)
