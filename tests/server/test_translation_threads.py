"""Anthropic message threads (``thread``, beta ``message-threads-2026-08-12``; the anthropic SDK's
``beta.messages.tool_runner`` uses one by default) keep the conversation at Anthropic: a turn sends only
its new messages and ``previous_message_id``. No other provider holds that history, so a request with a
thread cannot be translated, in either ``unsupported_params`` mode (dropped, the next turn would reach the
provider as a lone tool result): a route's next target serves it, and with none left the 400 says to
send the whole history (``tool_runner(thread=False)``), which translates."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic import beta_async_tool

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .three_dialects import start

ROUTES = (
    "  - {name: openai-then-anthropic, match: {model: o-then-a}, target: [to-openai, to-anthropic]}\n"
    "  - {name: lenient, match: {model: lenient}, target: to-openai, unsupported_params: drop}\n"
)


@beta_async_tool
async def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


async def run_tools(running: Any, model: str, **options: Any) -> list[Any]:
    """Every message of the SDK's tool runner for one weather question (a tool call, then the answer)."""
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client:
        runner = client.beta.messages.tool_runner(
            model=model,
            max_tokens=200,
            tools=[get_weather],
            messages=[{"role": "user", "content": "weather in Paris fake:tool"}],
            **options,
        )
        return [message async for message in runner]


@pytest.mark.parametrize("model", ["to-openai", "lenient"])
async def test_a_message_thread_towards_another_dialect_is_refused_saying_why(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """The tool runner's threaded turn towards OpenAI, under ``error`` and under ``drop``: a 400 naming
    ``thread`` and ``thread=False``; the upstream is never called."""
    running, urls = await start(fake, sidecar, extra=ROUTES)
    with pytest.raises(anthropic.BadRequestError) as info:
        await run_tools(running, model)
    assert "'thread'" in info.value.message and "thread=False" in info.value.message
    assert await running.fake_requests(urls["openai"]) == []


async def test_a_route_serves_a_message_thread_from_its_anthropic_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route OpenAI first, Anthropic second: the threaded turns skip OpenAI and Anthropic serves both,
    the thread reaching it as the SDK sent it."""
    running, urls = await start(fake, sidecar, extra=ROUTES)
    replies = await run_tools(running, "o-then-a")
    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]
    assert await running.fake_requests(urls["openai"]) == []
    sent = [r["json"] for r in await running.fake_requests(urls["anthropic"])]
    assert [s["thread"]["type"] for s in sent] == ["create", "continue"]


async def test_the_tool_runner_without_a_thread_is_translated(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``tool_runner(thread=False)`` sends the whole history each turn, which OpenAI takes: the tool call
    and its result come back in turn, the answer quoting the tool's output."""
    running, urls = await start(fake, sidecar)
    replies = await run_tools(running, "to-openai", thread=False)
    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]
    assert "sunny in" in replies[-1].content[0].text
    last = (await running.fake_requests(urls["openai"]))[-1]["json"]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "tool"]
