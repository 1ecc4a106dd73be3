"""Parallel tool calls whose argument fragments an OpenAI-compatible upstream interleaves (vLLM, Azure
send call 1's and call 2's fragments in turns) reach an Anthropic app as Anthropic streams them: one
block at a time, each block's arguments inside it, so the SDK's final message and an app that runs a
call at its ``content_block_stop`` both get whole arguments."""

from __future__ import annotations

import json
from typing import Any

from ..conftest import SidecarFactory, provider_block
from ..sdk_clients import anthropic_client
from ..upstream.raw import ServerConn, UpstreamFactory, chunked, serve_forever


def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n"


def call(index: int, **function: str) -> dict[str, Any]:
    head: dict[str, Any] = {"index": index, "function": function}
    if "name" in function:
        head.update(id=f"call_{index}", type="function")
    return {"tool_calls": [head]}


INTERLEAVED = (
    chunk({"role": "assistant", "content": None})
    + chunk(call(0, name="get_weather", arguments=""))
    + chunk(call(1, name="get_time", arguments=""))
    + chunk(call(0, arguments='{"city": '))
    + chunk(call(1, arguments='{"tz": '))
    + chunk(call(0, arguments='"Graz"}'))
    + chunk(call(1, arguments='"CET"}'))
    + chunk({}, "tool_calls")
    + "data: [DONE]\n\n"
)
TOOLS = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}},
]


async def test_interleaved_tool_arguments_reach_an_anthropic_stream_block_by_block(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Every ``input_json_delta`` falls between its block's start and stop, blocks never overlap, and the
    final message holds both calls with their whole arguments."""
    answer = chunked(INTERLEAVED.encode(), headers="content-type: text/event-stream\r\n")

    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    upstream = await raw_upstream(handler)
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("p", upstream.base, "openai")
        + "models:\n  m: {provider: p, model: qwen}\nroutes:\n  - {name: r, match: {model: tools}, target: [m]}\n"
    )
    running = await sidecar(policy)
    open_block: int | None = None
    args_at_stop: dict[int, str] = {}
    seen: dict[int, str] = {}
    async with (
        anthropic_client(running) as client,
        client.messages.stream(
            model="tools", max_tokens=200, tools=TOOLS, messages=[{"role": "user", "content": "weather and time"}]
        ) as stream,
    ):
        async for event in stream:
            if event.type == "content_block_start":
                assert open_block is None
                open_block = event.index
            elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                assert event.index == open_block
                seen[event.index] = seen.get(event.index, "") + event.delta.partial_json
            elif event.type == "content_block_stop":
                assert event.index == open_block
                args_at_stop[event.index] = seen.get(event.index, "")
                open_block = None
        final = await stream.get_final_message()
    assert [json.loads(a) for a in args_at_stop.values()] == [{"city": "Graz"}, {"tz": "CET"}]
    assert [(b.type, getattr(b, "input", None)) for b in final.content] == [
        ("tool_use", {"city": "Graz"}),
        ("tool_use", {"tz": "CET"}),
    ]
    assert final.stop_reason == "tool_use"
