"""Integers beyond 64 bits in answers the sidecar streams or relays: a Gemini function call's 30-digit
argument (Gemini streams ``args`` as a JSON object, which orjson reads as a double) reaches an OpenAI or
Anthropic app streaming from it digit for digit (before 2026-12-05, ``1.2345678901234568e+29``); the other
paths were already exact and are held here: an OpenAI stream's ``arguments`` (a string) to a Gemini app,
and same-dialect whole answers (relayed as the upstream's bytes, never written again). The apps are the
official SDKs (their JSON readers keep such integers); the upstreams raw HTTP servers on loopback."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, paced, whole_or_streamed
from .three_dialects import ANTHROPIC_TOOL, TOOL

ORDER = 123456789012345678901234567890
ARGS = f'{{"city": "Paris", "order": {ORDER}}}'  # as a model writes them
EXACT = {"city": "Paris", "order": ORDER}
ASK: Any = [{"role": "user", "content": "order?"}]

GEMINI_CALL = (
    b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "Looking. "}]}, "index": 0}]}\n\n',
    b'data: {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather",'
    b' "args": ' + ARGS.encode() + b'}}]}, "finishReason": "STOP", "index": 0}],'
    b' "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8}}\n\n',
)


async def sidecar_for(upstream_base: str, sidecar: SidecarFactory, dialect: str) -> RunningSidecar:
    """The sidecar with one model ``m`` at an upstream of ``dialect``."""
    base = f"{upstream_base}/v1" if dialect == "openai" else upstream_base
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: up}\n"
    )
    return await sidecar(policy, env={"KEY": "sk-x"})


async def test_a_gemini_streamed_argument_of_30_digits_reaches_an_openai_app_exact(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """openai-python's streamed tool call ``arguments`` hold the 30-digit integer as Gemini sent it."""
    running = await sidecar_for((await raw_upstream(paced(list(GEMINI_CALL)))).base, sidecar, "gemini")
    arguments = ""
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(model="m", messages=ASK, tools=[TOOL], stream=True)  # type: ignore[list-item]
        async for chunk in stream:
            for choice in chunk.choices:
                arguments += "".join(call.function.arguments or "" for call in choice.delta.tool_calls or [])  # type: ignore[union-attr]
    assert json.loads(arguments) == EXACT


async def test_a_gemini_streamed_argument_of_30_digits_reaches_an_anthropic_app_exact(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The Anthropic SDK's streamed ``tool_use.input`` holds the 30-digit integer as Gemini sent it."""
    running = await sidecar_for((await raw_upstream(paced(list(GEMINI_CALL)))).base, sidecar, "gemini")
    tools: Any = [ANTHROPIC_TOOL]
    async with (
        anthropic_client(running) as client,
        client.messages.stream(model="m", max_tokens=50, messages=ASK, tools=tools) as stream,
    ):
        message = await stream.get_final_message()
    assert [block.input for block in message.content if block.type == "tool_use"] == [EXACT]


async def test_an_openai_streamed_argument_of_30_digits_reaches_a_gemini_app_exact(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai's streamed ``function_call.args`` hold the integer an OpenAI stream's ``arguments``
    string carried."""
    head = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "up"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + orjson.dumps({**head, "choices": [choice]}) + b"\n\n"

    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    reads = [
        chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ARGS[:20]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ARGS[20:]}}]}),
        chunk({}, finish="tool_calls") + b"data: [DONE]\n\n",
    ]
    running = await sidecar_for((await raw_upstream(paced(reads))).base, sidecar, "openai")
    models = gemini_client(running.url).aio.models
    calls = [
        part.function_call.args
        async for fragment in await models.generate_content_stream(model="m", contents="order?")
        for part in (fragment.candidates[0].content.parts or [])  # type: ignore[index, union-attr]
        if part.function_call is not None
    ]
    assert calls == [EXACT]


async def test_same_dialect_whole_answers_keep_30_digits(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A whole answer in the app's own dialect reaches it as the upstream's bytes: a Gemini call's
    ``args``, an Anthropic ``tool_use.input``, an unknown OpenAI field keep their 30 digits."""
    gemini = GEMINI_CALL[1][6:-2]
    never = lambda request: False  # noqa: E731 - the answers are whole
    running = await sidecar_for((await raw_upstream(whole_or_streamed(gemini, [], never))).base, sidecar, "gemini")
    got = await gemini_client(running.url).aio.models.generate_content(model="m", contents="order?")
    assert got.function_calls[0].args == EXACT

    use = f'{{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {ARGS}}}'
    anthropic_answer = (
        '{"id": "msg_1", "type": "message", "role": "assistant", "model": "up", "content": ['
        + use
        + '], "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}}'
    ).encode()
    upstream = await raw_upstream(whole_or_streamed(anthropic_answer, [], never))
    running = await sidecar_for(upstream.base, sidecar, "anthropic")
    async with anthropic_client(running) as client:
        message = await client.messages.create(model="m", max_tokens=50, messages=ASK)
    assert [block.input for block in message.content if block.type == "tool_use"] == [EXACT]

    openai_answer = (
        '{"id": "x", "object": "chat.completion", "created": 1, "model": "up", "x_order": ' + str(ORDER) + ","
        ' "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}'
    ).encode()
    upstream = await raw_upstream(whole_or_streamed(openai_answer, [], never))
    running = await sidecar_for(upstream.base, sidecar, "openai")
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="m", messages=ASK)
    assert json.loads(raw.text)["x_order"] == ORDER
