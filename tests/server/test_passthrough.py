"""Same-dialect passthrough through the sidecar, driven by the official SDKs against fake providers."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client, openai_stream_usages, sdk_client


def policy(openai_url: str, anthropic_url: str, gemini_url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p-openai", openai_url, "openai", key_env="OPENAI_KEY")
        + provider_block("p-anthropic", anthropic_url, "anthropic", key_env="ANTHROPIC_KEY")
        + provider_block("p-gemini", gemini_url, "gemini", key_env="GEMINI_KEY")
        + """models:
  gpt: {provider: p-openai, model: gpt-4o-mini-2024-07-18, price: {input_per_mtok: 1, output_per_mtok: 2}}
  claude: {provider: p-anthropic, model: claude-3-5-haiku-20241022}
  gemini: {provider: p-gemini, model: gemini-2.0-flash-001}
routes:
  - {name: fast, match: {model: "fast*"}, target: gpt}
"""
    )


ENV = {"OPENAI_KEY": "sk-openai-injected", "ANTHROPIC_KEY": "sk-ant-injected", "GEMINI_KEY": "gm-injected"}


async def start(fake: FakeFactory, sidecar: SidecarFactory):  # type: ignore[no-untyped-def]
    urls = [await fake("fo"), await fake("fa"), await fake("fg")]
    running = await sidecar(policy(*urls), env=ENV)
    return running, urls


async def test_openai_chat_is_routed_and_model_rewritten(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An OpenAI SDK chat for a routed name reaches the upstream with the policy's model id and key."""
    running, (openai_url, _, _) = await start(fake, sidecar)
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="app-dummy-key")
    raw = await client.chat.completions.with_raw_response.create(
        model="fast-please", messages=[{"role": "user", "content": "hello there"}], extra_body={"x_custom": 7}
    )
    completion = raw.parse()
    assert "hello there" in (completion.choices[0].message.content or "")
    assert raw.headers["x-sidecar-route"] == "fast"
    assert raw.headers["x-sidecar-model"] == "gpt"
    assert raw.headers["x-sidecar-provider"] == "p-openai"
    assert raw.headers["x-sidecar-attempts"] == "1"
    upstream = (await running.fake_requests(openai_url))[-1]
    assert upstream["json"]["model"] == "gpt-4o-mini-2024-07-18"
    assert upstream["json"]["x_custom"] == 7  # unknown fields pass through untouched
    headers = {k.lower(): v for k, v in upstream["headers"].items()}
    assert headers["authorization"] == "Bearer sk-openai-injected"
    await client.close()


async def test_openai_stream_arrives_event_by_event(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streamed OpenAI chat arrives as chunks the SDK parses, ending normally."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    stream = await client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "count to three"}], stream=True
    )
    text = ""
    chunks = 0
    async for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        assert chunk.usage is None  # the sidecar's own usage request is not leaked to a caller who did not ask
    assert "count to three" in text and chunks > 2
    await client.close()


async def test_openai_stream_usage_when_the_caller_asks(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With stream_options.include_usage the caller gets the usage chunk."""
    running, _ = await start(fake, sidecar)
    usages = await openai_stream_usages(running, "gpt")
    assert len(usages) == 1 and usages[0].prompt_tokens > 0


async def test_anthropic_messages_pass_through(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic SDK message, plain and streamed, is served by the Anthropic target with its key."""
    running, (_, anthropic_url, _) = await start(fake, sidecar)
    client = sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-dummy")
    message = await client.messages.create(
        model="claude", max_tokens=100, messages=[{"role": "user", "content": "bonjour"}]
    )
    assert "bonjour" in message.content[0].text  # type: ignore[union-attr]
    async with client.messages.stream(
        model="claude", max_tokens=100, messages=[{"role": "user", "content": "streamed"}]
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert "streamed" in text
    upstream = (await running.fake_requests(anthropic_url))[-1]
    headers = {k.lower(): v for k, v in upstream["headers"].items()}
    assert headers["x-api-key"] == "sk-ant-injected"
    assert upstream["json"]["model"] == "claude-3-5-haiku-20241022"
    await client.close()


async def test_gemini_generate_content_passes_through(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai's generateContent and stream reach the Gemini target with the model in the path."""
    running, (_, _, gemini_url) = await start(fake, sidecar)
    client = gemini_client(running.url)
    reply = await client.aio.models.generate_content(model="gemini", contents="guten tag")
    assert "guten tag" in (reply.text or "")
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(model="gemini", contents="streaming"):
        text += chunk.text or ""
    assert "streaming" in text
    upstream = (await running.fake_requests(gemini_url))[-1]
    assert "gemini-2.0-flash-001:streamGenerateContent" in upstream["path"]
    headers = {k.lower(): v for k, v in upstream["headers"].items()}
    assert headers["x-goog-api-key"] == "gm-injected"


async def test_models_endpoint_lists_exposed_names(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """GET /v1/models lists the policy's model names, as the OpenAI SDK reads them."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    names = [m.id async for m in client.models.list()]
    assert names == ["claude", "gemini", "gpt"]
    await client.close()


async def test_models_endpoint_answers_each_sdk_in_its_shape(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The Anthropic and Gemini SDKs list and get the exposed models in their own shapes (they used to get
    OpenAI's list: Anthropic's fields were None, google-genai found no model); an unknown one is their 404."""
    running, _ = await start(fake, sidecar)
    claude = anthropic_client(running)
    listed = [m async for m in claude.models.list()]
    assert [m.id for m in listed] == ["claude", "gemini", "gpt"]
    assert all(m.type == "model" and m.display_name == m.id and m.created_at.year >= 2025 for m in listed)
    assert (await claude.models.retrieve("gpt")).id == "gpt"
    with pytest.raises(anthropic.NotFoundError):
        await claude.models.retrieve("nope")
    await claude.close()
    google = gemini_client(running.url)
    assert [m.name async for m in await google.aio.models.list()] == ["models/claude", "models/gemini", "models/gpt"]
    got = await google.aio.models.get(model="gemini")
    assert got.name == "models/gemini" and "generateContent" in (got.supported_actions or ())
    with pytest.raises(genai_errors.ClientError) as info:
        await google.aio.models.get(model="nope")
    assert info.value.code == 404
    client = openai_client(running)
    assert (await client.models.retrieve("claude")).id == "claude"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("nope")
    await client.close()


async def test_access_line_records_the_request(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """One JSON access line per request with route, models, provider, status, tokens and cost."""
    running, _ = await start(fake, sidecar)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": "x"}]},
        ) as response,
    ):
        assert response.status == 200
    access = [line for line in running.log_lines() if line.get("event") == "access"]
    assert len(access) == 1
    line = access[0]
    assert line["route"] == "model:gpt" and line["served_model"] == "gpt" and line["provider"] == "p-openai"
    assert line["status"] == 200 and line["stream"] is False and line["input_tokens"] > 0
    assert line["cost_usd"] > 0 and line["bytes_out"] > 0
