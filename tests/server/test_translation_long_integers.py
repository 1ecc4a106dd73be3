"""Integers beyond 64 bits (JSON sets no limit; orjson reads them as doubles) carried exactly across a
translation: a model's 30-digit tool argument in a translated answer, an app's ``seed`` of 2**64 in a
translated request. The apps are the official SDKs (whose readers keep such integers); the providers real
HTTP servers on loopback."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .lying_answers import Liar, Lie
from .lying_stack import start as start_liar
from .three_dialects import ANTHROPIC_TOOL, TOOL

ORDER = 123456789012345678901234567890
ARGUMENTS = f'{{"city": "Paris", "order": {ORDER}}}'  # as a model writes them


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start_liar(aiohttp_server, fake, sidecar)


async def test_an_openai_tool_argument_of_30_digits_reaches_an_anthropic_app_exact(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """An OpenAI answer's tool call whose arguments hold a 30-digit integer reaches an Anthropic app's
    ``tool_use.input`` digit for digit (it came as 1.2345678901234568e+29)."""
    running, liar = stack
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ARGUMENTS}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    answer = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "up",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    liar.lie = Lie(body=orjson.dumps(answer))
    said: Any = [{"role": "user", "content": "order?"}]
    async with anthropic_client(running) as client:
        got = await client.messages.create(model="lie-openai", max_tokens=50, messages=said, tools=[ANTHROPIC_TOOL])  # type: ignore[list-item]
    assert [block.input for block in got.content if block.type == "tool_use"] == [{"city": "Paris", "order": ORDER}]


async def test_an_anthropic_tool_input_of_30_digits_reaches_an_openai_app_exact(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """An Anthropic answer's ``tool_use.input`` holding a 30-digit integer reaches an OpenAI app's
    ``arguments`` string digit for digit."""
    running, liar = stack
    use = f'{{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {ARGUMENTS}}}'
    liar.lie = Lie(
        body=(
            '{"id": "msg_1", "type": "message", "role": "assistant", "model": "up", "content": ['
            + use
            + '], "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}}'
        ).encode()
    )
    async with openai_client(running) as client:
        got = await client.chat.completions.create(
            model="lie-anthropic",
            messages=[{"role": "user", "content": "order?"}],
            tools=[TOOL],  # type: ignore[list-item]
        )
    calls = got.choices[0].message.tool_calls or []
    assert [json.loads(call.function.arguments) for call in calls] == [{"city": "Paris", "order": ORDER}]  # type: ignore[union-attr]


async def test_a_seed_of_2_to_the_64_reaches_a_gemini_target_exact(stack: tuple[RunningSidecar, Liar]) -> None:
    """An OpenAI app's ``seed`` of 2**64 reaches a Gemini target's ``generationConfig.seed`` as sent (it went
    as 1.8446744073709552e19)."""
    running, liar = stack
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}
    liar.lie = Lie(body=orjson.dumps(answer))
    async with openai_client(running) as client:
        await client.chat.completions.create(
            model="lie-gemini", messages=[{"role": "user", "content": "hi"}], seed=2**64
        )
    assert b'"generationConfig":{"seed":18446744073709551616}' in liar.received[-1]
