"""An Anthropic app's document blocks towards another provider, through the SDK. A document's
``citations: {enabled: true}`` asks for answer text that cites its passages, and its ``title`` and
``context`` are shown to the model beside it (https://docs.claude.com/en/docs/build-with-claude/citations):
OpenAI and Gemini have no such fields, so each is refused by name, or under ``drop`` dropped and listed.
Before, they were left out silently: the app asked for citations and got an answer without them, its
title and context never shown to the model. The document itself still travels (OpenAI ``file``, Gemini
``inlineData``)."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client
from .three_dialects import start

PDF = base64.b64encode(b"%PDF-1.4 menu: dumplings").decode()
SOURCE = {"type": "base64", "media_type": "application/pdf", "data": PDF}
LENIENT = "  - {name: lenient, match: {model: lenient}, target: to-gemini, unsupported_params: drop}\n"
FIELDS = [
    pytest.param({"citations": {"enabled": True}}, "document.citations", id="citations"),
    pytest.param({"title": "Menu"}, "document.title", id="title"),
    pytest.param({"context": "from the inn's website"}, "document.context", id="context"),
]


def asking_about(document: dict[str, Any]) -> list[Any]:
    return [{"role": "user", "content": [document, {"type": "text", "text": "what is on the menu?"}]}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
@pytest.mark.parametrize(("field", "name"), FIELDS)
async def test_a_document_field_with_no_equivalent_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str, field: dict[str, Any], name: str, stream: bool
) -> None:
    """``citations`` enabled, a ``title`` or a ``context`` on a document towards OpenAI or Gemini: a 400
    naming the field, the upstream never called."""
    running, urls = await start(fake, sidecar)
    request: dict[str, Any] = {
        "model": target,
        "max_tokens": 100,
        "messages": asking_about({"type": "document", "source": SOURCE, **field}),
    }
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            if stream:
                async with client.messages.stream(**request) as events:
                    await events.get_final_message()
            else:
                await client.messages.create(**request)
    assert f"'{name}'" in info.value.message
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


async def test_under_drop_the_document_travels_without_them(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Under ``unsupported_params: drop`` the document reaches Gemini as ``inlineData`` and the dropped fields
    are listed in ``x-sidecar-dropped-params``."""
    running, urls = await start(fake, sidecar, extra=LENIENT)
    document = {"type": "document", "source": SOURCE, "title": "Menu", "citations": {"enabled": True}}
    async with anthropic_client(running) as client:
        raw = await client.messages.with_raw_response.create(
            model="lenient", max_tokens=100, messages=asking_about(document)
        )
    assert set(raw.headers["x-sidecar-dropped-params"].split(",")) >= {"document.title", "document.citations"}
    sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
    assert sent["contents"][0]["parts"][0] == {"inlineData": {"mimeType": "application/pdf", "data": PDF}}


async def test_citations_left_disabled_ask_for_nothing(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``citations: {enabled: false}`` is the default: the document reaches OpenAI as a ``file`` part."""
    running, urls = await start(fake, sidecar)
    document = {"type": "document", "source": SOURCE, "citations": {"enabled": False}}
    async with anthropic_client(running) as client:
        await client.messages.create(model="to-openai", max_tokens=100, messages=asking_about(document))
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert sent["messages"][0]["content"][0]["file"]["file_data"] == f"data:application/pdf;base64,{PDF}"
