"""``GET /v1/models/{model}`` (and ``/v1beta/models/{model}``) for a model name holding '/', as
OpenAI-compatible servers name theirs (``meta-llama/Llama-3-8B``): served like any other name."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client

NAME = "meta-llama/Llama-3-8B"


async def _start(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    url = await fake("f")
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + f"models:\n  '{NAME}': {{provider: p, model: llama}}\n  plain: {{provider: p, model: m}}\n"
        + f"routes:\n  - {{name: r, match: {{model: 'team/alias'}}, target: '{NAME}'}}\n"
    )
    return await sidecar(policy)


async def test_each_sdk_retrieves_a_model_whose_name_holds_a_slash(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """``models.retrieve("meta-llama/Llama-3-8B")`` (a model key) and a route's name with '/' answer with
    that model, not a 404, in the OpenAI, Anthropic and google-genai SDKs; an unknown name with '/' is
    still the SDK's NotFoundError."""
    running = await _start(fake, sidecar)
    async with openai_client(running) as client:
        assert (await client.models.retrieve(NAME)).id == NAME
        assert (await client.models.retrieve("team/alias")).id == "team/alias"
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("meta-llama/nope")
    async with anthropic_client(running) as claude:
        assert (await claude.models.retrieve(NAME)).id == NAME
    assert (await gemini_client(running.url).aio.models.get(model=NAME)).name == f"models/{NAME}"


@pytest.mark.parametrize("prefix", ["/v1/models/", "/v1beta/models/"])
async def test_a_model_name_with_a_slash_is_served_on_both_model_paths(
    fake: FakeFactory, sidecar: SidecarFactory, prefix: str
) -> None:
    """A plain GET of either model path with a name holding '/' answers 200 with that name."""
    running = await _start(fake, sidecar)
    async with aiohttp.ClientSession() as session, session.get(running.url + prefix + NAME) as answer:
        assert answer.status == 200, await answer.text()
        assert NAME in await answer.text()


@pytest.mark.parametrize("path", ["/v1beta/models/plain:generateContent", "/v1/models/plain:streamGenerateContent"])
async def test_a_gemini_method_path_asked_with_get_is_a_405_allowing_post(
    fake: FakeFactory, sidecar: SidecarFactory, path: str
) -> None:
    """``GET`` of a Gemini method path (a POST endpoint) is answered as another method on the OpenAI and
    Anthropic endpoints is: the 405 with ``Allow: POST`` naming the method and path, in Gemini's shape;
    not a model lookup ("model 'plain:generateContent' is not served here")."""
    running = await _start(fake, sidecar)
    headers = {"x-goog-api-client": "google-genai-sdk/1.0"}  # as google-genai sends (it names the dialect)
    async with aiohttp.ClientSession() as session, session.get(running.url + path, headers=headers) as answer:
        status, allowed, error = answer.status, answer.headers.get("Allow"), (await answer.json())["error"]
    message = f"method GET is not allowed on {path}: it is served for POST"
    assert (status, allowed, error["code"], error["message"]) == (405, "POST", 405, message)


async def test_a_model_name_holding_a_colon_is_still_a_model(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A name whose part after ':' is no Gemini method (``llama3:8b``) is looked up as a model."""
    running = await _start(fake, sidecar)
    async with aiohttp.ClientSession() as session, session.get(running.url + "/v1beta/models/llama3:8b") as answer:
        assert answer.status == 404
        assert "model 'llama3:8b' is not served here" in (await answer.json())["error"]["message"]
