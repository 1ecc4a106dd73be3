"""The stack of the cross-dialect log-probability and citation tests: a sidecar in front of one graded
fake per dialect (``start``: models ``to-openai`` and ``to-gemini``), and what each fake sends its own
dialect's callers for the same question (``gemini_sends``, ``openai_sends``), to compare with what the
other dialect's SDK gets through the sidecar."""

from __future__ import annotations

from typing import Any

import aiohttp

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block

QUESTION = "Classify: I loved it. [truth:task=classification;answer=positive;choices=positive|negative|neutral;id=17]"
QUALITY: Any = {"*": {"right": 0.6, "spread": 0.2, "prose": 1}}  # unsure, and answered in a sentence
TOP = 2


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, dict[str, str]]:
    """A sidecar with models ``to-openai`` and ``to-gemini``, each a graded fake of that dialect."""
    urls = {d: await fake(f"fake-{d}", quality=QUALITY) for d in ("openai", "gemini")}
    policy = "version: 1\nproviders:\n" + "".join(provider_block(f"p-{d}", u, d) for d, u in urls.items())
    policy += "models:\n  to-openai: {provider: p-openai, model: gpt-4o-mini}\n"
    policy += "  to-gemini: {provider: p-gemini, model: gemini-2.0-flash}\nroutes: []\n"
    return await sidecar(policy), urls


async def post(url: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        assert response.status == 200
        return await response.json()


async def gemini_sends(url: str, text: str = QUESTION) -> Any:
    """The candidate the Gemini fake gives a Gemini caller asking the same question."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {"responseLogprobs": True, "logprobs": TOP},
    }
    return (await post(f"{url}/v1beta/models/gemini-2.0-flash:generateContent", body))["candidates"][0]


async def openai_sends(url: str, text: str = QUESTION) -> Any:
    """The choice the OpenAI fake gives an OpenAI caller asking the same question."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "logprobs": True,
        "top_logprobs": TOP,
    }
    return (await post(f"{url}/v1/chat/completions", body))["choices"][0]
