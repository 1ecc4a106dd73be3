"""The official SDKs' clients pointed at a running sidecar (``conftest.RunningSidecar``), without their
own retries, so that a test sees each answer the sidecar gives. Close them after use (``async with``).

google-genai's client is the ``gemini_client`` fixture (``conftest``): it needs a transport closed
after the test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
