"""Parameters: tool_choice in every direction, unsupported/ignored parameter policy, structured output."""

from __future__ import annotations

import itertools
import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.registry import DIALECTS
from sidecar.translate import (
    TranslateOptions,
    TranslationError,
    UnsupportedParameter,
    translate_request,
    translate_response,
)
from sidecar.translate.parts import RESPONSE_TOOL, RESPONSE_TOOL_VALUE

from . import sdk

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
DROP = TranslateOptions(unsupported="drop")
ERROR = TranslateOptions()
TOOL_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def tr(body: dict[str, Any], source: Dialect, target: Dialect, options: TranslateOptions = ERROR) -> Any:
    return translate_request(
        body, source=source, target=target, operation=Operation.CHAT, target_model="m", options=options
    )[:2]


def base(dialect: Dialect) -> dict[str, Any]:
    """A minimal request with one tool, in ``dialect``."""
    if dialect is OAI:
        return {
            "model": "m",
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": TOOL_SCHEMA}}],
        }
    if dialect is ANT:
        return {
            "model": "m",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "tools": [{"name": "get_weather", "input_schema": TOOL_SCHEMA}],
        }
    return {
        "contents": [{"role": "user", "parts": [{"text": "Weather in Oslo?"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
                    }
                ]
            }
        ],
    }


