"""Stop sequences a target cannot take, through the official SDKs: Gemini takes at most 5 ``stopSequences``;
more, translated from another dialect, cannot be translated, so a route's next target serves the request
instead of Gemini's 400 failing it (a 400 does not fall back), and with none left the 400 names the field.
Anthropic takes no stop sequence of only whitespace (OpenAI's common ``stop: ["\\n"]``): refused by name,
or under ``drop`` left out while the others travel."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .three_dialects import start

SIX = ["one", "two", "three", "four", "five", "six"]
LENIENT = "  - {name: lenient, match: {model: lenient}, target: to-anthropic, unsupported_params: drop}\n"
ROUTE = "  - {name: gemini-then-anthropic, match: {model: g-then-a}, target: [to-gemini, to-anthropic]}\n"


async def test_more_stop_sequences_than_gemini_takes_are_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Six ``stop_sequences`` from an Anthropic app towards Gemini alone: a 400 naming ``stop_sequences`` and
    Gemini's limit, the upstream never called."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="to-gemini", max_tokens=50, stop_sequences=SIX, messages=[{"role": "user", "content": "hello"}]
            )
        assert "stop_sequences" in info.value.message and "at most 5" in info.value.message
        assert await running.fake_requests(urls["gemini"]) == []


async def test_five_stop_sequences_reach_gemini(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Five ``stop_sequences`` are within Gemini's limit and reach it as ``stopSequences``."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        reply = await client.messages.create(
            model="to-gemini", max_tokens=50, stop_sequences=SIX[:5], messages=[{"role": "user", "content": "hello"}]
        )
        assert reply.content[0].type == "text"
        sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
        assert sent["generationConfig"]["stopSequences"] == SIX[:5]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_route_passes_stop_sequences_gemini_cannot_take_to_its_next_target(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """A route Gemini first, Anthropic second: six ``stop_sequences`` skip Gemini and Anthropic answers."""
    running, urls = await start(fake, sidecar, extra=ROUTE)
    async with anthropic_client(running) as client:
        request = {"model": "g-then-a", "max_tokens": 50, "stop_sequences": SIX}
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hello"}]
        if stream:
            async with client.messages.stream(messages=messages, **request) as events:  # type: ignore[arg-type]
                reply = await events.get_final_message()
        else:
            reply = await client.messages.create(messages=messages, **request)  # type: ignore[arg-type]
        assert reply.content[0].type == "text" and "hello" in reply.content[0].text
        assert await running.fake_requests(urls["gemini"]) == []
        assert (await running.fake_requests(urls["anthropic"]))[-1]["json"]["stop_sequences"] == SIX


async def test_a_whitespace_stop_sequence_towards_anthropic_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``stop: ["\\n"]`` from an OpenAI app towards Anthropic, which answers a stop sequence of only whitespace
    with its own 400: a 400 naming ``stop`` and why, the upstream never called."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="to-anthropic", stop=["\n", "END"], messages=[{"role": "user", "content": "hello"}]
            )
    assert info.value.param == "stop" and "whitespace" in info.value.message
    assert await running.fake_requests(urls["anthropic"]) == []


async def test_under_drop_only_the_whitespace_stop_sequences_are_dropped(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """With ``unsupported_params: drop``, a Gemini app's ``stopSequences`` reach Anthropic without the
    whitespace-only ones, and ``stopSequences`` is listed in ``x-sidecar-dropped-params``."""
    running, urls = await start(fake, sidecar, extra=LENIENT)
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(stop_sequences=["\n\n", "END", " "])
    answer = await client.aio.models.generate_content(model="lenient", contents="hello", config=config)
    assert "hello" in (answer.text or "")
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "stopSequences"
    assert (await running.fake_requests(urls["anthropic"]))[-1]["json"]["stop_sequences"] == ["END"]


@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
async def test_stop_sequences_that_are_not_a_list_of_strings_are_a_400_naming_the_field(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """``stop_sequences: "END"`` (a string, which Anthropic itself refuses) is a 400 naming ``stop_sequences``,
    not three one-letter stop sequences sent on; no upstream is called."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model=target,
                max_tokens=50,
                stop_sequences="END",  # type: ignore[arg-type]
                messages=[{"role": "user", "content": "hello"}],
            )
    assert "'stop_sequences' must be a list of strings" in info.value.message
    assert all([await running.fake_requests(url) == [] for url in urls.values()])


@pytest.mark.parametrize("stop", [5, {"END": 1}, [None], [["END"]]], ids=["number", "object", "null", "nested"])
async def test_an_openai_stop_that_is_not_strings_is_a_400_naming_the_field(
    fake: FakeFactory, sidecar: SidecarFactory, stop: Any
) -> None:
    """An OpenAI ``stop`` that is neither a string nor a list of strings is a 400 naming ``stop`` (not a
    Python error's text, nor an object's keys taken as stop sequences); no upstream is called."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="to-anthropic", stop=stop, messages=[{"role": "user", "content": "hello"}]
            )
    assert "'stop' must be a string or a list of strings" in info.value.message
    assert all([await running.fake_requests(url) == [] for url in urls.values()])
