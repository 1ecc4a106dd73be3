"""How a translated conversation begins, through a real sidecar and the fake providers: an OpenAI app's
greeting before the user's first turn reaches Anthropic and Gemini (which take it); an agent's history that begins
with its own tool call, which Gemini refuses, is not sent there: the route's next target serves it, and a
route with no other target answers a 400 naming the field, in the app's dialect (bench/translation_fuzz.py
found both)."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .three_dialects import TOOL, start

GREETED = [
    {"role": "system", "content": "be brief"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "greeted hello"},
]
CALLED_FIRST = [
    {"role": "system", "content": "check the weather in Oslo"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
]
G_THEN_O = "  - {name: gemini-then-openai, match: {model: g-then-o}, target: [to-gemini, to-openai]}\n"


@pytest.mark.parametrize(
    ("route", "provider", "turns", "roles"),
    [
        ("a-then-o", "anthropic", "messages", ["assistant", "user"]),
        ("to-gemini", "gemini", "contents", ["model", "user"]),
    ],
)
async def test_a_conversation_opened_by_the_assistants_greeting_is_answered(
    fake: FakeFactory, sidecar: SidecarFactory, route: str, provider: str, turns: str, roles: list[str]
) -> None:
    """Anthropic (route ``a-then-o``) and Gemini get the conversation opening with the greeting as it
    begins and answer it (before 2026-12-06 Anthropic's was skipped as untranslatable, on a rule Anthropic
    dropped in 2024-10; Gemini's chats send such a history since 2025: docs/translation.md, Alternation)."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        answer = await client.chat.completions.with_raw_response.create(model=route, messages=GREETED)  # type: ignore[arg-type]
    assert "greeted hello" in (answer.parse().choices[0].message.content or "")
    assert "x-sidecar-fallback-reason" not in answer.headers
    [sent] = await running.fake_requests(urls[provider])
    assert [m["role"] for m in sent["json"][turns]] == roles


async def test_a_conversation_opened_by_a_tool_call_falls_back_from_gemini(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Route ``g-then-o`` (Gemini, then OpenAI): Gemini is skipped before any call, OpenAI answers."""
    running, urls = await start(fake, sidecar, G_THEN_O)
    async with openai_client(running) as client:
        answer = await client.chat.completions.with_raw_response.create(
            model="g-then-o",
            messages=CALLED_FIRST,  # type: ignore[arg-type]
            tools=[TOOL],  # type: ignore[list-item]
        )
    assert "sunny" in (answer.parse().choices[0].message.content or "")
    assert answer.headers["x-sidecar-fallback-reason"] == "untranslatable"
    assert await running.fake_requests(urls["gemini"]) == []


async def test_a_conversation_opened_by_a_tool_call_is_a_400_naming_messages_towards_gemini_alone(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route whose only target is Gemini answers openai's ``BadRequestError``: ``untranslatable_request``
    naming ``messages`` and why; nothing is sent."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="to-gemini", messages=CALLED_FIRST, tools=[TOOL])  # type: ignore[arg-type,list-item]
    assert raised.value.code == "untranslatable_request"
    assert "'messages': the conversation begins with a tool call" in raised.value.message
    assert await running.fake_requests(urls["gemini"]) == []
