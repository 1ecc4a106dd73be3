"""Every proxied endpoint passes through with the model rewritten, including Azure OpenAI targets."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client, sdk_client


async def start(fake: FakeFactory, sidecar: SidecarFactory):  # type: ignore[no-untyped-def]
    url = await fake("f")
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("oai", url, "openai")
        + provider_block("ant", url, "anthropic")
        + f"  azure:\n    dialect: azure-openai\n    base_url: {url}\n    api_version: '2024-10-21'\n"
        + "    api_key: {env: AZURE_KEY}\n"
        + "models:\n  m: {provider: oai, model: up-m}\n  c: {provider: ant, model: up-c}\n"
        + "  az: {provider: azure, model: prod-deployment}\n"
    )
    return await sidecar(policy, env={"AZURE_KEY": "azure-secret"}), url


async def test_completions_embeddings_and_responses_pass_through(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Legacy completions, embeddings and the Responses API reach the upstream with the policy's model id."""
    running, url = await start(fake, sidecar)
    client = openai_client(running)
    completion = await client.completions.create(model="m", prompt="say hi", max_tokens=5)
    assert completion.choices[0].text
    embedding = await client.embeddings.create(model="m", input="vector me")
    assert len(embedding.data[0].embedding) > 0
    response = await client.responses.create(model="m", input="respond")
    assert response.output_text
    upstream = await running.fake_requests(url)
    assert [r["path"] for r in upstream[-3:]] == ["/v1/completions", "/v1/embeddings", "/v1/responses"]
    assert all(r["json"]["model"] == "up-m" for r in upstream[-3:])
    await client.close()


async def test_anthropic_count_tokens_passes_through(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """/v1/messages/count_tokens is served by the Anthropic target."""
    running, _ = await start(fake, sidecar)
    client = anthropic_client(running)
    count = await client.messages.count_tokens(model="c", messages=[{"role": "user", "content": "count these"}])
    assert count.input_tokens > 0
    await client.close()


async def test_azure_openai_target_gets_deployment_path_version_and_key(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Azure target is called at /openai/deployments/{name} with api-version and the api-key header."""
    running, url = await start(fake, sidecar)
    client = openai_client(running)
    reply = await client.chat.completions.create(model="az", messages=[{"role": "user", "content": "azure?"}])
    assert "azure?" in (reply.choices[0].message.content or "")
    upstream = (await running.fake_requests(url))[-1]
    assert upstream["path"] == "/openai/deployments/prod-deployment/chat/completions"
    assert upstream["query"]["api-version"] == "2024-10-21"
    assert upstream["headers"]["api-key"] == "azure-secret"
    assert "authorization" not in upstream["headers"]
    await client.close()


@pytest.mark.parametrize("path", ["/openai/deployments/m/chat/completions"])
async def test_azure_sdk_callers_are_served(fake: FakeFactory, sidecar: SidecarFactory, path: str) -> None:
    """An app on the AzureOpenAI SDK pointed at the sidecar is routed by its deployment name."""
    running, url = await start(fake, sidecar)
    client = sdk_client(openai.AsyncAzureOpenAI, azure_endpoint=running.url, api_key="x", api_version="2024-10-21")
    reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "from azure sdk"}])
    assert "from azure sdk" in (reply.choices[0].message.content or "")
    upstream = (await running.fake_requests(url))[-1]
    assert upstream["path"] == "/v1/chat/completions"
    assert upstream["json"]["model"] == "up-m"  # the deployment name became the OpenAI target's model id
    await client.close()


async def test_stream_true_on_embeddings_is_answered_whole(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Embeddings have no stream: ``"stream": true`` in the body (``extra_body``) gets the provider's whole
    answer. It was read as a stream, and the whole JSON answer failed as a truncated one: a 502 blaming the
    upstream, counted against its breaker."""
    running, _url = await start(fake, sidecar)
    async with openai_client(running) as client:
        embedding = await client.embeddings.create(model="m", input="hello", extra_body={"stream": True})
    assert len(embedding.data) == 1


async def gemini_sidecar(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """A sidecar whose model ``g`` is a fake Gemini's."""
    url = await fake("g")
    return await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("gem", url, "gemini")
        + "models:\n  g: {provider: gem, model: up-g}\n"
    )


async def test_stream_true_on_a_token_count_translated_to_gemini_is_answered_whole(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic token count with ``"stream": true`` routed to Gemini: the count. It was a 500 (the
    relay looked for a stream translation of token counts, which there is none of)."""
    running = await gemini_sidecar(fake, sidecar)
    async with anthropic_client(running) as client:
        counted = await client.messages.count_tokens(
            model="g", messages=[{"role": "user", "content": "hello"}], extra_body={"stream": True}
        )
    assert counted.input_tokens > 0


async def test_a_token_count_with_an_effort_translated_to_gemini_is_answered(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """anthropic 2.17's ``count_tokens(output_config={"effort": ...})`` routed to Gemini: the count, with
    ``output_config.effort`` (no input token depends on it) listed in ``x-sidecar-dropped-params``. It was
    a 400, the effort refused as a chat's is."""
    running = await gemini_sidecar(fake, sidecar)
    async with anthropic_client(running) as client:
        raw = await client.messages.with_raw_response.count_tokens(
            model="g", messages=[{"role": "user", "content": "hello"}], output_config={"effort": "high"}
        )
    assert (await raw.parse()).input_tokens > 0
    assert raw.headers["x-sidecar-dropped-params"] == "output_config.effort"
