"""Gemini's paths under ``/v1`` (google-genai's ``api_version="v1"``, or a raw caller with ``?key=`` and no
``x-goog-*`` header): read as Gemini's, not OpenAI's, while ``/v1/models`` stays OpenAI's for OpenAI apps."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2
import pytest
from google import genai

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import gemini_http_options, suite_tls
from .three_dialects import start


async def _get(running: RunningSidecar, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(running.url + path) as answer:
        return answer.status, await answer.json()


async def test_google_genai_with_api_version_v1_is_served_every_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """google-genai with ``api_version="v1"`` (``/v1/models/...``) generates, streams, counts, embeds, gets
    and lists through the sidecar as with ``v1beta``, and an unknown model is its ``ClientError`` 404."""
    running, _ = await start(fake, sidecar)
    async with httpx2.AsyncClient(verify=suite_tls()) as transport:
        options = gemini_http_options(base_url=running.url, api_version="v1", httpx_async_client=transport)
        models = genai.Client(api_key="app-dummy", http_options=options).aio.models
        assert (await models.generate_content(model="to-openai", contents="hi")).text == "hi"
        stream = await models.generate_content_stream(model="to-openai", contents="hi")
        assert "".join([chunk.text or "" async for chunk in stream]) == "hi"
        assert (await models.count_tokens(model="to-gemini", contents="hi")).total_tokens
        assert len((await models.embed_content(model="embed-gemini", contents="a")).embeddings or ()) == 1
        assert (await models.get(model="to-openai")).name == "models/to-openai"
        assert "models/to-openai" in [m.name async for m in await models.list()]
        with pytest.raises(genai.errors.ClientError) as info:
            await models.generate_content(model="nope", contents="hi")
    assert info.value.code == 404


@pytest.mark.parametrize("method", ["streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"])
async def test_a_refused_target_on_a_v1_gemini_method_path_is_answered_in_gemini_s_shape(
    fake: FakeFactory, sidecar: SidecarFactory, method: str
) -> None:
    """A Gemini method path under ``/v1`` with no ``x-goog-*`` header, refused before any handler (its target
    does not decode to UTF-8), gets Gemini's error shape, which google-genai reads, not OpenAI's."""
    running, _ = await start(fake, sidecar)
    url = running.url + f"/v1/models/x%ff:{method}?key=k"
    async with aiohttp.ClientSession() as session, session.post(url, data=b"{}") as answer:
        status, error = answer.status, (await answer.json())["error"]
    assert (status, error["status"], error["code"]) == (400, "INVALID_ARGUMENT", 400)


async def test_a_raw_gemini_caller_with_a_key_in_the_query_gets_gemini_s_model_list(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``GET /v1/models?key=...`` (Gemini's key in the query, no header) lists models in Gemini's shape, and a
    method path asked with GET is Gemini's 405; without the key ``/v1/models`` is still OpenAI's list."""
    running, _ = await start(fake, sidecar)
    status, listing = await _get(running, "/v1/models?key=k")
    assert status == 200 and "models/to-openai" in [m["name"] for m in listing["models"]]
    status, error = await _get(running, "/v1/models/to-openai:countTokens?key=k")
    assert (status, error["error"]["code"]) == (405, 405)
    status, listing = await _get(running, "/v1/models")
    assert status == 200 and listing["object"] == "list"
