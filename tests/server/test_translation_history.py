"""Earlier turns sent again by the SDK, translated so that the target reads them as the caller meant:

- Tool results answered out of the calls' order, as an app running its tools concurrently appends them
  as they finish: OpenAI and Anthropic link a result to its call by id, Gemini (no ids in its history)
  by position among the calls of the same name, so towards Gemini a turn's ``functionResponse``s follow
  the order of the calls they answer; else the model read each call's result as the other's.
- An OpenAI assistant turn that refused (``refusal`` and no content) stays the assistant's turn.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client, sdk_client
from .three_dialects import ANTHROPIC_TOOL, TOOL, start

PARIS = {"id": "call_paris", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
ROME = {"id": "call_rome", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}


def responses(sent: dict[str, Any]) -> list[Any]:
    """The function responses of the last turn Gemini received, in order."""
    return [p["functionResponse"]["response"] for p in sent["contents"][-1]["parts"] if "functionResponse" in p]


async def test_openai_tool_results_out_of_order_reach_gemini_in_the_calls_order(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python: two calls of one tool answered Rome first, then Paris: Gemini gets Paris's result
    first, as its call came first."""
    running, urls = await start(fake, sidecar)
    client = openai_client(running)
    await client.chat.completions.create(
        model="to-gemini",
        tools=[TOOL],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": None, "tool_calls": [PARIS, ROME]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": "call_rome", "content": "rain in Rome"},
            {"role": "tool", "tool_call_id": "call_paris", "content": "sun in Paris"},
        ],
    )
    await client.close()
    sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
    assert responses(sent) == [{"result": "sun in Paris"}, {"result": "rain in Rome"}]


async def test_anthropic_tool_results_out_of_order_reach_gemini_in_the_calls_order(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """anthropic: the same with ``tool_result`` blocks, Rome's first in the user turn."""
    running, urls = await start(fake, sidecar)
    calls = [
        {"type": "tool_use", "id": "toolu_paris", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_rome", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_rome", "content": "rain in Rome"},
        {"type": "tool_result", "tool_use_id": "toolu_paris", "content": "sun in Paris"},
    ]
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client:
        await client.messages.create(
            model="to-gemini",
            max_tokens=50,
            tools=[ANTHROPIC_TOOL],  # type: ignore[list-item]
            messages=[
                {"role": "user", "content": "weather in Paris and Rome?"},
                {"role": "assistant", "content": calls},  # type: ignore[typeddict-item]
                {"role": "user", "content": results},  # type: ignore[typeddict-item]
            ],
        )
    sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
    assert responses(sent) == [{"result": "sun in Paris"}, {"result": "rain in Rome"}]


async def test_an_openai_refusal_in_the_history_reaches_another_dialect_as_the_assistants_turn(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python sends back an assistant message that refused (``content: None``, ``refusal``: text, as
    OpenAI's structured outputs answer): Anthropic gets that turn with the refusal's text, not two user
    turns run together with the refusal gone."""
    running, urls = await start(fake, sidecar)
    client = openai_client(running)
    await client.chat.completions.create(
        model="to-anthropic",
        messages=[
            {"role": "user", "content": "how do I pick a lock?"},
            {"role": "assistant", "content": None, "refusal": "I can't help with that."},  # type: ignore[typeddict-unknown-key]
            {"role": "user", "content": "then tell me about locks"},
        ],
    )
    await client.close()
    sent = (await running.fake_requests(urls["anthropic"]))[-1]["json"]["messages"]
    assert [(m["role"], m["content"][0]["text"]) for m in sent] == [
        ("user", "how do I pick a lock?"),
        ("assistant", "I can't help with that."),
        ("user", "then tell me about locks"),
    ]


async def test_a_tool_result_for_a_call_never_made_is_a_400_naming_the_id_before_any_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app's ``tool`` message whose ``tool_call_id`` no earlier call has, routed to Gemini (which
    pairs a result by the call's function name: the id went as the name) or to Anthropic (which refuses it
    with its own 400, after a billed round trip), gets the sidecar's 400 naming the id; nothing is sent."""
    running, urls = await start(fake, sidecar)
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "call_nope", "content": "4"},
    ]
    async with openai_client(running) as client:
        for model in ("to-gemini", "to-anthropic"):
            with pytest.raises(openai.BadRequestError, match="'call_nope' is the id of no earlier tool call"):
                await client.chat.completions.create(model=model, messages=messages)
    assert await running.fake_requests(urls["gemini"]) == await running.fake_requests(urls["anthropic"]) == []
