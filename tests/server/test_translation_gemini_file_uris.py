"""Files a google-genai app names by URI, through the SDK: a file uploaded with ``client.files.upload``
(``https://generativelanguage.googleapis.com/v1beta/files/...``, read with the app's Gemini key) or a
Cloud Storage ``gs://`` object can be read by Gemini only (https://ai.google.dev/api/files,
https://ai.google.dev/gemini-api/docs/file-input-methods). Towards OpenAI or Anthropic such a part cannot
be translated: a route's Gemini target serves it, and with none left the 400 names ``fileData.fileUri``;
before, it was sent on as an image URL the provider cannot download, and its 400 ended the route. A public
``https`` URL still travels as one."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import start

FILES_API = "https://generativelanguage.googleapis.com/v1beta/files/a1b2c3d4"
GOOGLE_ONLY = [pytest.param(FILES_API, id="files-api"), pytest.param("gs://photos/cat.png", id="cloud-storage")]
ROUTE = "  - {name: openai-then-gemini, match: {model: o-then-g}, target: [to-openai, to-gemini]}\n"


def asking_about(uri: str) -> list[types.Content]:
    return [
        types.Content(
            role="user",
            parts=[types.Part.from_uri(file_uri=uri, mime_type="image/png"), types.Part(text="what is it?")],
        )
    ]


@pytest.mark.parametrize("uri", GOOGLE_ONLY)
@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_file_only_gemini_can_read_is_refused_by_name_elsewhere(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, uri: str
) -> None:
    """A Files API or ``gs://`` URI towards OpenAI or Anthropic alone: a 400 naming ``fileData.fileUri``,
    the upstream never called."""
    running, urls = await start(fake, sidecar)
    with pytest.raises(errors.ClientError) as info:
        await gemini_client(running.url).aio.models.generate_content(model=target, contents=asking_about(uri))
    assert info.value.code == 400
    assert "fileData.fileUri" in str(info.value) and "only Gemini can read" in str(info.value)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_route_passes_a_gemini_file_to_its_gemini_target(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """A route OpenAI first, Gemini second: an uploaded file skips OpenAI and Gemini answers, the URI as sent."""
    running, urls = await start(fake, sidecar, extra=ROUTE)
    models = gemini_client(running.url).aio.models
    if stream:
        chunks = await models.generate_content_stream(model="o-then-g", contents=asking_about(FILES_API))
        text = "".join([chunk.text or "" async for chunk in chunks])
    else:
        text = (await models.generate_content(model="o-then-g", contents=asking_about(FILES_API))).text or ""
    assert text
    assert await running.fake_requests(urls["openai"]) == []
    sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
    assert FILES_API in str(sent["contents"][0]["parts"][0])  # relayed as google-genai wrote it (snake case)


async def test_a_public_image_url_still_reaches_openai(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A ``fileData`` part with a public ``https`` URL is an image URL OpenAI downloads: it travels as one."""
    running, urls = await start(fake, sidecar)
    url = "https://images.example/cat.png"
    await gemini_client(running.url).aio.models.generate_content(model="to-openai", contents=asking_about(url))
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert sent["messages"][0]["content"][0] == {"type": "image_url", "image_url": {"url": url}}