CHOICES: dict[str, dict[Dialect, Any]] = {
    "auto": {OAI: "auto", ANT: {"type": "auto"}, GEM: {"functionCallingConfig": {"mode": "AUTO"}}},
    "none": {OAI: "none", ANT: {"type": "none"}, GEM: {"functionCallingConfig": {"mode": "NONE"}}},
    "required": {OAI: "required", ANT: {"type": "any"}, GEM: {"functionCallingConfig": {"mode": "ANY"}}},
    "function": {
        OAI: {"type": "function", "function": {"name": "get_weather"}},
        ANT: {"type": "tool", "name": "get_weather"},
        GEM: {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    },
}
CHOICE_KEY = {OAI: "tool_choice", ANT: "tool_choice", GEM: "toolConfig"}
PAIRS = list(itertools.permutations(DIALECTS, 2))


@pytest.mark.parametrize("mode", list(CHOICES))
@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_tool_choice(mode: str, source: Dialect, target: Dialect) -> None:
    """auto / none / required / a specific function map to each dialect's own form."""
    body = {**base(source), CHOICE_KEY[source]: CHOICES[mode][source]}
    out, dropped = tr(body, source, target)
    assert out[CHOICE_KEY[target]] == CHOICES[mode][target]
    assert dropped == []


def test_gemini_several_allowed_names_restrict_the_tools() -> None:
    """Gemini ANY with several allowed names keeps only those tools for OpenAI and Anthropic, required."""
    body = base(GEM)
    body["tools"][0]["functionDeclarations"] += [{"name": "get_time"}, {"name": "get_news"}]
    body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather", "get_time"]}}
    out, _ = tr(body, GEM, OAI)
    assert [t["function"]["name"] for t in out["tools"]] == ["get_weather", "get_time"]
    assert out["tool_choice"] == "required"
    out, _ = tr(body, GEM, ANT)
    assert [t["name"] for t in out["tools"]] == ["get_weather", "get_time"]
    assert out["tool_choice"] == {"type": "any"}


def test_parallel_tool_calls_false_maps_to_anthropic_and_back() -> None:
    """OpenAI parallel_tool_calls=false <-> Anthropic disable_parallel_tool_use=true."""
    out, _ = tr({**base(OAI), "parallel_tool_calls": False}, OAI, ANT)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    back, _ = tr(out, ANT, OAI)
    assert back["parallel_tool_calls"] is False


UNSUPPORTED = [
    (OAI, ANT, {"logprobs": True}, "logprobs"),
    (OAI, ANT, {"top_logprobs": 3}, "top_logprobs"),
    (OAI, ANT, {"n": 2}, "n"),
    (OAI, ANT, {"presence_penalty": 0.5}, "presence_penalty"),
    (OAI, ANT, {"frequency_penalty": 0.5}, "frequency_penalty"),
    (OAI, ANT, {"seed": 42}, "seed"),
    (OAI, ANT, {"logit_bias": {"50256": -100}}, "logit_bias"),
    (OAI, GEM, {"reasoning_effort": "minimal"}, "reasoning_effort"),
    (OAI, GEM, {"parallel_tool_calls": False}, "parallel_tool_calls"),
    (OAI, GEM, {"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    (ANT, OAI, {"top_k": 5}, "top_k"),
    (ANT, OAI, {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
    (ANT, GEM, {"thinking": {"type": "enabled"}}, "thinking"),
    (ANT, GEM, {"mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "x"}]}, "mcp_servers"),
    (GEM, OAI, {"generationConfig": {"topK": 5}}, "topK"),
    (
        GEM,
        OAI,
        {"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]},
        "safetySettings",
    ),
    (GEM, OAI, {"generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}}}, "thinkingConfig.thinkingBudget"),
    (GEM, ANT, {"generationConfig": {"presencePenalty": 0.3}}, "presencePenalty"),
    (GEM, ANT, {"generationConfig": {"seed": 3}}, "seed"),
    (GEM, ANT, {"generationConfig": {"responseLogprobs": True}}, "responseLogprobs"),
    (GEM, ANT, {"generationConfig": {"logprobs": 3}}, "logprobs"),
    (GEM, ANT, {"generationConfig": {"candidateCount": 2}}, "candidateCount"),
    (GEM, ANT, {"tools": [{"googleSearch": {}}]}, "tools.googleSearch"),
    (GEM, ANT, {"cachedContent": "cachedContents/abc"}, "cachedContent"),
]


@pytest.mark.parametrize(
    ("source", "target", "extra", "name"), UNSUPPORTED, ids=[u[3] + f"-{u[0]}->{u[1]}" for u in UNSUPPORTED]
)
def test_unsupported_parameter(source: Dialect, target: Dialect, extra: dict[str, Any], name: str) -> None:
    """A parameter with no equivalent raises under "error" and is dropped and listed under "drop"."""
    body = {**base(source), **extra}
    with pytest.raises(UnsupportedParameter) as info:
        tr(body, source, target)
    assert info.value.name == name
    _out, dropped = tr(body, source, target, DROP)
    assert name in dropped


USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


def tool_loop(use: dict[str, Any] = USE, result: dict[str, Any] = RESULT, text: dict[str, Any] | None = None) -> Any:
    """An Anthropic app's tool loop: its question, the model's call, the call's result and a text block."""
    text = text or {"type": "text", "text": "and tomorrow?"}
    return {
        **base(ANT),
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [result, text]},
        ],
    }


SERVER_CALLER = {"type": "code_execution_20250825", "tool_id": "srvtoolu_1"}
BLOCK_FIELDS = {
    "text.priority": tool_loop(text={"type": "text", "text": "and tomorrow?", "priority": "high"}),
    "tool_use.toolset_name": tool_loop(use={**USE, "toolset_name": "browser"}),
    "tool_use.caller": tool_loop(use={**USE, "caller": SERVER_CALLER}),
    "tool_result.toolset_name": tool_loop(result={**RESULT, "toolset_name": "browser"}),
    "text.x": tool_loop(result={**RESULT, "content": [{"type": "text", "text": "sunny", "x": 1}]}),
    "content.search_result": tool_loop(text={"type": "search_result", "source": "s", "title": "t", "content": []}),
    "user.soak_note": {**base(ANT), "messages": [{"role": "user", "content": "hi", "soak_note": "x"}]},
    "assistant.stop_reason": {
        **base(ANT),
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "stop_reason": "end_turn"},
            {"role": "user", "content": "and?"},
        ],
    },
}


@pytest.mark.parametrize("target", [OAI, GEM])
@pytest.mark.parametrize("name", list(BLOCK_FIELDS))
def test_an_anthropic_blocks_field_with_no_place_is_refused_by_name_or_dropped_and_listed(
    name: str, target: Dialect
) -> None:
    """A field of a text, tool_use or tool_result block that the target has no place for (a server tool's
    ``caller``, ``toolset_name``, one the sidecar does not know) is refused as ``<type>.<field>`` under
    "error" and listed under "drop", as an unknown block type is (``content.<type>``), and a message's
    own field beside its role and content as ``<role>.<field>``; before 2026-12-06 the fields were left out
    unsaid (a message's until wave 34's soak found it)."""
    body = BLOCK_FIELDS[name]
    with pytest.raises(UnsupportedParameter) as info:
        tr(body, ANT, target)
    assert info.value.name == name
    _out, dropped = tr(body, ANT, target, DROP)
    assert dropped == [name]


def test_an_anthropic_answers_block_sent_back_is_listed_not_refused() -> None:
    """What an Anthropic answer's blocks carry and its SDKs send back, which changes nothing generated (a
    ``tool_use``'s ``caller`` of type ``direct``, ``cache_control`` on a tool result's text) is dropped and
    listed under "error" too; a null field asks for nothing."""
    use = {**USE, "caller": {"type": "direct"}, "toolset_name": None}
    content = [{"type": "text", "text": "sunny", "cache_control": {"type": "ephemeral"}, "citations": None}]
    out, dropped = tr(tool_loop(use=use, result={**RESULT, "content": content}), ANT, OAI)
    assert dropped == ["tool_use.caller", "cache_control"]
    assert out["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert out["messages"][2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}


def test_default_values_ask_for_nothing() -> None:
    """n=1, logprobs=false, zero penalties and parallel_tool_calls=true are no reason to refuse."""
    extra = {
        "n": 1,
        "logprobs": False,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "parallel_tool_calls": True,
    }
    out, dropped = tr({**base(OAI), **extra}, OAI, ANT)
    assert dropped == []
    assert "tool_choice" not in out
    _, dropped = tr({**base(OAI), **extra}, OAI, GEM)
    assert dropped == []
    _, dropped = tr({**base(ANT), "thinking": {"type": "disabled"}}, ANT, OAI)
    assert dropped == []


def test_gemini_supports_what_anthropic_lacks() -> None:
    """seed, penalties and n reach Gemini's generationConfig."""
    extra = {"seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2, "n": 2}
    out, _ = tr({**base(OAI), **extra}, OAI, GEM)
    assert out["generationConfig"] == {
        "seed": 7,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "candidateCount": 2,
    }


def test_streamed_n_is_unsupported() -> None:
    """A translated stream carries one choice: n>1 with stream is refused (or dropped)."""
    with pytest.raises(UnsupportedParameter):
        tr({**base(OAI), "n": 2, "stream": True}, OAI, GEM)
    out, dropped = tr({**base(OAI), "n": 2, "stream": True}, OAI, GEM, DROP)
    assert "candidateCount" not in out.get("generationConfig", {})
    assert dropped == ["n"]


def test_ignored_parameters_are_listed_not_refused() -> None:
    """store, metadata and service_tier change nothing generated: dropped and listed even under "error"."""
    extra = {"store": True, "metadata": {"k": "v"}, "service_tier": "auto"}
    _, dropped = tr({**base(OAI), **extra}, OAI, ANT)
    assert dropped == ["store", "metadata", "service_tier"]


NEWEST_LISTED = [
    (ANT, {"billing_policy": {"type": "billing_policy", "bill_to": "self"}}, "billing_policy"),
    (ANT, {"fallback_credit_token": "fct_1"}, "fallback_credit_token"),
    (ANT, {"fallbacks": "default"}, "fallbacks"),
    (ANT, {"thinking": {"type": "between_tools"}}, "thinking"),
    (
        ANT,
        {"tools": [{"name": "get_weather", "input_schema": TOOL_SCHEMA, "allowed_callers": ["direct"]}]},
        "tools.allowed_callers",
    ),
    (GEM, {"serviceTier": "flex"}, "serviceTier"),
    (GEM, {"store": False}, "store"),
    (GEM, {"toolConfig": {"includeServerSideToolInvocations": True}}, "toolConfig.includeServerSideToolInvocations"),
    (GEM, {"toolConfig": {"retrievalConfig": {"languageCode": "de"}}}, "toolConfig.retrievalConfig"),
    (
        GEM,
        {"toolConfig": {"functionCallingConfig": {"mode": "AUTO", "streamFunctionCallArguments": True}}},
        "functionCallingConfig.streamFunctionCallArguments",
    ),
]


NEWEST_LISTED_PAIRS = [(s, t, e, n) for s, e, n in NEWEST_LISTED for t in DIALECTS if t is not s]


@pytest.mark.parametrize(
    ("source", "target", "extra", "name"), NEWEST_LISTED_PAIRS, ids=[f"{p[3]}-{p[1]}" for p in NEWEST_LISTED_PAIRS]
)
def test_what_the_newest_sdks_send_and_no_answer_depends_on_is_listed_not_refused(
    source: Dialect, target: Dialect, extra: dict[str, Any], name: str
) -> None:
    """Fields of the newest anthropic (2.17) and google-genai (3.6.1) requests that change nothing generated
    (who is billed, Anthropic's own retry on another model, a tool the model may call itself, Gemini's
    service tier and logging, what only Gemini's server-side tools read, a streaming granularity) or ask for
    no thinking (Anthropic's ``between_tools``) are dropped and listed under "error"; before 2026-12-06 each
    was a 400 (a stream's ``streamFunctionCallArguments`` was left out unsaid)."""
    _out, dropped = tr({**base(source), **extra}, source, target)
    assert dropped == [name]


UNKNOWN_FIELDS = [
    (ANT, GEM, {"thinking": {"type": "adaptive", "display": "full"}}, "thinking.display"),
    (ANT, GEM, {"thinking": {"type": "enabled", "budget_tokens": 2048, "effort": "max"}}, "thinking.effort"),
    (
        GEM,
        OAI,
        {"toolConfig": {"functionCallingConfig": {"mode": "AUTO", "partialArgs": True}}},
        "functionCallingConfig.partialArgs",
    ),
]


@pytest.mark.parametrize(("source", "target", "extra", "name"), UNKNOWN_FIELDS, ids=[u[3] for u in UNKNOWN_FIELDS])
def test_an_unknown_thinking_or_function_calling_field_is_refused_by_name(
    source: Dialect, target: Dialect, extra: dict[str, Any], name: str
) -> None:
    """A ``thinking`` value or field an Anthropic app sends that the sidecar does not know, and a Gemini
    ``functionCallingConfig`` field, are refused by name under "error" and listed under "drop": they were
    left out unsaid."""
    body = {**base(source), **extra}
    with pytest.raises(UnsupportedParameter) as info:
        tr(body, source, target)
    assert info.value.name == name
    _out, dropped = tr(body, source, target, DROP)
    assert dropped == [name]


@pytest.mark.parametrize(("display", "shown"), [(None, True), ("summarized", True), ("omitted", False)])
def test_an_anthropic_thinking_display_says_whether_gemini_includes_thoughts(display: str | None, shown: bool) -> None:
    """``thinking.display: omitted`` (thoughts redacted) reaches Gemini without ``includeThoughts``;
    ``summarized`` or no display asks for them, as Anthropic shows them. Before 2026-12-06 ``omitted`` was
    left out unsaid and Gemini was asked for thoughts (an Anthropic app gets none from another provider:
    they carry no Anthropic signature)."""
    thinking = {"type": "enabled", "budget_tokens": 2048} | ({"display": display} if display else {})
    out, dropped = tr({**base(ANT), "thinking": thinking}, ANT, GEM)
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048} | (
        {"includeThoughts": True} if shown else {}
    )
    assert dropped == []


@pytest.mark.parametrize("options", [ERROR, DROP], ids=["error", "drop"])
@pytest.mark.parametrize("target", [OAI, ANT])
def test_a_gemini_continuation_token_is_never_translated(options: TranslateOptions, target: Dialect) -> None:
    """A ``continuationToken`` resumes an answer Gemini cut from what Gemini keeps: another provider would
    start a new one, which the app would join to the cut one, so it is refused in either mode, saying why."""
    with pytest.raises(TranslationError, match="'continuationToken': it resumes an answer Gemini cut"):
        tr({**base(GEM), "continuationToken": "Q1RY"}, GEM, target, options)


def test_stop_string_becomes_a_list() -> None:
    """OpenAI's stop may be one string; Anthropic and Gemini take a list."""
    body = {**base(OAI), "stop": "###"}
    assert tr(body, OAI, ANT)[0]["stop_sequences"] == ["###"]
    assert tr(body, OAI, GEM)[0]["generationConfig"]["stopSequences"] == ["###"]


# --------------------------------------------------------------------------------------------------------
# Structured output

PERSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": ["integer", "null"]},
        "email": {"type": "string", "format": "email"},
        "born": {"type": "string", "format": "date-time"},
        "kind": {"const": "person"},
        "address": {"$ref": "#/$defs/Address"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age", "ghost"],
    "additionalProperties": False,
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "zip": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "additionalProperties": False,
        }
    },
}
PERSON_GEMINI = {
    "type": "OBJECT",
    "properties": {
        "name": {"type": "STRING"},
        "age": {"type": "INTEGER", "nullable": True},
        "email": {"type": "STRING"},
        "born": {"type": "STRING", "format": "date-time"},
        "kind": {"type": "STRING", "enum": ["person"]},
        "address": {
            "type": "OBJECT",
            "properties": {"city": {"type": "STRING"}, "zip": {"type": "STRING", "nullable": True}},
        },
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 3},
    },
    "required": ["name", "age"],
}


def _json_schema_request() -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "Extract: Ada, 36."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "person", "strict": True, "schema": PERSON_SCHEMA},
        },
    }


def test_json_schema_to_gemini_is_sanitised() -> None:
    """response_format json_schema -> responseMimeType + responseSchema without keywords Gemini rejects."""
    out, _ = tr(_json_schema_request(), OAI, GEM)
    assert out["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": PERSON_GEMINI,
    }


def test_json_object_to_gemini() -> None:
    """json_object -> responseMimeType application/json without a schema."""
    body = {**base(OAI), "response_format": {"type": "json_object"}}
    assert tr(body, OAI, GEM)[0]["generationConfig"] == {"responseMimeType": "application/json"}


def test_json_schema_to_anthropic_is_a_forced_tool() -> None:
    """Anthropic gets a tool whose input schema is the requested schema, and is forced to call it."""
    out, _ = tr(_json_schema_request(), OAI, ANT)
    assert out["tools"][-1]["name"] == RESPONSE_TOOL
    assert out["tools"][-1]["input_schema"] == PERSON_SCHEMA
    assert out["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}


def test_json_schema_with_tools_lets_anthropic_choose() -> None:
    """With other tools and tool_choice auto, Anthropic must call some tool: a real one or the answer tool."""
    body = {**base(OAI), "response_format": _json_schema_request()["response_format"]}
    out, _ = tr(body, OAI, ANT)
    assert [t["name"] for t in out["tools"]] == ["get_weather", RESPONSE_TOOL]
    assert out["tool_choice"] == {"type": "any"}


def test_gemini_schema_reaches_openai_as_json_schema() -> None:
    """Gemini responseSchema -> OpenAI response_format json_schema with lower-case JSON Schema types."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "List two colours"}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {
                "type": "ARRAY",
                "items": {"type": "STRING", "nullable": True},
                "propertyOrdering": ["a"],
            },
        },
    }
    out, _ = tr(body, GEM, OAI)
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "response",
            "schema": {"type": "array", "items": {"type": ["string", "null"]}},
        },
    }


def test_anthropic_output_config_reaches_openai() -> None:
    """Anthropic output_config.format json_schema -> OpenAI response_format json_schema."""
    body = {**base(ANT), "output_config": {"format": {"type": "json_schema", "schema": TOOL_SCHEMA}}}
    out, _ = tr(body, ANT, OAI)
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": TOOL_SCHEMA},
    }


def test_forced_tool_answer_reads_back_as_text() -> None:
    """Anthropic's call of the answer tool comes back to an OpenAI caller as JSON text, finish "stop"."""
    upstream = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": RESPONSE_TOOL, "input": {"name": "Ada", "age": 36}}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    out = translate_response(upstream, source=ANT, target=OAI, operation=Operation.CHAT, model="gpt")
    message = out["choices"][0]["message"]
    assert json.loads(message["content"]) == {"name": "Ada", "age": 36}
    assert "tool_calls" not in message
    assert out["choices"][0]["finish_reason"] == "stop"


class Person(BaseModel):
    name: str
    age: int


def test_forced_tool_answer_cut_by_max_tokens_is_a_length_stop() -> None:
    """An answer tool call Anthropic cut at max_tokens reaches an OpenAI caller with finish "length", on
    which openai-python's parse() raises LengthFinishReasonError (it was "stop": a parse of cut JSON)."""
    upstream = {
        "id": "msg_03",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "tool_use", "id": "toolu_3", "name": RESPONSE_TOOL, "input": {}}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 10, "output_tokens": 16},
    }
    out = translate_response(upstream, source=ANT, target=OAI, operation=Operation.CHAT, model="gpt")
    assert out["choices"][0]["finish_reason"] == "length"
    client = sdk.openai_client(json.dumps(out).encode(), sdk.JSON)
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model="m", messages=[{"role": "user", "content": "x"}], response_format=Person)


