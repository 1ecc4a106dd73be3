"""The static last resort as each official SDK reads it: an answer of the caller's own dialect (its id
shape, OpenAI's usage chunk when asked), streamed like a live answer; Node SDKs were the second judge
(docs/resilience.md, "When every target fails")."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .chain import chain_policy

STATIC = "    resilience: {last_resort: {kind: static, static: {text: 'please try again later'}}}\n"
FAIL = {"x-fake-fault": "status=503"}


async def _static_route(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    return await sidecar(chain_policy([await fake("f0")], route_extra=STATIC))


async def test_an_anthropic_caller_gets_a_message_id(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Whole and streamed, the Anthropic SDK's Message has a ``msg_`` id (it was ``chatcmpl-degraded-``)."""
    running = await _static_route(fake, sidecar)
    async with anthropic_client(running) as client:
        params: Any = {"model": "chain", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
        whole = await client.messages.create(**params, extra_headers=FAIL)
        async with client.messages.stream(**params, extra_headers=FAIL) as stream:
            streamed = await stream.get_final_message()
    for message in (whole, streamed):
        assert message.id.startswith("msg_") and "chatcmpl" not in message.id
        assert message.content[0].type == "text" and message.content[0].text == "please try again later"
        assert message.stop_reason == "end_turn"


async def test_a_gemini_caller_gets_a_gemini_response_id(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """generateContent's responseId has Gemini's shape, not an OpenAI completion's."""
    from google.genai import types

    running = await _static_route(fake, sidecar)
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=FAIL))
    answer = await client.aio.models.generate_content(model="chain", contents="hi", config=config)
    assert answer.text == "please try again later"
    assert answer.response_id and "chatcmpl" not in answer.response_id


async def test_an_openai_stream_that_asks_for_usage_gets_the_usage_chunk(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With stream_options.include_usage the stream ends with the usage chunk (zero tokens), as a live
    one does, so the stream helper's final completion has usage; the text comes in pieces."""
    running = await _static_route(fake, sidecar)
    async with openai_client(running) as client:
        chunks = [
            chunk
            async for chunk in await client.chat.completions.create(
                model="chain",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=FAIL,
            )
        ]
        async with client.chat.completions.stream(
            model="chain",
            messages=[{"role": "user", "content": "hi"}],
            stream_options={"include_usage": True},
            extra_headers=FAIL,
        ) as stream:
            final = await stream.get_final_completion()
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 0
    assert len({chunk.id for chunk in chunks}) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "please try again later"
    assert final.usage is not None and final.choices[0].finish_reason == "stop"


async def test_a_responses_api_request_gets_the_error_not_the_text(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The static answer is for chat requests only: a Responses API request gets 503 all_targets_failed,
    in OpenAI's error shape (docs/resilience.md)."""
    running = await _static_route(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            await client.responses.create(model="chain", input="hi", extra_headers=FAIL)
    assert raised.value.status_code == 503 and raised.value.code == "all_targets_failed"
    assert "a static answer fits only chat" in raised.value.message
