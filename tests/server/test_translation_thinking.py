"""A google-genai app's ``thinking_config`` on a route served by OpenAI or Anthropic: its defaults ask for
nothing those providers lack and are served; a setting they cannot be told is refused, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from .test_translation import start

DEFAULTS = [
    pytest.param({"include_thoughts": False}, id="include_thoughts=False"),
    pytest.param({"thinking_budget": -1}, id="dynamic budget"),
    pytest.param({"thinking_budget": 0}, id="budget 0"),
    pytest.param({"include_thoughts": False, "thinking_budget": -1}, id="both defaults"),
]
REFUSED = [
    pytest.param({"thinking_budget": 2048}, "thinkingConfig.thinkingBudget", id="positive budget"),
    pytest.param({"include_thoughts": True}, "thinkingConfig.includeThoughts", id="include_thoughts=True"),
    pytest.param({"thinking_level": "HIGH"}, "thinkingConfig.thinkingLevel", id="thinking_level"),
]


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
@pytest.mark.parametrize("thinking", DEFAULTS)
async def test_default_thinking_config_is_served_across_dialects(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, thinking: dict[str, Any]
) -> None:
    """``thinking_config`` at its defaults (no thoughts shown, a dynamic or zero budget) is dropped, listed
    in the dropped-parameters header, and the answer comes back."""
    running, _ = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
    client = gemini_client(running.url)
    answer = await client.aio.models.generate_content(model=target, contents="servus", config=config)
    assert "servus" in (answer.text or "")
    dropped = answer.sdk_http_response.headers["x-sidecar-dropped-params"]
    assert "thinkingConfig." in dropped


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
@pytest.mark.parametrize(("thinking", "name"), REFUSED)
async def test_thinking_the_target_cannot_be_told_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, thinking: dict[str, Any], name: str
) -> None:
    """A thinking setting that asks for something (a budget, thoughts shown, a level) is a 400 naming the
    field, not a silent drop."""
    running, _ = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
    client = gemini_client(running.url)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=target, contents="servus", config=config)
    assert info.value.code == 400
    assert name in str(info.value)
