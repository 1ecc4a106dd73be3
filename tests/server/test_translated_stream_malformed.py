"""An upstream event that is not JSON in the middle of a translated stream ends the caller's stream with
its error event, as the caller's own SDK raises on such an event from its own provider; it used to be
skipped, and the app got an answer with a piece missing and a normal finish. Found with the Node SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .three_dialects import start

TEXT = "one two three four five six seven eight nine ten"
FAULT = {"x-fake-fault": "malformed=5"}


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_an_openai_stream_ends_with_an_error_at_a_broken_event(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """openai-python raises ``APIError`` after the text before the broken event; it never finishes."""
    running, _ = await start(fake, sidecar)
    got: list[str] = []
    async with openai_client(running) as client:
        with pytest.raises(openai.APIError, match="malformed_response"):
            stream = await client.chat.completions.create(
                model=target, messages=[{"role": "user", "content": TEXT}], stream=True, extra_headers=FAULT
            )
            async for chunk in stream:
                got += [c.delta.content or "" for c in chunk.choices]
    assert TEXT.startswith("".join(got))


@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
async def test_an_anthropic_stream_ends_with_an_error_at_a_broken_event(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """The Anthropic SDK's stream helper raises ``APIStatusError`` instead of a final message."""
    running, _ = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIStatusError, match="malformed_response"):
            async with client.messages.stream(
                model=target, max_tokens=100, messages=[{"role": "user", "content": TEXT}], extra_headers=FAULT
            ) as stream:
                await stream.get_final_message()


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_gemini_stream_ends_with_an_error_at_a_broken_event(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """google-genai raises ``APIError`` from the stream."""
    running, _ = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    config: dict[str, Any] = {"http_options": {"headers": FAULT}}
    with pytest.raises(errors.APIError, match="malformed_response"):
        async for _ in await models.generate_content_stream(model=target, contents=TEXT, config=config):
            pass
