"""The stack of the translation tests: a real sidecar in front of one fake provider per dialect
(``start``). The official SDKs' clients to point at it are ``tests/sdk_clients.py``'s.

Models ``to-openai``, ``to-anthropic``, ``to-gemini`` (and ``embed-gemini``) each name one provider; the
route ``a-then-o`` falls back from Anthropic to OpenAI. ``extra`` adds lines under ``routes:``.
``TOOL`` and ``ANTHROPIC_TOOL`` are the one tool the tests declare, in OpenAI's and Anthropic's shape.
"""

from __future__ import annotations

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": TOOL["function"]["parameters"],  # type: ignore[index]
}


async def start(fake: FakeFactory, sidecar: SidecarFactory, extra: str = "") -> tuple[RunningSidecar, dict[str, str]]:
    """The sidecar and the fake providers' URLs by dialect (``openai``, ``anthropic``, ``gemini``)."""
    urls = {d: await fake(f"fake-{d}") for d in ("openai", "anthropic", "gemini")}
    policy = "version: 1\nproviders:\n"
    for dialect, url in urls.items():
        policy += provider_block(f"p-{dialect}", url, dialect)
    policy += (
        """models:
  to-openai: {provider: p-openai, model: gpt-4o-mini}
  to-anthropic: {provider: p-anthropic, model: claude-3-5-haiku-latest, max_output_tokens: 1024}
  to-gemini: {provider: p-gemini, model: gemini-2.0-flash}
  embed-gemini: {provider: p-gemini, model: text-embedding-004, capabilities: [embeddings]}
routes:
  - {name: anthropic-then-openai, match: {model: a-then-o}, target: [to-anthropic, to-openai]}
"""
        + extra
    )
    return await sidecar(policy), urls
