"""Property: a request body that is valid JSON but wrong in shape (a field of another JSON type, missing,
emptied, unknown, reordered; parts of unknown types, odd tool schemas, messages out of order, lone
surrogates, NUL, deep nesting) sent raw to any endpoint the sidecar serves, routed to a target of the
caller's own dialect or translated to another, is answered 2xx or 4xx, never 5xx (the fake providers
behind it never fail); a 4xx is an error body in the caller's dialect's shape; no line is logged at
error level or with a traceback. Hypothesis draws the bodies (``hostile_json``), derandomized, so CI
runs the same examples every time."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import dumps, error_shape_problem, fuzz_settings, logged_faults, mutated
from .three_dialects import ANTHROPIC_TOOL, TOOL
from .three_dialects import start as start_three

EXAMPLES = 40  # per endpoint, target and stack: 54 cases
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
HEADERS = {
    "openai": {"authorization": "Bearer app"},
    "anthropic": {"anthropic-version": "2023-06-01", "x-api-key": "app"},
    "gemini": {"x-goog-api-key": "app"},
}


def openai_chat(model: str, stream: bool) -> dict[str, Any]:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [TOOL],
        "tool_choice": "auto",
        "max_tokens": 20,
        "temperature": 0.5,
        "stop": ["zz"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}},
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def anthropic_messages(model: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 20,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]},
        ],
        "tools": [ANTHROPIC_TOOL],
        "tool_choice": {"type": "auto"},
        "temperature": 0.5,
        "stop_sequences": ["zz"],
        "metadata": {"user_id": "u1"},
        "stream": stream,
    }


def anthropic_count(model: str, _stream: bool) -> dict[str, Any]:
    body = anthropic_messages(model, False)
    for name in ("max_tokens", "stream", "temperature", "stop_sequences", "metadata"):
        del body[name]
    return body


def gemini_generate(_model: str, _stream: bool) -> dict[str, Any]:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": "sunny"}}}]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "w", "parameters": SCHEMA}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {"maxOutputTokens": 20, "temperature": 0.5, "stopSequences": ["zz"]},
    }


def gemini_count(_model: str, _stream: bool) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "weather?"}]}]}


def gemini_embed(_model: str, _stream: bool) -> dict[str, Any]:
    return {"content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY"}


def gemini_batch_embed(model: str, _stream: bool) -> dict[str, Any]:
    one = {"model": f"models/{model}", "content": {"parts": [{"text": "hello"}]}}
    return {"requests": [one, {**one, "content": {"parts": [{"text": "again"}]}}]}


def openai_embeddings(model: str, _stream: bool) -> dict[str, Any]:
    return {"model": model, "input": ["hello", "again"], "encoding_format": "float"}


def openai_completion(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "prompt": ["say hi"], "max_tokens": 5, "stream": stream}


def openai_responses(model: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "weather?"}]}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": SCHEMA}],
        "max_output_tokens": 20,
        "stream": stream,
    }


# (caller dialect, path with {model}, body builder, whether it streams, the models it is routed to)
CHAT_TARGETS = ("to-openai", "to-anthropic", "to-gemini")
ENDPOINTS = {
    "openai chat": ("openai", "/v1/chat/completions", openai_chat, False, CHAT_TARGETS),
    "openai chat stream": ("openai", "/v1/chat/completions", openai_chat, True, CHAT_TARGETS),
    "openai completions": ("openai", "/v1/completions", openai_completion, False, ("to-openai",)),
    "openai responses": ("openai", "/v1/responses", openai_responses, False, CHAT_TARGETS),
    "openai responses stream": ("openai", "/v1/responses", openai_responses, True, CHAT_TARGETS),
    "openai embeddings": ("openai", "/v1/embeddings", openai_embeddings, False, ("to-openai", "embed-gemini")),
    "anthropic messages": ("anthropic", "/v1/messages", anthropic_messages, False, CHAT_TARGETS),
    "anthropic messages stream": ("anthropic", "/v1/messages", anthropic_messages, True, CHAT_TARGETS),
    "anthropic count_tokens": (
        "anthropic",
        "/v1/messages/count_tokens",
        anthropic_count,
        False,
        ("to-anthropic", "to-gemini"),
    ),
    "gemini generateContent": (
        "gemini",
        "/v1beta/models/{model}:generateContent",
        gemini_generate,
        False,
        CHAT_TARGETS,
    ),
    "gemini streamGenerateContent": (
        "gemini",
        "/v1beta/models/{model}:streamGenerateContent?alt=sse",
        gemini_generate,
        True,
        CHAT_TARGETS,
    ),
    "gemini countTokens": ("gemini", "/v1beta/models/{model}:countTokens", gemini_count, False, ("to-gemini",)),
    "gemini embedContent": ("gemini", "/v1beta/models/{model}:embedContent", gemini_embed, False, ("embed-gemini",)),
    "gemini batchEmbedContents": (
        "gemini",
        "/v1beta/models/{model}:batchEmbedContents",
        gemini_batch_embed,
        False,
        ("embed-gemini",),
    ),
}
CASES = [(name, model) for name, endpoint in ENDPOINTS.items() for model in endpoint[4]]


DROPPING = "".join(
    f"  - {{name: {m}-drop, match: {{model: {m}-drop}}, target: {m}, unsupported_params: drop}}\n"
    for m in ("to-openai", "to-anthropic", "to-gemini", "embed-gemini")
)


FEATURES = """routing:
  task_header: trust
  classes:
    - name: extraction
      rules: [{keywords: [extract, weather]}, {features: {json_schema: true}}]
    - {name: math, rules: [{regex: '(?i)\\bintegral\\b'}]}
  complexity:
    default: medium
    levels:
      - {name: simple, tier: economy, rules: [{features: {last_user_chars: {lt: 200}, tools: false}}]}
      - {name: medium, tier: standard}
      - {name: complex, tier: premium, rules: [{features: {prompt_tokens: {gt: 50}}}]}
