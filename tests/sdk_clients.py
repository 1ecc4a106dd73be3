"""The official SDKs' clients pointed at a running sidecar (``conftest.RunningSidecar``), without their
own retries, so that a test sees each answer the sidecar gives. Close them after use (``async with``).

google-genai's client is the ``gemini_client`` fixture (``conftest``): it needs a transport closed
after the test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anthropic
import openai

if TYPE_CHECKING:
    from .conftest import RunningSidecar


def openai_client(running: RunningSidecar, **headers: str) -> openai.AsyncOpenAI:
    """openai-python at the sidecar, without its own retries; ``headers`` go on every request."""
    return openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0, default_headers=headers)


def anthropic_client(running: RunningSidecar) -> anthropic.AsyncAnthropic:
    """The Anthropic SDK at the sidecar, without its own retries."""
    return anthropic.AsyncAnthropic(base_url=running.url, api_key="x", max_retries=0)


async def openai_chat_text(running: RunningSidecar, request: dict[str, Any], stream: bool) -> str:
    """The answer's text to a chat completion ``request`` sent through openai-python, whole or streamed."""
    async with openai_client(running) as client:
        if not stream:
            return (await client.chat.completions.create(**request)).choices[0].message.content or ""
        chunks = await client.chat.completions.create(stream=True, **request)
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
