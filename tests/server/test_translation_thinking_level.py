"""Gemini 3's ``thinkingLevel`` across dialects, through google-genai: it reaches OpenAI as that
``reasoning_effort`` and Anthropic as Google's budget for the level (``docs/translation.md``, Thinking)."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import start


async def last_body(running: Any, url: str) -> dict[str, Any]:
    """The JSON body of the last request the fake provider at ``url`` received."""
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    return body


@pytest.mark.parametrize("level", ["MINIMAL", "LOW", "MEDIUM", "HIGH"])
async def test_a_thinking_level_reaches_openai_as_reasoning_effort(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, level: str
) -> None:
    """A google-genai app's ``thinking_level`` reaches OpenAI as ``reasoning_effort`` of the same level."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level=level))
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-openai", contents="servus", config=config
    )
    assert "servus" in (answer.text or "")
    assert (await last_body(running, urls["openai"]))["reasoning_effort"] == level.lower()


@pytest.mark.parametrize(("level", "budget"), [("LOW", 1024), ("MEDIUM", 8192), ("HIGH", 24576)])
async def test_a_thinking_level_reaches_anthropic_as_googles_budget_for_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, level: str, budget: int
) -> None:
    """A ``thinking_level`` reaches Anthropic as ``thinking {type: enabled}`` with the budget Google's
    OpenAI-compatible endpoint gives that level (the ``reasoning_effort`` -> Gemini mapping, reversed)."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_level=level), max_output_tokens=30000
    )
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-anthropic", contents="servus", config=config
    )
    assert "servus" in (answer.text or "")
    assert (await last_body(running, urls["anthropic"]))["thinking"] == {"type": "enabled", "budget_tokens": budget}


async def test_a_minimal_thinking_level_reaches_anthropic_without_thinking(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """``minimal`` (Google: no thinking for most queries) reaches Anthropic without ``thinking``, the level
    listed in the dropped-parameters header."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="MINIMAL"))
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-anthropic", contents="servus", config=config
    )
    assert "servus" in (answer.text or "")
    assert "thinking" not in await last_body(running, urls["anthropic"])
    assert answer.sdk_http_response is not None and answer.sdk_http_response.headers is not None
    assert "thinkingConfig.thinkingLevel" in answer.sdk_http_response.headers["x-sidecar-dropped-params"]
