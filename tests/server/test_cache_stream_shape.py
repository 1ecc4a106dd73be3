"""A streamed hit's events have the live stream's shape, caller and provider of one dialect (the fake
provider behind the real sidecar, raw HTTP so that every event is seen): the same event types in the
same order, text and tool-call streams (a Gemini stream's ``finishReason`` on its last content chunk,
an Anthropic stream's ``ping`` after ``message_start``)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .cache_helpers import cache_policy

TEXT_PROMPT = "tell me about the weather in four short words"
TOOL_PROMPT = "fake:tools2 what is the weather in Paris and in Rome"
_WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _request(caller: str, prompt: str, tools: bool) -> tuple[str, dict[str, Any]]:
    if caller == "openai":
        body: dict[str, Any] = {
            "model": "cached",
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": prompt}],
        }
        if tools:
            body["tools"] = [{"type": "function", "function": {"name": "weather", "parameters": _WEATHER}}]
        return "/v1/chat/completions", body
    if caller == "anthropic":
        body = {
            "model": "cached",
            "max_tokens": 100,
            "temperature": 0,
            "stream": True,
            "messages": [{"role": "user", "content": prompt}],
        }
        if tools:
            body["tools"] = [{"name": "weather", "input_schema": _WEATHER}]
        return "/v1/messages", body
    body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": {"temperature": 0}}
    if tools:
        body["tools"] = [{"functionDeclarations": [{"name": "weather", "parameters": _WEATHER}]}]
    return "/v1beta/models/cached:streamGenerateContent?alt=sse", body


async def _events(running: RunningSidecar, caller: str, prompt: str, tools: bool) -> tuple[str, list[tuple[str, Any]]]:
    path, body = _request(caller, prompt, tools)
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers={"x-api-key": "k"}) as answer,
    ):
        assert answer.status == 200
        text = (await answer.read()).decode()
        state = answer.headers["x-sidecar-cache"]
    events: list[tuple[str, Any]] = []
    name = ""
    for line in text.splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            events.append((name, None if data == "[DONE]" else orjson.loads(data)))
            name = ""
    return state, events


def _shape(caller: str, name: str, data: Any) -> str:
    """What an event is, without its text: its type and which of the dialect's fields it carries."""
    if data is None:
        return "[DONE]"
    if caller == "anthropic":
        delta = data.get("delta") or data.get("content_block") or {}
        return f"{name}/{data['type']}/{delta.get('type', '')}"
    if caller == "openai":
        fields = ["usage"] if data.get("usage") else []
        for choice in data.get("choices") or []:
            delta = choice["delta"]
            fields += [k for k in ("role", "content", "tool_calls") if delta.get(k) is not None]
            fields += ["finish"] if choice.get("finish_reason") else []
        return "+".join(fields)
    fields = ["usage"] if data.get("usageMetadata") else []
    for candidate in data.get("candidates") or []:
        fields += sorted({k for part in candidate.get("content", {}).get("parts", []) for k in part})
        fields += ["finish"] if candidate.get("finishReason") else []
    return "+".join(fields)


# An OpenAI tool-call stream is left out: the fake provider sends the role in a chunk of its own before
# the first call, where the replay (and OpenAI's own streams) send the role with the first call.
CASES = [("openai", False), ("anthropic", False), ("anthropic", True), ("gemini", False), ("gemini", True)]


@pytest.mark.parametrize(("dialect", "tools"), CASES, ids=[f"{d}-{'tools' if t else 'text'}" for d, t in CASES])
async def test_a_streamed_hit_has_the_live_streams_events(
    fake: FakeFactory, sidecar: SidecarFactory, dialect: str, tools: bool
) -> None:
    """A ``dialect`` app's stream from a ``dialect`` upstream, live then from the cache: the same event
    types in the same order, each carrying the same kinds of field."""
    running = await sidecar(cache_policy([await fake("f0")], speaks=dialect))
    prompt = TOOL_PROMPT if tools else TEXT_PROMPT
    live_state, live = await _events(running, dialect, prompt, tools)
    hit_state, hit = await _events(running, dialect, prompt, tools)
    assert (live_state, hit_state) == ("miss", "hit")
    live_shape = [_shape(dialect, n, d) for n, d in live]
    hit_shape = [_shape(dialect, n, d) for n, d in hit]
    assert hit_shape == live_shape, (live_shape, hit_shape)