def test_non_object_schema_is_wrapped_for_anthropic_and_unwrapped_back() -> None:
    """An array-rooted Gemini schema goes to Anthropic wrapped in {"value": ...}, and comes back bare."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "Two colours"}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
    }
    out, _ = tr(body, GEM, ANT)
    tool = out["tools"][-1]
    assert tool["name"] == RESPONSE_TOOL_VALUE
    assert tool["input_schema"] == {
        "type": "object",
        "properties": {"value": {"type": "array", "items": {"type": "string"}}},
        "required": ["value"],
    }
    upstream = {
        "id": "msg_02",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": RESPONSE_TOOL_VALUE,
                "input": {"value": ["red", "blue"]},
            }
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    back = translate_response(upstream, source=ANT, target=GEM, operation=Operation.CHAT, model="gemini")
    assert json.loads(back["candidates"][0]["content"]["parts"][0]["text"]) == ["red", "blue"]
    assert back["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("name", [RESPONSE_TOOL, RESPONSE_TOOL_VALUE])
def test_forced_tool_answer_streams_as_text(name: str) -> None:
    """Streamed, the answer tool's JSON reaches an OpenAI caller as content deltas, finish "stop"."""
    from sidecar.translate import new_stream_translator

    value = {"name": "Ada"} if name == RESPONSE_TOOL else ["red", "blue"]
    wire = json.dumps(value if name == RESPONSE_TOOL else {"value": value})
    upstream = "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
        for e in [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_3",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "c",
                    "usage": {"input_tokens": 4, "output_tokens": 1},
                },
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_3", "name": name, "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": wire[:5]},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": wire[5:]},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
            {"type": "message_stop"},
        ]
    )
    translator = new_stream_translator(
        source=ANT, target=OAI, operation=Operation.CHAT, model="gpt", include_usage=True
    )
    out = []
    for event in sdk.events(upstream):
        out += translator.feed(event)
    out += translator.finish()
    completion = sdk.openai_final(sdk.render(out))
    assert json.loads(completion.choices[0].message.content) == value
    assert not completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "stop"
