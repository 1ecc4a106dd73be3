"""Scoring end to end through the sidecar: the truth survives translation, in all three caller dialects."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
from google.genai import types

from ..conftest import SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from .conftest import Start, base_url

LABELS = "positive|negative|neutral"
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["positive", "negative", "neutral"]}},
    "required": ["label"],
}


async def start(fake: Start, sidecar: SidecarFactory, quality: dict[str, Any] | None = None) -> str:
    policy = "version: 1\nproviders:\n"
    for dialect in ("openai", "anthropic", "gemini"):
        server = await fake(name=f"fake-{dialect}", quality=quality or {})
        policy += provider_block(f"p-{dialect}", base_url(server), dialect)
    policy += """models:
  to-openai: {provider: p-openai, model: fake-openai-model}
  to-anthropic: {provider: p-anthropic, model: fake-anthropic-model, max_output_tokens: 256}
  to-gemini: {provider: p-gemini, model: fake-gemini-model}
"""
    return (await sidecar(policy)).url


async def test_openai_caller_scored_against_anthropic_json(fake: Start, sidecar: SidecarFactory) -> None:
    """An OpenAI json_schema request served by Anthropic (a forced answer tool upstream) returns the right
    label as JSON text, and over 100 questions the share right is the upstream model's profile."""
    url = await start(fake, sidecar, {"fake-anthropic-model": {"right": 0.7}})
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x")
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "label", "schema": SCHEMA}}
    right = 0
    for index in range(100):
        reply = await client.chat.completions.create(
            model="to-anthropic",
            messages=[{"role": "user", "content": f"Review {index}. [truth:answer=positive;choices={LABELS}]"}],
            response_format=response_format,
        )
        right += json.loads(reply.choices[0].message.content or "")["label"] == "positive"
    await client.close()
    assert 58 <= right <= 82  # 0.7 within 2.6 sigma; the draws are fixed, so this never flakes


async def test_anthropic_caller_marker_reaches_gemini(fake: Start, sidecar: SidecarFactory) -> None:
    """An Anthropic request with a truth marker served by Gemini comes back with the right label."""
    url = await start(fake, sidecar)
    client = sdk_client(anthropic.AsyncAnthropic, base_url=url, api_key="x")
    reply = await client.messages.create(
        model="to-gemini",
        max_tokens=32,
        messages=[{"role": "user", "content": f"Sentiment? [truth:answer=negative;choices={LABELS}]"}],
    )
    await client.close()
    assert reply.content[0].text == "negative"  # type: ignore[union-attr]


async def test_gemini_caller_truth_header_reaches_openai(
    fake: Start, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini request whose truth is in the x-fake-truth header is graded by the OpenAI upstream."""
    url = await start(fake, sidecar, {"fake-openai-model": {"right": 0.0}})
    client = gemini_client(url)
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-fake-truth": f"answer=neutral;choices={LABELS}"})
    )
    reply = await client.aio.models.generate_content(model="to-openai", contents="Sentiment?", config=config)
    assert reply.text in ("positive", "negative")
