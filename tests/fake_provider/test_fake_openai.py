"""The OpenAI dialect, driven by the official openai SDK (and raw HTTP where the wire shape matters)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from sidecar.sse import SSEParser

from ..sdk_clients import sdk_client

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
    "required": ["city", "days", "metric"],
}
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}},
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    },
]
ARGS = {"city": "test", "days": 1, "metric": True}


async def test_chat_echoes_last_user_text(fake, openai_for):
    """A non-stream chat completion echoes the last user text, the model, an id and estimated usage."""
    client = openai_for(await fake())
    messages: Any = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "hello there, world"},
    ]
    result = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert result.choices[0].message.content == "hello there, world"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "gpt-4o-mini"
    assert result.id.startswith("chatcmpl-")
    assert result.usage is not None
    assert result.usage.completion_tokens == 5  # 18 characters / 4
    assert result.usage.prompt_tokens_details is not None
    assert result.usage.prompt_tokens_details.cached_tokens == 0


async def test_fixed_reply(fake, openai_for):
    """``reply`` replaces the echo."""
    client = openai_for(await fake(reply="fixed answer"))
    result = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == "fixed answer"


async def test_chat_stream_with_usage_chunk(fake, openai_for):
    """A stream's deltas join to the reply and, with include_usage, a last chunk has usage and no choices."""
    client = openai_for(await fake())
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens


async def test_chat_stream_wire_ends_with_done(fake):
    """On the wire a chat stream is ``data:`` events ending with ``[DONE]``, without usage by default."""
    server = await fake()
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1/chat/completions"), json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = SSEParser().feed(await response.read())
    assert events[-1].data == b"[DONE]"
    payloads = [orjson.loads(event.data) for event in events[:-1]]
    assert all(payload["object"] == "chat.completion.chunk" for payload in payloads)
    assert all("usage" not in payload for payload in payloads)


async def test_tool_call_marker(fake, openai_for):
    """``fake:tool`` with tools offered answers one call to the first tool with example arguments."""
    client = openai_for(await fake())
    result = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "weather? fake:tool"}], tools=TOOLS
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert orjson.loads(calls[0].function.arguments) == ARGS
    assert calls[0].id.startswith("call_")


async def test_parallel_tool_calls_stream(fake, openai_for):
    """``fake:tools2`` streams two tool calls whose argument deltas the SDK reassembles."""
    client = openai_for(await fake())
    async with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "fake:tools2"}], tools=TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert orjson.loads(calls[0].function.arguments) == ARGS
    assert final.choices[0].finish_reason == "tool_calls"


async def test_forced_tool_choice(fake, openai_for):
    """A tool forced by ``tool_choice`` is called without the marker."""
    client = openai_for(await fake())
    result = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "what time is it"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = result.choices[0].message.tool_calls or []
    assert [call.function.name for call in calls] == ["get_time"]
    assert calls[0].function.arguments == "{}"


async def test_tool_result_gets_text(fake, openai_for):
    """After a tool result the fake answers with text, even though the marker is still in the history."""
    client = openai_for(await fake())
    messages: Any = [
        {"role": "user", "content": "fake:tool"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    result = await client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    assert result.choices[0].finish_reason == "stop"
    assert result.choices[0].message.content == "Tool result received: sunny"


async def test_max_tokens_truncates(fake, openai_for):
    """A reply longer than ``max_tokens`` is cut to ~4 characters per token with finish_reason length."""
    client = openai_for(await fake(reply="a" * 100))
    result = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], max_completion_tokens=5
    )
    assert result.choices[0].message.content == "a" * 20
    assert result.choices[0].finish_reason == "length"


async def test_legacy_completion(fake, openai_for):
    """``/v1/completions`` echoes the prompt as a text_completion."""
    client = openai_for(await fake())
    result = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say hi")
    assert result.choices[0].text == "say hi"
    assert result.object == "text_completion"


