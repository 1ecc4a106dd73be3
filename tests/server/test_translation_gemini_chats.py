"""google-genai's chat sessions across dialects: ``chats`` keeps a turn in the history it sends next only
when every streamed fragment has content (``_validate_response``, the Node SDK's ``isValidResponse``), so
a translated stream's last fragment (the finish reason and usage) carries an empty text part, as
Gemini's own last fragment carries content; without it the SDK sent the next turn without the previous
one and the model forgot the conversation."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory, provider_block
from .three_dialects import start


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_streamed_chat_turn_is_kept_in_the_history_sent_next(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """Two ``send_message_stream`` turns of one chat towards OpenAI or Anthropic: the SDK's curated history
    drops nothing, and the second request carries the first question and its answer."""
    running, urls = await start(fake, sidecar)
    chat = gemini_client(running.url).aio.chats.create(model=target)
    for question in ("hello one", "hello two"):
        text = "".join([chunk.text or "" async for chunk in await chat.send_message_stream(question)])
        assert text == question
    history = chat.get_history(curated=True)  # one model content per fragment, as from Gemini itself
    assert history == chat.get_history() and [c.role for c in history].count("user") == 2
    dialect = target.removeprefix("to-")
    sent = (await running.fake_requests(urls[dialect]))[-1]["json"]["messages"]
    assert [(m["role"], text_of(m["content"])) for m in sent] == [
        ("user", "hello one"),
        ("assistant", "hello one"),
        ("user", "hello two"),
    ]


def text_of(content: Any) -> str:
    """The text of an OpenAI or Anthropic message's content (a string, or text parts)."""
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


WEATHER = types.FunctionDeclaration(
    name="get_weather",
    parameters=types.Schema(
        type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}, required=["city"]
    ),
)
THINKING_TOOLS = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[WEATHER])],
    thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True),
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
async def test_a_streamed_chat_with_thoughts_and_a_function_call_goes_on(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, model: str
) -> None:
    """google-genai's streamed chat with thinking on, through the sidecar to Gemini (a signing Gemini 3
    model too): the thought and the function call come in fragments of their own, which the SDK keeps as
    two model contents in a row; the function's response and then a new question are answered, the model
    contents of one answer taken as one model turn (as Gemini takes them)."""
    url = await fake("fake-gemini")
    policy = "version: 1\nproviders:\n" + provider_block("p", url, "gemini")
    policy += f"models:\n  m: {{provider: p, model: {model}}}\n"
    running = await sidecar(policy)
    chat = gemini_client(running.url).aio.chats.create(model="m", config=THINKING_TOOLS)
    chunks = [chunk async for chunk in await chat.send_message_stream("weather in Oslo? fake:tool")]
    assert [part.thought for part in chunks[0].candidates[0].content.parts] == [True]
    (call,) = chunks[-1].function_calls or []
    result = types.Part.from_function_response(name=call.name or "", response={"result": "sunny"})
    answers = [chunk async for chunk in await chat.send_message_stream(result)]
    assert answers[-1].candidates[0].finish_reason == types.FinishReason.STOP
    text = "".join([chunk.text or "" async for chunk in await chat.send_message_stream("and tomorrow?")])
    assert text == "and tomorrow?"
    sent = (await running.fake_requests(url))[-1]["json"]["contents"]
    assert [content["role"] for content in sent[:4]] == ["user", "model", "model", "user"]
