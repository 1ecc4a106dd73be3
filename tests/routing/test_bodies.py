"""Feature extraction from each dialect's body: OpenAI chat and responses, Anthropic messages, Gemini."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect, Operation
from sidecar.routing.features import IMAGE_TOKENS, RequestFeatures, extract_features

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"name": "weather", "description": "Weather in a city", "parameters": {"type": "object"}}


def openai(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.CHAT)


def responses(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.RESPONSES)


def anthropic(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.ANTHROPIC, Operation.CHAT)


def gemini(body: dict[str, Any], stream: bool = False) -> RequestFeatures:
    return extract_features(body, Dialect.GEMINI, Operation.GENERATE_CONTENT, stream=stream)


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


# --- Anthropic ---------------------------------------------------------------------------------------


def test_anthropic_system_blocks_and_last_user() -> None:
    """A system given as blocks is the system text; tool_result turns are not the last user message."""
    f = anthropic(
        {
            "system": [{"type": "text", "text": "You classify tickets."}],
            "messages": [
                {"role": "user", "content": "Ticket: printer on fire"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": 1}}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "found"}]},
            ],
            "max_tokens": 1024,
        }
    )
    assert (f.system_text, f.last_user_text, f.turns, f.max_output_tokens) == (
        "You classify tickets.",
        "Ticket: printer on fire",
        3,
        1024,
    )


def test_anthropic_image_and_pdf_document() -> None:
    """image blocks are images, a base64 PDF document is a file, a text document is text."""
    f = anthropic(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                        {"type": "text", "text": "compare them"},
                    ],
                }
            ],
            "max_tokens": 10,
        }
    )
    assert (f.images, f.files, f.last_user_text) == (1, 1, "compare them")


@pytest.mark.parametrize(
    ("choice", "forced"), [({"type": "auto"}, False), ({"type": "any"}, True), ({"type": "tool", "name": "x"}, True)]
)
def test_anthropic_tool_choice_forced(choice: dict[str, Any], forced: bool) -> None:
    """tool_choice any and tool force a tool call; auto does not."""
    f = anthropic(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "x", "input_schema": {"type": "object"}}],
            "tool_choice": choice,
            "max_tokens": 5,
        }
    )
    assert (f.tools, f.tool_choice_forced) == (1, forced)


def test_anthropic_output_format_and_stream() -> None:
    """output_config.format asks for JSON with a schema; stream: true is streaming."""
    f = anthropic(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
            "max_tokens": 5,
            "stream": True,
        }
    )
    assert (f.json_mode, f.json_schema, f.stream) == (True, True, True)


# --- Gemini ------------------------------------------------------------------------------------------


def test_gemini_contents_system_and_config() -> None:
    """systemInstruction, the last user turn, maxOutputTokens and a JSON response schema are read."""
    f = gemini(
        {
            "systemInstruction": {"parts": [{"text": "You summarize."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "long article"}]},
                {"role": "model", "parts": [{"text": "summary"}]},
                {"role": "user", "parts": [{"text": "shorter please"}]},
            ],
            "generationConfig": {
                "maxOutputTokens": 200,
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT"},
            },
        },
        stream=True,
    )
    assert (f.system_text, f.last_user_text, f.turns, f.max_output_tokens) == (
        "You summarize.",
        "shorter please",
        3,
        200,
    )
    assert (f.json_mode, f.json_schema, f.stream) == (True, True, True)


def test_gemini_snake_case_media_and_tools() -> None:
    """snake_case keys, inline_data and file_data by MIME type, function declarations and mode ANY."""
    f = gemini(
        {
            "system_instruction": {"parts": [{"text": "sys"}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"inline_data": {"mime_type": "image/png", "data": PNG}},
                        {"file_data": {"mime_type": "audio/mp3", "file_uri": "gs://b/a.mp3"}},
                        {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://b/v.mp4"}},
                        {"text": "what is this?"},
                    ],
                },
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"ok": True}}}]},
            ],
            "tools": [{"function_declarations": [{"name": "f"}, {"name": "g"}]}],
            "tool_config": {"function_calling_config": {"mode": "any"}},
        }
    )
    assert (f.system_text, f.last_user_text, f.turns) == ("sys", "what is this?", 3)
    assert (f.images, f.audio, f.video, f.tools, f.tool_choice_forced, f.stream) == (1, 1, 1, 2, True, False)


def test_gemini_count_tokens_wrapped_request() -> None:
    """countTokens with a generateContentRequest is read like the request inside it."""
    f = extract_features(
        {"generateContentRequest": {"model": "models/x", "contents": [{"parts": [{"text": "count me"}]}]}},
        Dialect.GEMINI,
        Operation.COUNT_TOKENS,
    )
    assert (f.last_user_text, f.turns) == ("count me", 1)


# --- all dialects ------------------------------------------------------------------------------------


def test_same_prompt_same_tokens_in_every_dialect() -> None:
    """The same system prompt and question estimate to the same prompt tokens in all four body shapes."""
    system, question = "You are a careful assistant.", "Explain the CAP theorem in two sentences."
    counts = {
        openai(
            {"messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}
        ).prompt_tokens,
        responses({"instructions": system, "input": question}).prompt_tokens,
        anthropic(
            {"system": system, "messages": [{"role": "user", "content": question}], "max_tokens": 9}
        ).prompt_tokens,
        gemini(
            {"systemInstruction": {"parts": [{"text": system}]}, "contents": [{"parts": [{"text": question}]}]}
        ).prompt_tokens,
    }
    assert len(counts) == 1


def test_long_texts_are_windowed() -> None:
    """Rules read the head and tail of a long last user message; its full length is still reported."""
    question = "Now: summarize the document above."
    text = "lorem ipsum " * 5000 + question
    f = openai({"messages": [{"role": "user", "content": text}]})
    assert f.last_user_chars == len(text)
    assert len(f.last_user_text) < 1600 and f.last_user_text.endswith(question)
    assert f.prompt_tokens > 9000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "messages",
                    "role",
                    "content",
                    "type",
                    "text",
                    "tools",
                    "tool_choice",
                    "contents",
                    "parts",
                    "input",
                    "system",
                    "max_tokens",
                    "generationConfig",
                    "inlineData",
                    "source",
                    "image_url",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "messages",
                "input",
                "contents",
                "system",
                "tools",
                "tool_choice",
                "instructions",
                "response_format",
                "text",
                "generationConfig",
                "max_tokens",
                "prompt",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_any_json_body_gets_features_in_every_dialect(body: dict[str, Any]) -> None:
    """A malformed body never raises: every walker skips values of unexpected types."""
    for dialect, operation in [
        (Dialect.OPENAI, Operation.CHAT),
        (Dialect.OPENAI, Operation.RESPONSES),
        (Dialect.OPENAI, Operation.TEXT_COMPLETION),
        (Dialect.ANTHROPIC, Operation.CHAT),
        (Dialect.GEMINI, Operation.GENERATE_CONTENT),
    ]:
        assert extract_features(body, dialect, operation).prompt_tokens >= 0
