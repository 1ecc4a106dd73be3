"""The Anthropic dialect, driven by the official anthropic SDK (and raw HTTP for the event sequence)."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from sidecar.sse import SSEParser

TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "weather",
        "input_schema": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "number"},
                "metric": {"type": "boolean"},
            },
            "required": ["city", "days", "metric"],
        },
    },
    {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
]
ARGS = {"city": "test", "days": 1, "metric": True}


async def test_message_echo(fake, anthropic_for):
    """A non-stream message echoes the last user text with id, model, stop_reason and cache usage fields."""
    client = anthropic_for(await fake())
    message = await client.messages.create(
        model="claude-fake-1",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello claude"}]}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello claude"
    assert message.model == "claude-fake-1"
    assert message.id.startswith("msg_01")
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0


async def test_stream_event_sequence(fake):
    """A stream sends the documented event sequence, with ping after the first content_block_start."""
    server = await fake()
    body = {
        "model": "m",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "a b c"}],
    }
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1/messages"), json=body, headers=headers) as response,
    ):
        events = SSEParser().feed(await response.read())
    names = [event.event for event in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    delta = orjson.loads(events[-2].data)
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 2


async def test_stream_text_with_sdk(fake, anthropic_for):
    """The SDK's stream helper accumulates the streamed text and usage."""
    client = anthropic_for(await fake())
    async with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "stream me please"}]
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "stream me please"
    assert final.usage.output_tokens == 4


async def test_tool_use_streamed_as_input_json_delta(fake, anthropic_for):
    """``fake:tool`` streams a tool_use block whose input_json_delta pieces parse to the arguments."""
    client = anthropic_for(await fake())
    async with client.messages.stream(
        model="m", max_tokens=100, tools=TOOLS, messages=[{"role": "user", "content": "fake:tool now"}]
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == ARGS
    assert block.id.startswith("toolu_01")


async def test_parallel_tool_use_non_stream(fake, anthropic_for):
    """``fake:tools2`` answers two tool_use blocks."""
    client = anthropic_for(await fake())
    message = await client.messages.create(
        model="m", max_tokens=100, tools=TOOLS, messages=[{"role": "user", "content": "fake:tools2"}]
    )
    assert [block.type for block in message.content] == ["tool_use", "tool_use"]


async def test_forced_tool_and_tool_result(fake, anthropic_for):
    """``tool_choice`` any forces a call; a following tool_result turn gets a text reply."""
    client = anthropic_for(await fake())
    forced = await client.messages.create(
        model="m",
        max_tokens=100,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "x"}],
    )
    assert forced.content[0].type == "tool_use"
    history: Any = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [block.model_dump() for block in forced.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": forced.content[0].id, "content": "rainy"}],
        },
    ]
    answer = await client.messages.create(
        model="m", max_tokens=100, tools=TOOLS, tool_choice={"type": "any"}, messages=history
    )
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].type == "text"
    assert answer.content[0].text == "Tool result received: rainy"


async def test_max_tokens_required(fake, anthropic_for):
    """Without max_tokens the request is rejected with 400 invalid_request_error."""
    client = anthropic_for(await fake())
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.post("/v1/messages", body={"model": "m", "messages": []}, cast_to=object)
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


async def test_a_conversation_opened_by_the_assistant_is_answered(fake, anthropic_for):
    """An assistant turn first is taken, as Anthropic's own API takes it since 2024-10 (the Messages API
    reference dropped "The first message must always use the user role", anthropic-sdk-typescript
    b9fa45a0; anthropics/anthropic-sdk-typescript#622: answered by Anthropic, refused by Bedrock)."""
    client = anthropic_for(await fake())
    messages = [{"role": "assistant", "content": "Hi! How can I help?"}, {"role": "user", "content": "hello"}]
    answer = await client.messages.create(model="m", max_tokens=5, messages=messages)  # type: ignore[arg-type]
    assert answer.content[0].text == "hello"  # type: ignore[union-attr]


async def test_image_media_type_is_checked(fake, anthropic_for):
    """A base64 image whose media_type Anthropic does not take (``image/jpg``) is a 400, as upstream."""
    client = anthropic_for(await fake())
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpg", "data": "/9j/"}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": [image]}])
    assert "media_type" in caught.value.message
    image["source"]["media_type"] = "image/jpeg"  # type: ignore[index]
    await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": [image]}])


async def test_max_tokens_stop_reason(fake, anthropic_for):
    """A reply longer than max_tokens stops with stop_reason max_tokens."""
    client = anthropic_for(await fake(reply="word " * 40))
    message = await client.messages.create(model="m", max_tokens=3, messages=[{"role": "user", "content": "x"}])
    assert message.stop_reason == "max_tokens"


async def test_count_tokens(fake, anthropic_for):
    """count_tokens estimates ~4 characters per token over messages and system."""
    client = anthropic_for(await fake())
    counted = await client.messages.count_tokens(
        model="m", system="abcd", messages=[{"role": "user", "content": "abcdefgh"}]
    )
    assert counted.input_tokens == 3


async def test_unknown_path_is_anthropic_404(fake, anthropic_for):
    """An unknown path from the Anthropic SDK answers 404 in Anthropic's error shape."""
    client = anthropic_for(await fake())
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client.post("/v1/nothing", body={}, cast_to=object)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


async def test_models_list_in_anthropic_shape(fake, anthropic_for):
    """``GET /v1/models`` with anthropic-version answers Anthropic's model list."""
    client = anthropic_for(await fake())
    models = [model.id async for model in client.models.list()]
    assert "claude-sonnet-4-6" in models
