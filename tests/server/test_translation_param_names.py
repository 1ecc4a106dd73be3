"""A parameter a target cannot take is refused (or, under ``drop``, listed in ``x-sidecar-dropped-params``)
by the name the caller's SDK sent, through the official SDKs: a google-genai app's ``candidateCount`` is
not OpenAI's ``n``, its ``presencePenalty`` not ``presence_penalty``, an Anthropic app's
``tool_choice.disable_parallel_tool_use`` not ``parallel_tool_calls``."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .three_dialects import ANTHROPIC_TOOL, start

LENIENT = "  - {name: lenient, match: {model: lenient}, target: to-anthropic, unsupported_params: drop}\n"
GEMINI_REFUSALS = [
    ("to-anthropic", {"candidate_count": 2}, "candidateCount"),
    ("to-anthropic", {"presence_penalty": 0.5}, "presencePenalty"),
    ("to-anthropic", {"frequency_penalty": 0.5}, "frequencyPenalty"),
    ("to-openai", {"top_k": 5}, "topK"),
]


@pytest.mark.parametrize(("target", "config", "name"), GEMINI_REFUSALS, ids=[c[2] for c in GEMINI_REFUSALS])
async def test_a_gemini_apps_refused_parameter_is_named_as_it_sent_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, config: dict[str, Any], name: str
) -> None:
    """google-genai's ``generate_content`` with a generation setting the target cannot take: the 400 names
    the field as the app's request has it (camelCase), not the common form's OpenAI name; no upstream
    is called."""
    running, urls = await start(fake, sidecar)
    client = gemini_client(running.url)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(
            model=target, contents="hello", config=types.GenerateContentConfig(**config)
        )
    assert info.value.code == 400
    assert f"parameter {name!r} has no equivalent" in (info.value.message or "")
    assert all([await running.fake_requests(url) == [] for url in urls.values()])


async def test_a_gemini_stream_of_two_candidates_is_refused_as_candidate_count(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """``generate_content_stream`` with ``candidate_count=2`` towards OpenAI (a translated stream carries one
    answer): the 400 names ``candidateCount``."""
    running, _ = await start(fake, sidecar)
    client = gemini_client(running.url)
    with pytest.raises(errors.ClientError) as info:
        stream = await client.aio.models.generate_content_stream(
            model="to-openai", contents="hello", config=types.GenerateContentConfig(candidate_count=2)
        )
        async for _ in stream:
            pass
    assert "parameter 'candidateCount' has no equivalent" in (info.value.message or "")


async def test_an_anthropic_apps_disable_parallel_tool_use_is_named_as_it_sent_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``tool_choice.disable_parallel_tool_use`` towards Gemini (which cannot forbid parallel calls): the 400
    names the Anthropic field, not OpenAI's ``parallel_tool_calls``."""
    running, urls = await start(fake, sidecar)
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="to-gemini",
                max_tokens=50,
                tools=[ANTHROPIC_TOOL],  # type: ignore[list-item]
                tool_choice={"type": "auto", "disable_parallel_tool_use": True},
                messages=[{"role": "user", "content": "hello"}],
            )
    assert "parameter 'tool_choice.disable_parallel_tool_use' has no equivalent" in info.value.message
    assert await running.fake_requests(urls["gemini"]) == []


async def test_under_drop_the_dropped_parameter_is_listed_as_the_app_sent_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """With ``unsupported_params: drop``, a google-genai app's ``presence_penalty`` and ``seed`` reach
    Anthropic without them, and ``x-sidecar-dropped-params`` lists ``seed,presencePenalty``."""
    running, urls = await start(fake, sidecar, extra=LENIENT)
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(presence_penalty=0.5, seed=7)
    answer = await client.aio.models.generate_content(model="lenient", contents="hello", config=config)
    assert "hello" in (answer.text or "")
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "seed,presencePenalty"
    sent = (await running.fake_requests(urls["anthropic"]))[-1]["json"]
    assert "presence_penalty" not in sent and "seed" not in sent


async def test_an_anthropic_tools_fields_with_no_equivalent_are_refused_not_lost(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A tool's ``input_examples`` (shown to the model) towards OpenAI: a 400 naming ``tools.input_examples``
    (it was left out unsaid); a tool's ``strict``, which changes nothing the model is shown, is dropped and
    listed in ``x-sidecar-dropped-params``, as OpenAI's ``strict`` is."""
    running, urls = await start(fake, sidecar)
    examples = {**ANTHROPIC_TOOL, "input_examples": [{"city": "Paris"}]}
    strict = {**ANTHROPIC_TOOL, "strict": True}
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hello"}]
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(model="to-openai", max_tokens=50, tools=[examples], messages=messages)  # type: ignore[list-item]
        assert "parameter 'tools.input_examples' has no equivalent" in info.value.message
        assert await running.fake_requests(urls["openai"]) == []
        reply = await client.messages.with_raw_response.create(
            model="to-openai",
            max_tokens=50,
            tools=[strict],  # type: ignore[list-item]
            messages=messages,
        )
        message = await reply.parse()
    assert reply.headers["x-sidecar-dropped-params"] == "tools.strict"
    assert message.content[0].type == "text"
