"""Several answers asked across dialects, through the SDKs, against fakes that give as many as asked (the
same answer each, each billed, as OpenAI's ``n`` and Gemini's ``candidateCount`` do): an OpenAI app's
``n`` reaches Gemini as ``candidateCount`` and every candidate comes back as a choice, and a google-genai
app's ``candidate_count`` reaches OpenAI as ``n``, every choice a candidate; the output tokens of all of
them are counted (https://platform.openai.com/docs/api-reference/chat/create#chat-create-n,
https://ai.google.dev/api/generate-content#generationconfig)."""

from __future__ import annotations

from typing import Any

from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .three_dialects import start


async def test_an_openai_app_s_n_comes_back_from_gemini_as_n_choices(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``n: 3`` towards Gemini: ``candidateCount: 3`` sent, three choices (indexes 0-2) back, and the usage
    counting the three answers' tokens."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        one = await client.chat.completions.create(model="to-gemini", messages=[{"role": "user", "content": "servus"}])
        three = await client.chat.completions.create(
            model="to-gemini", n=3, messages=[{"role": "user", "content": "servus"}]
        )
    assert (await running.fake_requests(urls["gemini"]))[-1]["json"]["generationConfig"]["candidateCount"] == 3
    assert [(c.index, c.message.content) for c in three.choices] == [(i, "servus") for i in range(3)]
    assert one.usage is not None and three.usage is not None
    assert three.usage.completion_tokens == 3 * one.usage.completion_tokens


async def test_a_gemini_app_s_candidate_count_comes_back_from_openai_as_candidates(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """``candidate_count=2`` towards OpenAI: ``n: 2`` sent, two candidates back, ``response.text`` the first."""
    running, urls = await start(fake, sidecar)
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-openai", contents="servus", config=types.GenerateContentConfig(candidate_count=2)
    )
    assert (await running.fake_requests(urls["openai"]))[-1]["json"]["n"] == 2
    assert answer.candidates is not None
    assert [(c.index, c.content.parts[0].text) for c in answer.candidates if c.content and c.content.parts] == [
        (0, "servus"),
        (1, "servus"),
    ]
    assert answer.text == "servus"
