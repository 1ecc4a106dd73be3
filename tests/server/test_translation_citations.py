"""Why Anthropic's answer citations never need translating (docs/translation.md, Known limits): Anthropic
cites only what the request asked it to (a document's ``citations``, ``search_result`` blocks, its web
search tool, https://docs.claude.com/en/docs/build-with-claude/citations). An OpenAI or Gemini app's PDF
reaches Anthropic as a document that asks for none, and an Anthropic app's cited sources are refused by
name towards other providers; so a cited answer only ever reaches an Anthropic app, relayed untouched."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .three_dialects import start

PDF = b"%PDF-1.4 menu: dumplings"
QUESTION = "what is on the menu?"


async def test_an_openai_app_s_pdf_asks_anthropic_for_no_citations(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """openai-python's ``file`` part reaches Anthropic as a base64 document without ``citations``."""
    running, urls = await start(fake, sidecar)
    data = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    content: Any = [
        {"type": "file", "file": {"filename": "menu.pdf", "file_data": data}},
        {"type": "text", "text": QUESTION},
    ]
    async with openai_client(running) as client:
        await client.chat.completions.create(model="to-anthropic", messages=[{"role": "user", "content": content}])
    document = (await running.fake_requests(urls["anthropic"]))[-1]["json"]["messages"][0]["content"][0]
    assert document["type"] == "document" and "citations" not in document


async def test_a_gemini_app_s_pdf_asks_anthropic_for_no_citations(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai's inline PDF reaches Anthropic as a base64 document without ``citations``."""
    running, urls = await start(fake, sidecar)
    contents = [types.Part.from_bytes(data=PDF, mime_type="application/pdf"), QUESTION]
    await gemini_client(running.url).aio.models.generate_content(model="to-anthropic", contents=contents)
    document = (await running.fake_requests(urls["anthropic"]))[-1]["json"]["messages"][0]["content"][0]
    assert document["type"] == "document" and "citations" not in document


@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
async def test_an_anthropic_app_s_search_result_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """A ``search_result`` block (whose citations Anthropic answers with) towards OpenAI or Gemini: a 400
    naming ``content.search_result``, nothing sent."""
    running, urls = await start(fake, sidecar)
    result = {
        "type": "search_result",
        "source": "https://inn.test/menu",
        "title": "Menu",
        "content": [{"type": "text", "text": "dumplings"}],
        "citations": {"enabled": True},
    }
    messages: Any = [{"role": "user", "content": [result, {"type": "text", "text": QUESTION}]}]
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError, match=r"content\.search_result"):
            await client.messages.create(model=target, max_tokens=50, messages=messages)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []
