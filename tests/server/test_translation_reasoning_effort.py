"""An OpenAI app's ``reasoning_effort`` towards Anthropic, through openai-python: it reaches Anthropic as the
thinking budget Google gives the same level, as Gemini 3's ``thinkingLevel`` does (``docs/translation.md``,
Thinking); ``minimal`` and ``none`` as no thinking; what Anthropic would refuse is a 400 naming the field."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_chat_text, openai_client
from .three_dialects import start

SERVUS = [{"role": "user", "content": "servus"}]


async def last_body(running: Any, url: str) -> dict[str, Any]:
    """The JSON body of the last request the fake provider at ``url`` received."""
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    return body


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 8192), ("high", 24576)])
async def test_reasoning_effort_reaches_anthropic_as_googles_budget_for_it(
    fake: FakeFactory, sidecar: SidecarFactory, effort: str, budget: int, stream: bool
) -> None:
    """``reasoning_effort`` reaches Anthropic as ``thinking {type: enabled}`` with the budget Google's
    OpenAI-compatible endpoint gives that effort (low 1,024, medium 8,192, high 24,576)."""
    running, urls = await start(fake, sidecar)
    request: dict[str, Any] = {
        "model": "to-anthropic",
        "messages": SERVUS,
        "reasoning_effort": effort,
        "max_completion_tokens": 30000,
    }
    assert "servus" in await openai_chat_text(running, request, stream)
    body = await last_body(running, urls["anthropic"])
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == 30000


@pytest.mark.parametrize("effort", ["minimal", "none"])
async def test_minimal_or_no_reasoning_effort_reaches_anthropic_without_thinking(
    fake: FakeFactory, sidecar: SidecarFactory, effort: str
) -> None:
    """``minimal`` (Google: no thinking for most queries) and ``none`` reach Anthropic without ``thinking``,
    ``reasoning_effort`` listed in the dropped-parameters header."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="to-anthropic", messages=SERVUS, reasoning_effort=effort
        )
    assert "servus" in (raw.parse().choices[0].message.content or "")
    assert "thinking" not in await last_body(running, urls["anthropic"])
    assert "reasoning_effort" in raw.headers["x-sidecar-dropped-params"]


@pytest.mark.parametrize(
    ("extra", "name", "why"),
    [
        pytest.param(
            {"reasoning_effort": "high", "max_completion_tokens": 1000},
            "reasoning_effort",
            "Anthropic needs max_tokens (1000) above its minimum thinking budget (1024), which high would be"
            " shrunk to: ask for more than 1024 output tokens, or for no thinking",
            id="max_completion_tokens not above the minimum budget",
        ),
        pytest.param(
            {"reasoning_effort": "low", "max_completion_tokens": 4096, "temperature": 0.3},
            "temperature",
            "Anthropic takes only 1 while thinking",
            id="temperature",
        ),
    ],
)
async def test_reasoning_effort_anthropic_would_refuse_is_a_400_naming_the_field(
    fake: FakeFactory, sidecar: SidecarFactory, extra: dict[str, Any], name: str, why: str
) -> None:
    """What Anthropic refuses with thinking on (no budget of at least 1,024 below ``max_tokens``; a temperature
    other than 1) is refused before the call, naming the caller's field, what Anthropic needs and what to
    change; nothing reaches Anthropic."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model="to-anthropic", messages=SERVUS, **extra)
    assert info.value.status_code == 400
    assert repr(name) in info.value.message and why in info.value.message
    assert await running.fake_requests(urls["anthropic"]) == []
