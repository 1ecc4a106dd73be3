"""A request Anthropic would refuse for how its conversation begins (an OpenAI app's greeting before the
user's first turn) is not sent there: the route's next target serves it, and a route with no other
target answers a 400 naming the field, in the app's dialect (bench/translation_fuzz.py found it)."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .three_dialects import start

GREETED = [
    {"role": "system", "content": "be brief"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "greeted hello"},
]


async def test_a_conversation_opened_by_the_assistant_falls_back_from_anthropic(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Route ``a-then-o`` (Anthropic, then OpenAI): Anthropic is skipped before any call, OpenAI answers."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        answer = await client.chat.completions.with_raw_response.create(model="a-then-o", messages=GREETED)  # type: ignore[arg-type]
    assert "greeted hello" in (answer.parse().choices[0].message.content or "")
    assert answer.headers["x-sidecar-fallback-reason"] == "untranslatable"
    assert await running.fake_requests(urls["anthropic"]) == []


async def test_a_conversation_opened_by_the_assistant_is_a_400_naming_messages_towards_anthropic_alone(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route whose only target is Anthropic answers openai's ``BadRequestError``: ``untranslatable_request``
    naming ``messages`` and why; nothing is sent."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="to-anthropic", messages=GREETED)  # type: ignore[arg-type]
    assert raised.value.code == "untranslatable_request"
    assert "'messages': the conversation begins with an assistant turn" in raised.value.message
    assert await running.fake_requests(urls["anthropic"]) == []