budgets:
  limits:
    - {name: tokens, measure: tokens, amount: 100000000, window: day, scope: {by: global}}
    - {name: usd, measure: usd, amount: 1000, window: day, scope: {by: global}}
"""
FEATURED_ROUTES = "".join(
    f"  - name: {m}\n    match: {{model: {m}, features: {{tools: true}}}}\n    target: {m}\n"
    f"    caps: {{max_output_tokens: 64, max_input_tokens: 100000}}\n"
    f"    cache: {{enabled: true, cacheable: always}}\n"
    f"    shadow: {{candidates: [to-{'gemini' if m == 'to-openai' else 'openai'}], sample: 1.0}}\n"
    f"  - {{name: {m}-plain, match: {{model: {m}}}, target: {m}, cache: {{enabled: true, cacheable: always}}}}\n"
    for m in ("to-openai", "to-anthropic", "to-gemini")
)


@pytest.fixture(params=["plain", "features"])
async def stack(request: pytest.FixtureRequest, fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """The three fakes; each model also as ``<model>-drop``, whose route drops what a target cannot say.
    ``features``: the chat models' routes also match on the request's features, estimate its tokens
    (caps, token budgets, a routing block's classes and levels), cache every answer and shadow it."""
    if request.param == "plain":
        running, _urls = await start_three(fake, sidecar, DROPPING)
    else:
        running, _urls = await start_three(fake, sidecar, DROPPING + FEATURED_ROUTES + FEATURES)
    return running


async def send(running: RunningSidecar, dialect: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    headers = {**HEADERS[dialect], "content-type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, data=body, headers=headers) as response,
    ):
        return response.status, response.headers.get("content-type", ""), await response.read()


def check_answer(running: RunningSidecar, dialect: str, status: int, kind: str, raw: bytes, logged: int) -> None:
    """2xx or 4xx; a 4xx in the caller's dialect; a 2xx a JSON object or an event stream that ends with
    an event; no traceback anywhere; nothing logged as an error."""
    assert status < 500, raw[:600]
    assert b"Traceback" not in raw and b"internal_error" not in raw, raw[:600]
    if status >= 400:
        assert kind.startswith("application/json"), kind
        problem = error_shape_problem(dialect, status, orjson.loads(raw))
        assert problem is None, problem
    elif kind.startswith("application/json"):
        assert isinstance(orjson.loads(raw), dict), raw[:600]
    else:
        assert kind.startswith("text/event-stream") and raw.rstrip().endswith((b"}", b"[DONE]")), raw[-600:]
    faults = logged_faults(running.log_lines()[logged:])
    assert not faults, faults


@pytest.mark.parametrize(("endpoint", "model"), CASES, ids=[f"{e}-{m}" for e, m in CASES])
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_a_body_of_the_wrong_shape_is_a_clear_error_in_the_callers_dialect(
    stack: RunningSidecar, endpoint: str, model: str, data: st.DataObject
) -> None:
    """Any mutation of a valid body, routed with ``unsupported_params`` error or drop: 2xx or 4xx in the
    caller's error shape, nothing logged as an error."""
    dialect, path, build, stream, _models = ENDPOINTS[endpoint]
    model = data.draw(st.sampled_from([model, f"{model}-drop"]), label="model")
    body = data.draw(mutated(build(model, stream), keep=frozenset({"model"})), label="body")
    logged = len(stack.log_lines())
    status, kind, raw = await send(stack, dialect, path.format(model=model), dumps(body))
    check_answer(stack, dialect, status, kind, raw, logged)


@pytest.mark.parametrize(("endpoint", "model"), CASES, ids=[f"{e}-{m}" for e, m in CASES])
async def test_the_bodies_mutated_are_served_as_written(stack: RunningSidecar, endpoint: str, model: str) -> None:
    """Each endpoint's valid body is a 200 on each of its targets: the mutations start from a request that
    reaches the upstream, so what they break is checked past the edge, in the translators."""
    dialect, path, build, stream, _models = ENDPOINTS[endpoint]
    status, _kind, raw = await send(stack, dialect, path.format(model=model), dumps(build(model, stream)))
    assert status == 200, raw[:600]
