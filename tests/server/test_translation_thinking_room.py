"""A thinking level (OpenAI ``reasoning_effort``, Gemini 3's ``thinkingLevel``) or a Gemini budget towards
Anthropic, whose ``max_tokens`` must be above the thinking budget and holds the thinking and the answer
together (``docs/translation.md``, Thinking): without an output maximum the sidecar raises ``max_tokens``
to the budget plus the answer's room (4,096); below the caller's maximum, or the model's
``max_output_tokens``, a level's budget shrinks to leave that room, down to Anthropic's minimum (1,024);
a maximum not above that minimum is a 400 naming both numbers. Driven through openai-python and
google-genai; the fake Anthropic provider refuses what Anthropic refuses."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .three_dialects import TOOL

SERVUS = [{"role": "user", "content": "servus"}]


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, str]:
    """A sidecar whose model ``open`` has no ``max_output_tokens`` and ``capped`` has 16,000, both on one
    fake Anthropic provider; and that provider's URL."""
    url = await fake("fake-anthropic")
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "anthropic")
        + "models:\n"
        + "  open: {provider: p, model: claude-sonnet-4-5}\n"
        + "  capped: {provider: p, model: claude-sonnet-4-5, max_output_tokens: 16000}\n"
    )
    return await sidecar(policy), url


async def sent(running: RunningSidecar, url: str) -> tuple[int, int]:
    """The thinking budget and ``max_tokens`` of the last request Anthropic received."""
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    return body["thinking"]["budget_tokens"], body["max_tokens"]


async def gemini_answer(running: RunningSidecar, gemini_client: Any, **config: Any) -> str:
    """google-genai's ``generate_content`` of model ``open`` with ``config``; the answer's text."""
    settings = types.GenerateContentConfig(**config)
    models = gemini_client(running.url).aio.models
    return (await models.generate_content(model="open", contents="servus", config=settings)).text or ""


async def openai_answer(running: RunningSidecar, **request: Any) -> str:
    async with openai_client(running) as client:
        answer = await client.chat.completions.create(messages=SERVUS, **request)
    return answer.choices[0].message.content or ""


@pytest.mark.parametrize(("effort", "budget"), [("medium", 8192), ("high", 24576)])
async def test_an_effort_without_an_output_maximum_raises_max_tokens_to_hold_it(
    fake: FakeFactory, sidecar: SidecarFactory, effort: str, budget: int
) -> None:
    """No ``max_completion_tokens`` and a model of unknown ``max_output_tokens``: Anthropic gets the level's
    whole budget and ``max_tokens`` of that budget plus 4,096 for the answer, and the app its answer."""
    running, url = await start(fake, sidecar)
    assert "servus" in await openai_answer(running, model="open", reasoning_effort=effort)
    assert await sent(running, url) == (budget, budget + 4096)


async def test_an_effort_above_the_models_output_maximum_shrinks_to_leave_the_answer_room(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """No ``max_completion_tokens``, a model of ``max_output_tokens`` 16,000 and ``high`` (24,576): the budget
    shrinks to 16,000 - 4,096 = 11,904 and ``max_tokens`` stays the model's 16,000."""
    running, url = await start(fake, sidecar)
    assert "servus" in await openai_answer(running, model="capped", reasoning_effort="high")
    assert await sent(running, url) == (11904, 16000)


@pytest.mark.parametrize(("effort", "maximum", "budget"), [("high", 10000, 5904), ("medium", 3000, 1024)])
async def test_an_effort_above_the_callers_output_maximum_shrinks_its_budget(
    fake: FakeFactory, sidecar: SidecarFactory, effort: str, maximum: int, budget: int
) -> None:
    """The app's ``max_completion_tokens`` is kept (it holds the reasoning and the answer, as Anthropic's
    ``max_tokens`` does); the level's budget shrinks to leave 4,096 for the answer, not below 1,024."""
    running, url = await start(fake, sidecar)
    answer = await openai_answer(running, model="open", reasoning_effort=effort, max_completion_tokens=maximum)
    assert "servus" in answer
    assert await sent(running, url) == (budget, maximum)


async def test_an_effort_with_a_maximum_not_above_anthropics_minimum_budget_is_a_400_naming_both(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``max_completion_tokens`` 1,024 leaves no thinking budget Anthropic takes (at least 1,024, below
    ``max_tokens``): a 400 naming ``reasoning_effort``, the app's maximum and Anthropic's minimum; nothing
    reaches Anthropic."""
    running, url = await start(fake, sidecar)
    with pytest.raises(openai.BadRequestError) as info:
        await openai_answer(running, model="open", reasoning_effort="low", max_completion_tokens=1024)
    assert info.value.status_code == 400
    assert (
        "'reasoning_effort' has no equivalent on anthropic (model open): Anthropic needs max_tokens (1024) above its"
        " minimum thinking budget (1024), which low would be shrunk to: ask for more than 1024 output tokens,"
        " or for no thinking"
    ) in info.value.message
    assert await running.fake_requests(url) == []


@pytest.mark.parametrize(("maximum", "expected"), [(None, (24576, 28672)), (10000, (5904, 10000))])
async def test_a_thinking_level_fits_anthropics_max_tokens_as_an_effort_does(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, maximum: int | None, expected: tuple[int, int]
) -> None:
    """A google-genai app's ``thinking_level`` HIGH: without ``max_output_tokens``, ``max_tokens`` is raised to
    hold the budget and the answer; with 10,000 the budget shrinks to leave the answer 4,096."""
    running, url = await start(fake, sidecar)
    level = types.ThinkingConfig(thinking_level="HIGH")
    assert "servus" in await gemini_answer(running, gemini_client, thinking_config=level, max_output_tokens=maximum)
    assert await sent(running, url) == expected


async def test_a_gemini_budget_without_an_output_maximum_raises_max_tokens_to_hold_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A ``thinking_budget`` of 8,000 without ``max_output_tokens``: Anthropic gets that budget and
    ``max_tokens`` 12,096 (the budget plus 4,096), not the default 4,096 it would refuse."""
    running, url = await start(fake, sidecar)
    budget = types.ThinkingConfig(thinking_budget=8000)
    assert "servus" in await gemini_answer(running, gemini_client, thinking_config=budget)
    assert await sent(running, url) == (8000, 12096)


async def test_a_gemini_budget_above_the_callers_output_maximum_is_still_refused(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A budget the app named (8,000) with ``max_output_tokens`` 4,000 is not shrunk: a 400 naming
    ``thinkingConfig.thinkingBudget`` and both numbers."""
    running, url = await start(fake, sidecar)
    budget = types.ThinkingConfig(thinking_budget=8000)
    with pytest.raises(errors.ClientError) as info:
        await gemini_answer(running, gemini_client, thinking_config=budget, max_output_tokens=4000)
    assert info.value.code == 400
    assert "Anthropic needs max_tokens (4000) above the thinking budget (8000)" in str(info.value)
    assert await running.fake_requests(url) == []


async def test_an_effort_dropped_on_a_tool_loop_leaves_max_tokens_at_its_default(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A turn answering tool calls reaches Anthropic without thinking (docs/translation.md): its
    ``max_tokens`` stays the default 4,096, not raised for a budget that is not sent."""
    running, url = await start(fake, sidecar)
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Graz"}'}}
    messages = [
        *SERVUS,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    async with openai_client(running) as client:
        await client.chat.completions.create(model="open", messages=messages, tools=[TOOL], reasoning_effort="high")
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    assert ("thinking" in body, body["max_tokens"]) == (False, 4096)
