"""Request translation, table-driven per direction, plus the field mappings that bite."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, TranslationError, UnsupportedParameter, translate_request

from . import requests as R

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
DROP = TranslateOptions(unsupported="drop")
ERROR = TranslateOptions()
MODELS = {OAI: "gpt-4o", ANT: "claude-sonnet-4-5", GEM: "gemini-2.5-flash"}


def tr(body: dict[str, Any], source: Dialect, target: Dialect, options: TranslateOptions = ERROR, **kw: Any) -> Any:
    return translate_request(
        body,
        source=source,
        target=target,
        operation=Operation.CHAT,
        target_model=MODELS[target],
        options=options,
        **kw,
    )[:2]


CASES = [
    pytest.param(R.OPENAI_REQUEST, OAI, ANT, R.OPENAI_TO_ANTHROPIC, [], id="openai->anthropic"),
    pytest.param(R.OPENAI_REQUEST, OAI, GEM, R.OPENAI_TO_GEMINI, ["user"], id="openai->gemini"),
    pytest.param(
        R.ANTHROPIC_REQUEST,
        ANT,
        OAI,
        R.ANTHROPIC_TO_OPENAI,
        R.ANTHROPIC_TO_OPENAI_DROPPED,
        id="anthropic->openai",
    ),
    pytest.param(
        R.ANTHROPIC_REQUEST,
        ANT,
        GEM,
        R.ANTHROPIC_TO_GEMINI,
        R.ANTHROPIC_TO_GEMINI_DROPPED,
        id="anthropic->gemini",
    ),
    # the answer's thought signature sent back (not the sidecar's SKIP_SIGNATURE): listed since 2026-12-06
    pytest.param(R.GEMINI_REQUEST, GEM, OAI, R.GEMINI_TO_OPENAI, ["thoughtSignature"], id="gemini->openai"),
    pytest.param(R.GEMINI_REQUEST, GEM, ANT, R.GEMINI_TO_ANTHROPIC, ["thoughtSignature"], id="gemini->anthropic"),
]


@pytest.mark.parametrize(("body", "source", "target", "expected", "dropped"), CASES)
def test_rich_request(body: Any, source: Dialect, target: Dialect, expected: Any, dropped: list[str]) -> None:
    """A documented-style request with every common feature becomes exactly the expected upstream body."""
    before = copy.deepcopy(body)
    out, names = tr(body, source, target, DROP)
    assert out == expected
    assert names == dropped
    assert body == before  # the caller's body is not modified


def test_gemini_source_stream_comes_from_the_caller() -> None:
    """A Gemini body carries no stream flag: ``stream=True`` makes the OpenAI upstream stream with usage."""
    out, _ = tr(R.GEMINI_REQUEST, GEM, OAI, stream=True)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


def test_gemini_target_body_has_no_model_or_stream() -> None:
    """Model and streaming are path matters for Gemini: the body has neither."""
    out, _ = tr({**R.OPENAI_REQUEST, "stream": True}, OAI, GEM, DROP)
    assert "model" not in out
    assert "stream" not in out


def test_anthropic_gets_default_max_tokens() -> None:
    """Anthropic requires max_tokens: the policy default fills it when the caller set none."""
    body = {"model": "x", "messages": [{"role": "user", "content": "Hi"}]}
    out, _ = tr(body, OAI, ANT, TranslateOptions(default_max_tokens=777))
    assert out["max_tokens"] == 777


def test_openai_max_tokens_field_is_configurable() -> None:
    """Older OpenAI-compatible servers get ``max_tokens`` when the option says so."""
    body = {"model": "x", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    out, _ = tr(body, ANT, OAI, TranslateOptions(openai_max_tokens_field="max_tokens"))
    assert out["max_tokens"] == 50
    assert "max_completion_tokens" not in out


def test_anthropic_temperature_is_clamped() -> None:
    """OpenAI and Gemini allow temperature up to 2; Anthropic's range ends at 1."""
    body = {"model": "x", "temperature": 1.7, "messages": [{"role": "user", "content": "Hi"}]}
    assert tr(body, OAI, ANT)[0]["temperature"] == 1.0


def test_system_prompts_from_every_position() -> None:
    """OpenAI system and developer messages, wherever they are, join into Anthropic's system string."""
    body = {
        "model": "x",
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert out["system"] == "Rule one.\n\nRule two."
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    gem, _ = tr(body, OAI, GEM)
    assert gem["systemInstruction"] == {"parts": [{"text": "Rule one."}, {"text": "Rule two."}]}


def test_gemini_system_parts_stay_apart() -> None:
    """Several systemInstruction parts reach OpenAI as paragraphs, not glued together."""
    body = {
        "systemInstruction": {"parts": [{"text": "One."}, {"text": "Two."}]},
        "contents": [{"parts": [{"text": "Hi"}]}],
    }
    out, _ = tr(body, GEM, OAI)
    assert out["messages"][0] == {"role": "system", "content": "One.\n\nTwo."}


def test_gemini_snake_case_keys_are_read() -> None:
    """The REST API takes snake_case too: system_instruction, generation_config, inline_data are read."""
    body = {
        "system_instruction": {"parts": [{"text": "Be nice."}]},
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "Hi"}, {"inline_data": {"mime_type": "image/png", "data": "AA"}}],
            }
        ],
        "generation_config": {"max_output_tokens": 10, "stop_sequences": ["x"]},
    }
    out, _ = tr(body, GEM, OAI)
    assert out["messages"][0] == {"role": "system", "content": "Be nice."}
    assert out["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AA"},
    }
    assert out["max_completion_tokens"] == 10
    assert out["stop"] == ["x"]


def test_consecutive_turns_merge_for_alternating_targets() -> None:
    """Consecutive same-role messages merge into one turn for Anthropic and Gemini."""
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "First."},
            {"role": "user", "content": "Second."},
            {"role": "assistant", "content": "A."},
            {"role": "assistant", "content": "B."},
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert [m["role"] for m in out["messages"]] == ["user", "assistant"]
    assert [b["text"] for b in out["messages"][0]["content"]] == ["First.", "Second."]
    gem, _ = tr(body, OAI, GEM)
    assert [c["role"] for c in gem["contents"]] == ["user", "model"]
    assert gem["contents"][1]["parts"] == [{"text": "A."}, {"text": "B."}]


def test_parallel_tool_results_share_one_turn_results_first() -> None:
    """Parallel tool results and a following user text become one user turn, tool results first."""
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "Weather and time?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "time", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "user", "content": "Summarise."},
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "c2", "content": "noon"},
        {"type": "text", "text": "Summarise."},
    ]
    gem, _ = tr(body, OAI, GEM)
    assert gem["contents"][2]["parts"] == [
        {"functionResponse": {"name": "weather", "response": {"result": "sunny"}}},
        {"functionResponse": {"name": "time", "response": {"result": "noon"}}},
        {"text": "Summarise."},
    ]
    assert gem["contents"][1]["parts"][1] == {"functionCall": {"name": "time", "args": {}}}


def test_anthropic_tool_ids_are_sanitised_consistently() -> None:
    """Ids with characters Anthropic rejects are rewritten the same way in tool_use and tool_result."""
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "functions.get:0",
                        "type": "function",
                        "function": {"name": "get", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "functions.get:0", "content": "ok"},
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert out["messages"][1]["content"][0]["id"] == "functions_get_0"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "functions_get_0"


def test_tool_errors_travel() -> None:
    """An Anthropic tool_result with is_error becomes a Gemini ``{"error": ...}`` response and back."""
    body = {
        "model": "x",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True}],
            },
        ],
    }
    gem, _ = tr(body, ANT, GEM)
    assert gem["contents"][2]["parts"] == [{"functionResponse": {"name": "f", "response": {"error": "boom"}}}]
    back, _ = tr(gem, GEM, ANT)
    assert back["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1_0", "content": "boom", "is_error": True}
    ]


def test_malformed_arguments_are_kept_raw() -> None:
    """Tool-call arguments that are not a JSON object travel as ``{"_raw": text}`` (objects only)."""
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "?"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}],
            },
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert out["messages"][1]["content"][0]["input"] == {"_raw": "{oops"}


