"""Responses API requests -> the common form (``responses_request``, ``responses_items``): the input's
items as turns, the settings and features as chat's, what only OpenAI stores or runs refused by name in
either mode, what does not change the answer dropped and listed, the rest per ``unsupported_params``."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.openai.responses_request import parse_request
from sidecar.translate import translate_request
from sidecar.translate.options import Drops, TranslateOptions, TranslationError, UnsupportedParameter

ERROR, DROP = TranslateOptions(unsupported="error"), TranslateOptions(unsupported="drop")
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def parsed(body: dict[str, Any], options: TranslateOptions = ERROR) -> tuple[dict[str, Any], list[str]]:
    drops = Drops(options)
    req = parse_request({"model": "m", **body}, drops)
    return dict(req), drops.names


def test_a_string_input_is_one_user_turn_and_instructions_the_first_system_prompt() -> None:
    """``input`` as a string is one user text turn; ``instructions`` comes before the input's own system
    and developer messages."""
    req, _ = parsed({"input": "hi", "instructions": "Be brief."})
    assert req["system"] == ["Be brief."]
    assert req["messages"] == [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]
    req, _ = parsed(
        {
            "input": [{"role": "developer", "content": "Use French."}, {"role": "user", "content": "hi"}],
            "instructions": "Be brief.",
        }
    )
    assert req["system"] == ["Be brief.", "Use French."]


def test_the_input_parts_become_text_and_media() -> None:
    """``input_text``, ``input_image`` (a URL, a base64 data URL) and ``input_file`` (``file_data`` as a data
    URL or bare base64, ``file_url``) become text and media parts of the user turn."""
    content = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://example.com/a.png"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
        {"type": "input_file", "file_data": "JVBE"},
        {"type": "input_file", "file_url": "https://example.com/a.pdf"},
    ]
    req, _ = parsed({"input": [{"type": "message", "role": "user", "content": content}]}, DROP)
    assert req["messages"][0]["parts"] == [
        {"type": "text", "text": "look"},
        {"type": "media", "media_type": None, "data": None, "url": "https://example.com/a.png"},
        {"type": "media", "media_type": "image/png", "data": "AAAA", "url": None},
        {"type": "media", "media_type": "application/pdf", "data": "JVBE", "url": None},
        {"type": "media", "media_type": "application/pdf", "data": "JVBE", "url": None},
        {"type": "media", "media_type": "application/pdf", "data": None, "url": "https://example.com/a.pdf"},
    ]


def test_a_function_call_and_its_output_are_a_tool_call_and_its_result() -> None:
    """An assistant message and its ``function_call`` items are one assistant turn (arguments parsed);
    the ``function_call_output`` is the user turn's tool result, named by its call."""
    items = [
        {"role": "user", "content": "weather?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    req, _ = parsed({"input": items})
    assert [m["role"] for m in req["messages"]] == ["user", "assistant", "user"]
    assert req["messages"][1]["parts"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
    ]
    assert req["messages"][2]["parts"] == [
        {"type": "tool_result", "call_id": "call_1", "name": "get_weather", "output": "sunny", "is_error": False}
    ]


def test_an_output_answering_no_earlier_call_is_refused() -> None:
    """A ``function_call_output`` whose ``call_id`` no earlier ``function_call`` has is refused naming it."""
    with pytest.raises(TranslationError, match=r"input\[0\]\.call_id"):
        parsed({"input": [{"type": "function_call_output", "call_id": "call_9", "output": "x"}]})


def test_settings_and_features_read_as_chats() -> None:
    """The output maximum, sampling, tools (``strict`` dropped, listed), the tool choice, the text format,
    the reasoning effort (a summary asks the thoughts shown) and the logprobs ``include`` read as chat's."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    req, dropped = parsed(
        {
            "input": "hi",
            "max_output_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.9,
            "tools": [{**WEATHER, "strict": True, "description": "Weather"}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
            "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["message.output_text.logprobs"],
            "top_logprobs": 2,
        }
    )
    assert (req["max_tokens"], req["temperature"], req["top_p"]) == (50, 0.3, 0.9)
    assert req["tools"] == [{"name": "get_weather", "description": "Weather", "parameters": WEATHER["parameters"]}]
    assert req["tool_choice"] == {"mode": "tool", "names": ["get_weather"]}
    assert req["parallel_tool_calls"] is False
    assert req["response_format"] == {"kind": "json_schema", "schema": schema, "name": "out", "strict": True}
    assert req["thinking"] == {"budget": 1024, "show": True, "param": "reasoning.effort", "effort": "low"}
    assert (req["logprobs"], req["top_logprobs"]) == (True, 2)
    assert dropped == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "web_search"}]}, "web_search"),
        ({"tools": [{"type": "custom", "name": "grammar"}]}, "custom"),
        ({"tools": [WEATHER], "tool_choice": {"type": "file_search"}}, "file_search"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item_reference"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "web_search_call"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}, "file_id"),
        ({"include": ["file_search_call.results"]}, "file_search_call.results"),
    ],
)
@pytest.mark.parametrize("options", [ERROR, DROP], ids=["error", "drop"])
def test_what_only_openai_stores_or_runs_is_refused_by_name_in_either_mode(
    body: dict[str, Any], named: str, options: TranslateOptions
) -> None:
    """A request naming OpenAI's stored state or its own tools cannot be carried: a ``TranslationError``
    (not a drop, whatever ``unsupported_params`` says) naming the field."""
    with pytest.raises(TranslationError, match=named) as info:
        parsed({"input": "hi", **body}, options)
    assert not isinstance(info.value, UnsupportedParameter)


def test_fields_that_do_not_change_the_answer_are_dropped_and_listed() -> None:
    """``store`` (OpenAI's default ``true``), ``metadata``, ``background: false``, an OpenAI reasoning item and
    ``include: ["reasoning.encrypted_content"]`` never refuse: listed (``background: false`` asks nothing)."""
    items = [
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
        {"role": "user", "content": "hi"},
    ]
    body = {
        "input": items,
        "store": True,
        "metadata": {"a": "b"},
        "background": False,
        "include": ["reasoning.encrypted_content"],
    }
    _, dropped = parsed(body)
    assert dropped == ["input.reasoning", "store", "metadata", "include.reasoning.encrypted_content"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"truncation": "auto"}, "truncation"),
        ({"max_tool_calls": 3}, "max_tool_calls"),
        ({"reasoning": {"summary": "auto"}}, "reasoning.summary"),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/a.png"}]}]},
            "system.content.input_image",
        ),
        ({"input": [{"role": "user", "content": "hi", "name": "bob"}]}, "input.message.name"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [WEATHER]}},
            "tool_choice.allowed_tools",
        ),
    ],
)
def test_what_has_no_equivalent_follows_unsupported_params(body: dict[str, Any], named: str) -> None:
    """A field another provider cannot honour is refused naming it under ``error`` and dropped, listed,
    under ``drop``."""
    body = {"input": "hi", **body}
    with pytest.raises(UnsupportedParameter) as info:
        parsed(body)
    assert info.value.name == named
    assert named in parsed(body, DROP)[1]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"temperature": "hot"}, "temperature: must be a number or null, not a string"),
        ({"max_output_tokens": "5"}, "max_output_tokens: must be an integer or null, not a string"),
        ({"tools": [{"type": "function", "name": 5}]}, "tools[0].name: must be a string, not a number"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content: must be a string or a list of parts"),
    ],
)
def test_a_body_of_the_wrong_types_is_refused_naming_the_field(body: dict[str, Any], said: str) -> None:
    """A field of the wrong JSON type, a setting copied unread among them, is a ``TranslationError`` naming
    the caller's field (``responses_shape``), never Python's words or the target's field name."""
    with pytest.raises(TranslationError) as info:
        translate_request(
            {"model": "m", "input": "hi", **body},
            source=Dialect.OPENAI,
            target=Dialect.ANTHROPIC,
            operation=Operation.RESPONSES,
            target_model="c",
            options=ERROR,
        )
    assert said in str(info.value)
