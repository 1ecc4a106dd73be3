"""A cached answer whose tool call holds an integer beyond 64 bits (JSON sets no limit; orjson reads one
as a double) is replayed digit for digit, as the live answer was: whole and streamed, in each dialect,
from a stored whole answer and from a stored stream. The upstreams are raw HTTP servers on loopback; the
answers are read with the standard library's JSON reader (exact, as the SDKs' are)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..upstream.raw import Request, UpstreamFactory, whole_or_streamed

ORDER = 123456789012345678901234567890
ARGS = f'{{"city": "Paris", "order": {ORDER}}}'  # as a model writes them
EXACT = {"city": "Paris", "order": ORDER}

WHOLE = {
    "openai": (
        '{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up", "choices": [{"index": 0,'
        ' "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",'
        ' "function": {"name": "get_weather", "arguments": ' + json.dumps(ARGS) + "}}]},"
        ' "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}'
    ),
    "anthropic": (
        '{"id": "msg_1", "type": "message", "role": "assistant", "model": "up", "content": [{"type": "tool_use",'
        ' "id": "toolu_1", "name": "get_weather", "input": ' + ARGS + '}], "stop_reason": "tool_use",'
        ' "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 5}}'
    ),
    "gemini": (
        '{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": '
        + ARGS
        + '}}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 3,'
        ' "candidatesTokenCount": 5, "totalTokenCount": 8}, "modelVersion": "up", "responseId": "r1"}'
    ),
}


def _events(dialect: str) -> list[bytes]:
    if dialect == "openai":
        head = '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": '
        call = '{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}'
        chunks = [
            head + '[{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [' + call + "]}}]}",
            head
            + '[{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '
            + json.dumps(ARGS)
            + "}}]}}]}",
            head + '[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}',
        ]
        return [f"data: {c}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
    if dialect == "anthropic":
        start = (
            '{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",'
            ' "model": "up", "content": [], "stop_reason": null, "usage": {"input_tokens": 3, "output_tokens": 1}}}'
        )
        block = (
            '{"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1",'
            ' "name": "get_weather", "input": {}}}'
        )
        delta = (
            '{"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '
            + json.dumps(ARGS)
            + "}}"
        )
        end = '{"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}'
        named = [
            ("message_start", start),
            ("content_block_start", block),
            ("content_block_delta", delta),
            ("content_block_stop", '{"type": "content_block_stop", "index": 0}'),
            ("message_delta", end),
            ("message_stop", '{"type": "message_stop"}'),
        ]
        return [f"event: {name}\ndata: {data}\n\n".encode() for name, data in named]
    return [f"data: {WHOLE['gemini']}\n\n".encode()]


def _request(dialect: str, stream: bool) -> tuple[str, dict[str, Any]]:
    said = [{"role": "user", "content": "order?"}]
    fn = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    if dialect == "openai":
        body: dict[str, Any] = {"model": "m", "messages": said, "tools": [{"type": "function", "function": fn}]}
        return "/v1/chat/completions", {**body, "stream": stream}
    if dialect == "anthropic":
        tool = {"name": fn["name"], "input_schema": fn["parameters"]}
        return "/v1/messages", {"model": "m", "max_tokens": 50, "messages": said, "tools": [tool], "stream": stream}
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "order?"}]}], "tools": [{"functionDeclarations": [fn]}]}
    return f"/v1beta/models/m:{method}", body


def _arguments(dialect: str, stream: bool, text: str) -> Any:
    """The tool call's arguments in an answer's text, read exactly (the standard library's reader)."""
    if not stream:
        return _whole_arguments(dialect, json.loads(text))
    events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and "[DONE]" not in line]
    if dialect == "openai":
        return json.loads(
            "".join(
                call["function"].get("arguments") or ""
                for event in events
                for choice in event["choices"]
                for call in choice["delta"].get("tool_calls") or []
            )
        )
    if dialect == "anthropic":
        return json.loads("".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"))
    return next(_whole_arguments(dialect, e) for e in events if "functionCall" in json.dumps(e))


def _whole_arguments(dialect: str, body: Any) -> Any:
    if dialect == "openai":
        return json.loads(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    if dialect == "anthropic":
        return body["content"][0]["input"]
    return body["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]


async def _answer(running: RunningSidecar, dialect: str, stream: bool) -> tuple[str, Any]:
    path, body = _request(dialect, stream)
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers={"x-api-key": "k", "x-goog-api-key": "k"}) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return answer.headers["x-sidecar-cache"], _arguments(dialect, stream, await answer.text())


@pytest.mark.parametrize("stored", ["whole", "stream"])
@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini"])
async def test_a_tool_argument_beyond_64_bits_is_replayed_exact(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, dialect: str, stored: str
) -> None:
    """A ``dialect`` answer whose tool call holds a 30-digit integer, stored from a ``stored`` answer: the
    live answer and its hits, whole and streamed, hold it digit for digit."""

    def streamed(request: Request) -> bool:
        return b'"stream":true' in request.body or b"alt=sse" in request.head

    upstream = await raw_upstream(whole_or_streamed(WHOLE[dialect].encode(), _events(dialect), streamed))
    base = f"{upstream.base}/v1" if dialect == "openai" else upstream.base
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: KEY}}}}\n"
        "models:\n  up: {provider: p, model: up}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [up], cache: {enabled: true, cacheable: always}}\n"
    )
    running = await sidecar(policy, env={"KEY": "sk-x"})
    live = await _answer(running, dialect, stored == "stream")
    assert live == ("miss", EXACT)
    assert await _answer(running, dialect, False) == ("hit", EXACT)
    assert await _answer(running, dialect, True) == ("hit", EXACT)