def test_gemini_url_media_type_guessed() -> None:
    """An image URL without a media type gets one from its extension for Gemini fileData."""
    body = {
        "model": "x",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.PNG?s=1"}}],
            }
        ],
    }
    out, _ = tr(body, OAI, GEM)
    assert out["contents"][0]["parts"] == [
        {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.PNG?s=1"}}
    ]


def test_pdf_documents_travel() -> None:
    """An OpenAI inline PDF file part becomes an Anthropic document block and Gemini inlineData."""
    body = {
        "model": "x",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                    }
                ],
            }
        ],
    }
    out, _ = tr(body, OAI, ANT)
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        }
    ]
    gem, _ = tr(body, OAI, GEM)
    assert gem["contents"][0]["parts"] == [{"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]
    back, _ = tr(out, ANT, OAI)
    assert back["messages"][0]["content"] == [
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "document.pdf"},
        }
    ]


def test_unreadable_body_raises_translation_error() -> None:
    """A body that is not a chat request raises TranslationError (a ValueError), not a KeyError."""
    with pytest.raises(TranslationError):
        tr({"model": "x", "messages": "hello"}, OAI, ANT)
    with pytest.raises(TranslationError):
        tr(
            {
                "model": "x",
                "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]}],
            },
            OAI,
            ANT,
        )
    with pytest.raises(TranslationError):
        tr({"generationConfig": {}}, GEM, OAI)


def test_operation_without_counterpart_raises() -> None:
    """Text-completion bodies, and Anthropic embeddings, are refused as untranslatable."""
    with pytest.raises(TranslationError):
        translate_request(
            {}, source=OAI, target=ANT, operation=Operation.TEXT_COMPLETION, target_model="m", options=ERROR
        )
    with pytest.raises(TranslationError):
        translate_request(
            {"input": "x"},
            source=OAI,
            target=ANT,
            operation=Operation.EMBEDDINGS,
            target_model="m",
            options=ERROR,
        )


def test_unsupported_error_names_the_parameter() -> None:
    """UnsupportedParameter carries the parameter name and is a ValueError."""
    body = {"model": "x", "messages": [{"role": "user", "content": "Hi"}], "seed": 7}
    with pytest.raises(UnsupportedParameter) as info:
        tr(body, OAI, ANT)
    assert info.value.name == "seed"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("target", [ANT, GEM])
def test_an_openai_tool_result_whose_call_id_no_call_has_is_refused_naming_it(target: Dialect) -> None:
    """A ``tool`` message whose ``tool_call_id`` no earlier assistant call has is refused naming the field and
    the id: Gemini pairs results by the call's function name (the id was written as the name), Anthropic
    refuses an unpaired ``tool_result`` with its own 400 after the call is made."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_nope", "content": "42"}],
    }
    with pytest.raises(TranslationError, match=r"messages\[1\]\.tool_call_id: 'call_nope' is the id of no earlier"):
        tr(body, OAI, target)


@pytest.mark.parametrize("target", [OAI, GEM])
def test_an_anthropic_tool_result_whose_id_no_tool_use_has_is_refused_naming_it(target: Dialect) -> None:
    """A ``tool_result`` block whose ``tool_use_id`` no earlier ``tool_use`` has is refused naming the block's
    field and the id (OpenAI refuses a tool message without its call; Gemini needs the call's name)."""
    result = {"type": "tool_result", "tool_use_id": "toolu_nope", "content": "42"}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, result]}],
    }
    with pytest.raises(TranslationError, match=r"tool_result\.tool_use_id: 'toolu_nope' is the id"):
        tr(body, ANT, target)


@pytest.mark.parametrize("target", [OAI, ANT])
def test_a_gemini_function_response_that_answers_no_call_is_refused_naming_it(target: Dialect) -> None:
    """A ``functionResponse`` without an id whose function no unanswered ``functionCall`` before it names is
    refused naming the part and the function (its made-up id reached OpenAI or Anthropic, who refuse it)."""
    answer = {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "user", "parts": [answer]}]}
    match = r"contents\[1\]\.parts\[0\]\.functionResponse: 'get_weather' is the name of no earlier tool call"
    with pytest.raises(TranslationError, match=match):
        tr(body, GEM, target)
