"""The cache key, field by field, in each dialect: every request field that can change the answer is in
it (another value, another key), and the fields that only change how an answer travels or is billed are
not (another value, the same key: a hit). The table in docs/caching.md, "The key", is this file's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sidecar.dialects import Dialect

from .keys import cache_key, route_plan

PNG_A = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
PNG_B = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}}

OPENAI: dict[str, Any] = {
    "model": "gpt",
    "temperature": 0,
    "messages": [
        {"role": "system", "content": "Be terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_A}"}},
            ],
        },
    ],
}
ANTHROPIC: dict[str, Any] = {
    "model": "claude",
    "max_tokens": 100,
    "temperature": 0,
    "system": "Be terse.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_A}},
            ],
        }
    ],
}
GEMINI: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "Be terse."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": PNG_A}}]}
    ],
    "generationConfig": {"temperature": 0},
}
BASES = {Dialect.OPENAI: OPENAI, Dialect.ANTHROPIC: ANTHROPIC, Dialect.GEMINI: GEMINI}


def _image(dialect: Dialect, data: str) -> dict[str, Any]:
    """The base body with its image's bytes replaced by ``data``."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(BASES[dialect]).replace(PNG_A.encode(), data.encode()))
    return result


CHANGING: list[tuple[Dialect, str, dict[str, Any]]] = [
    (Dialect.OPENAI, "tools", {"tools": [TOOL]}),
    (Dialect.OPENAI, "tool_choice", {"tools": [TOOL], "tool_choice": "required"}),
    (Dialect.OPENAI, "response_format", {"response_format": SCHEMA}),
    (
        Dialect.OPENAI,
        "system prompt",
        {"messages": [{"role": "system", "content": "Be long."}, *OPENAI["messages"][1:]]},
    ),
    (Dialect.OPENAI, "reasoning_effort", {"reasoning_effort": "high"}),
    (Dialect.OPENAI, "stop", {"stop": ["\n"]}),
    (Dialect.OPENAI, "seed", {"seed": 7}),
    (Dialect.OPENAI, "n: 1", {"n": 1}),
    (Dialect.OPENAI, "logprobs: false", {"logprobs": False}),
    (Dialect.OPENAI, "max_completion_tokens", {"max_completion_tokens": 50}),
    (Dialect.OPENAI, "parallel_tool_calls", {"tools": [TOOL], "parallel_tool_calls": False}),
    (Dialect.ANTHROPIC, "tools", {"tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}),
    (Dialect.ANTHROPIC, "tool_choice", {"tool_choice": {"type": "any"}}),
    (Dialect.ANTHROPIC, "system prompt", {"system": "Be long."}),
    (Dialect.ANTHROPIC, "thinking", {"thinking": {"type": "enabled", "budget_tokens": 1024}}),
    (Dialect.ANTHROPIC, "fallbacks", {"fallbacks": [{"model": "another"}]}),  # another model may answer
    (Dialect.ANTHROPIC, "stop_sequences", {"stop_sequences": ["\n"]}),
    (Dialect.ANTHROPIC, "output_format", {"output_format": {"type": "json_schema", "schema": {"type": "object"}}}),
    (
        Dialect.GEMINI,
        "safetySettings",
        {"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]},
    ),
    (
        Dialect.GEMINI,
        "generationConfig.responseSchema",
        {
            "generationConfig": {
                "temperature": 0,
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT"},
            }
        },
    ),
    (
        Dialect.GEMINI,
        "generationConfig.thinkingConfig",
        {"generationConfig": {"temperature": 0, "thinkingConfig": {"thinkingBudget": 0}}},
    ),
    (
        Dialect.GEMINI,
        "generationConfig.stopSequences",
        {"generationConfig": {"temperature": 0, "stopSequences": ["\n"]}},
    ),
    (Dialect.GEMINI, "generationConfig.seed", {"generationConfig": {"temperature": 0, "seed": 7}}),
    (Dialect.GEMINI, "systemInstruction", {"systemInstruction": {"parts": [{"text": "Be long."}]}}),
    (Dialect.GEMINI, "tools", {"tools": [{"functionDeclarations": [{"name": "lookup"}]}]}),
    (Dialect.GEMINI, "toolConfig", {"toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}),
]


@pytest.mark.parametrize(("dialect", "field", "change"), CHANGING, ids=[f"{d}-{f}" for d, f, _ in CHANGING])
def test_a_field_that_changes_the_answer_changes_the_key(dialect: Dialect, field: str, change: dict[str, Any]) -> None:
    """The request with ``field`` set (or set otherwise) has another key than the request without it."""
    base = BASES[dialect]
    changed = cache_key({**base, **change}, dialect=dialect, plan=route_plan(cacheable="always"))
    assert changed is not None and changed != cache_key(base, dialect=dialect, plan=route_plan(cacheable="always"))


@pytest.mark.parametrize("dialect", list(BASES))
def test_an_image_is_in_the_key_by_its_bytes(dialect: Dialect) -> None:
    """Two requests that differ only in the image's bytes (inline, base64) have two keys."""
    assert cache_key(_image(dialect, PNG_B), dialect=dialect) != cache_key(BASES[dialect], dialect=dialect)


KEEPING: list[tuple[Dialect, str, dict[str, Any]]] = [
    (Dialect.OPENAI, "user", {"user": "u-42"}),
    (Dialect.OPENAI, "stream", {"stream": True}),
    (Dialect.OPENAI, "stream_options", {"stream": True, "stream_options": {"include_usage": True}}),
    (Dialect.OPENAI, "metadata", {"metadata": {"request_id": "r-9"}}),
    (Dialect.OPENAI, "store", {"store": False}),
    (Dialect.OPENAI, "service_tier", {"service_tier": "flex"}),
    (Dialect.OPENAI, "safety_identifier", {"safety_identifier": "h-1"}),
    (Dialect.OPENAI, "prompt_cache_key", {"prompt_cache_key": "k-1"}),
    (Dialect.ANTHROPIC, "metadata", {"metadata": {"user_id": "u-42"}}),
    (Dialect.ANTHROPIC, "stream", {"stream": True}),
    (Dialect.ANTHROPIC, "service_tier", {"service_tier": "standard_only"}),
    (Dialect.ANTHROPIC, "inference_geo", {"inference_geo": "us"}),
    (Dialect.ANTHROPIC, "workspace_id", {"workspace_id": "w-1"}),
    (Dialect.ANTHROPIC, "billing_policy", {"billing_policy": {"type": "x"}, "fallback_credit_token": "t"}),
    (Dialect.GEMINI, "labels", {"labels": {"team": "a"}}),
    (Dialect.GEMINI, "serviceTier", {"serviceTier": "flex"}),
    (Dialect.GEMINI, "service_tier", {"service_tier": "flex"}),
    (Dialect.GEMINI, "store", {"store": False}),
]


@pytest.mark.parametrize(("dialect", "field", "change"), KEEPING, ids=[f"{d}-{f}" for d, f, _ in KEEPING])
def test_a_field_that_does_not_change_the_answer_keeps_the_key(
    dialect: Dialect, field: str, change: dict[str, Any]
) -> None:
    """The request with ``field`` set has the key of the request without it: a hit."""
    base = BASES[dialect]
    assert cache_key({**base, **change}, dialect=dialect) == cache_key(base, dialect=dialect)


def test_request_ids_and_other_headers_are_not_in_the_key() -> None:
    """Request ids, tracing and the SDK's own headers do not change the key (only Anthropic's beta and
    version headers do: test_key)."""
    headers = {
        "x-request-id": "r-1",
        "traceparent": "00-ab-cd-01",
        "x-stainless-retry-count": "1",
        "openai-organization": "o",
    }
    for dialect, base in BASES.items():
        assert cache_key(base, dialect=dialect, headers=headers) == cache_key(base, dialect=dialect)