async def test_embeddings_deterministic_in_both_encodings(fake, openai_for):
    """Embeddings are deterministic unit vectors; float and base64 encodings carry the same numbers."""
    server = await fake()
    client = openai_for(server)
    as_float = await client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float", dimensions=8
    )
    as_default = await client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], dimensions=8)
    assert [item.embedding for item in as_float.data] == [item.embedding for item in as_default.data]
    assert as_float.data[0].embedding != as_float.data[1].embedding
    assert sum(value * value for value in as_float.data[0].embedding) == pytest.approx(1.0, abs=1e-5)
    assert as_float.usage.prompt_tokens == 3  # "alpha" 2 + "beta" 1
    raw = await client.embeddings.with_raw_response.create(
        model="text-embedding-3-large", input="alpha", encoding_format="base64"
    )
    encoded = orjson.loads(await raw.http_response.aread())["data"][0]["embedding"]
    assert len(struct.unpack("<3072f", base64.b64decode(encoded))) == 3072


async def test_responses_non_stream_and_stream(fake, openai_for):
    """The Responses API answers the echo both whole and as a stream the SDK's helper accumulates."""
    client = openai_for(await fake())
    whole = await client.responses.create(model="gpt-4o", input="hello responses", instructions="be nice")
    assert whole.output_text == "hello responses"
    assert whole.id.startswith("resp_")
    assert whole.usage is not None
    assert whole.usage.output_tokens == 4
    async with client.responses.stream(model="gpt-4o", input="hello streamed responses") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "hello streamed responses"
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"


async def test_responses_function_call(fake, openai_for):
    """The Responses API answers ``fake:tool`` with a function_call output item, streamed too."""
    client = openai_for(await fake())
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": False}]
    async with client.responses.stream(model="gpt-4o", input="fake:tool", tools=tools) as stream:
        final = await stream.get_final_response()
    item = final.output[0]
    assert item.type == "function_call"
    assert item.name == "get_weather"
    assert orjson.loads(item.arguments) == ARGS


async def test_models_list(fake, openai_for):
    """``GET /v1/models`` lists models in OpenAI's shape."""
    client = openai_for(await fake())
    models = [model.id async for model in client.models.list()]
    assert "gpt-4o-mini" in models


async def test_azure_deployment(fake):
    """The Azure deployment path works with the AzureOpenAI client and echoes the deployment as model."""
    server = await fake()
    client = sdk_client(
        openai.AsyncAzureOpenAI, azure_endpoint=str(server.make_url("")), api_key="azure-key", api_version="2024-10-21"
    )
    try:
        result = await client.chat.completions.create(
            model="my-deployment", messages=[{"role": "user", "content": "hi azure"}]
        )
        embedded = await client.embeddings.create(model="my-deployment", input="x", dimensions=4)
    finally:
        await client.close()
    assert result.choices[0].message.content == "hi azure"
    assert len(embedded.data[0].embedding) == 4


async def test_azure_requires_api_version(fake, openai_for):
    """Without ``api-version`` the Azure path answers 400 in OpenAI's error shape."""
    server = await fake()
    client = openai_for(server)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.post(
            str(server.make_url("/openai/deployments/d/chat/completions")),
            body={"messages": [{"role": "user", "content": "x"}]},
            cast_to=object,
        )
    assert caught.value.param == "api-version"


async def test_unknown_path_is_openai_404(fake, openai_for):
    """An unknown /v1 path answers 404 in OpenAI's error shape."""
    client = openai_for(await fake())
    with pytest.raises(openai.NotFoundError) as caught:
        await client.post("/nope", body={}, cast_to=object)
    assert "Unknown request URL" in caught.value.message


async def test_invalid_request_is_400(fake, openai_for):
    """A chat request without messages is rejected with 400 like upstream."""
    client = openai_for(await fake())
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="m", messages=[])


async def test_a_history_tool_call_id_over_40_characters_is_refused_as_openai_refuses_it(fake, openai_for):
    """An assistant message's tool call id of 41 characters is OpenAI's 400 naming the field and both lengths;
    one of 40 is answered."""
    client = openai_for(await fake())

    def history(ident: str) -> Any:
        call = {"id": ident, "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
        return [
            {"role": "user", "content": "time?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": ident, "content": "noon"},
        ]

    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=history("c" * 41), tools=TOOLS)
    assert caught.value.body["message"] == (  # type: ignore[index]
        "Invalid 'messages[1].tool_calls[0].id': string too long. Expected a string with maximum length 40, "
        "but got a string with length 41 instead."
    )
    reply = await client.chat.completions.create(model="m", messages=history("c" * 40), tools=TOOLS)
    assert reply.choices[0].message.content == "Tool result received: noon"
