"""The OpenAI Responses API (``POST /v1/responses``) through openai-python: ``responses.create`` and
``responses.stream`` relayed to an OpenAI-dialect target (translated to another dialect's target:
``test_responses_translated``); upstream errors reach the SDK's typed errors; an Azure target is called
on Azure's v1 surface, the only one with the Responses API."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .responses_clients import TOOLS, client_at
from .three_dialects import start


async def test_responses_create_is_answered_by_an_openai_target(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``responses.create`` is relayed to the OpenAI target and answered with text and usage."""
    running, urls = await start(fake, sidecar)
    async with client_at(running.url) as client:
        raw = await client.responses.with_raw_response.create(model="to-openai", input="hello responses")
        reply = raw.parse()
    assert reply.output_text == "hello responses"
    assert raw.headers["x-sidecar-model"] == "to-openai"
    assert reply.usage is not None and reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert [r["path"] for r in await running.fake_requests(urls["openai"])] == ["/v1/responses"]
    assert await running.fake_requests(urls["anthropic"]) == []


async def test_responses_stream_helper_gets_the_final_response(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``responses.stream`` yields the text deltas and ``get_final_response`` the completed response."""
    running, _ = await start(fake, sidecar)
    async with (
        client_at(running.url) as client,
        client.responses.stream(model="to-openai", input="hello stream") as events,
    ):
        deltas = [event.delta async for event in events if event.type == "response.output_text.delta"]
        final = await events.get_final_response()
    assert "".join(deltas) == "hello stream" == final.output_text
    assert final.status == "completed" and final.usage is not None


async def test_responses_tool_calls_come_back_as_function_call_items(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A function tool asked for comes back as a ``function_call`` output item with JSON arguments."""
    running, _ = await start(fake, sidecar)
    async with client_at(running.url) as client:
        reply = await client.responses.create(model="to-openai", input="fake:tool weather", tools=TOOLS)
    calls = [item for item in reply.output if item.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city":"test"}')]


async def test_a_responses_rate_limit_is_the_sdks_rate_limit_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An upstream 429 reaches the SDK as ``RateLimitError`` with the upstream's message."""
    running, _ = await start(fake, sidecar)
    async with client_at(running.url, fault="status=429") as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.responses.create(model="to-openai", input="hello")
    assert info.value.status_code == 429 and "Rate limit" in info.value.message


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param("error-event=5", "The server had an error", id="upstream error event"),
        pytest.param("cut=5", "upstream stream failed after it started", id="cut"),
    ],
)
async def test_a_responses_stream_failing_after_it_started_raises_in_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str, message: str
) -> None:
    """An upstream error event or a cut after the first text delta ends the stream with an error the SDK
    raises (``APIError``), after the text already sent: the stream never looks complete."""
    running, _ = await start(fake, sidecar)
    deltas: list[str] = []
    async with client_at(running.url, fault=fault) as client:
        with pytest.raises(openai.APIError) as info:
            async with client.responses.stream(model="to-openai", input="hello there friend") as events:
                async for event in events:
                    if event.type == "response.output_text.delta":
                        deltas.append(event.delta)
    assert deltas and "".join(deltas) != "hello there friend"
    assert message in info.value.message


async def test_a_stored_response_cannot_be_retrieved_through_the_sidecar(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Only ``POST /v1/responses`` is served: ``responses.retrieve`` of an id just answered is the SDK's
    ``NotFoundError`` (404 ``unknown_path``), as the page says, not a call to some upstream."""
    running, urls = await start(fake, sidecar)
    async with client_at(running.url) as client:
        reply = await client.responses.create(model="to-openai", input="hello")
        with pytest.raises(openai.NotFoundError) as info:
            await client.responses.retrieve(reply.id)
    assert info.value.code == "unknown_path"
    assert len(await running.fake_requests(urls["openai"])) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_azure_target_gets_the_responses_api_at_its_v1_path(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Azure OpenAI serves the Responses API at ``/openai/v1/responses`` with the deployment as ``model``,
    not under ``/openai/deployments/{name}`` as chat (where Azure answers 404): the app's response comes
    back, the upstream called there with the ``api-key`` header."""
    url = await fake("azure")
    policy = (
        "version: 1\nproviders:\n"
        + f"  azure:\n    kind: azure-openai\n    base_url: {url}\n    api_version: '2024-10-21'\n"
        + "    api_key: {env: AZURE_KEY}\n"
        + "models:\n  az: {provider: azure, model: prod-deployment}\n"
    )
    running = await sidecar(policy, env={"AZURE_KEY": "azure-secret"})
    async with client_at(running.url) as client:
        if stream:
            async with client.responses.stream(model="az", input="hello azure") as events:
                reply = await events.get_final_response()
        else:
            reply = await client.responses.create(model="az", input="hello azure")
    assert reply.output_text == "hello azure"
    upstream = (await running.fake_requests(url))[-1]
    assert upstream["path"] == "/openai/v1/responses"
    assert upstream["json"]["model"] == "prod-deployment"
    assert upstream["headers"]["api-key"] == "azure-secret"


async def test_an_app_on_the_azure_sdk_is_served_the_responses_api(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``AzureOpenAI(...).responses.create`` calls ``/openai/responses?api-version=...`` with the deployment
    as ``model``: routed on that model like ``/v1/responses``."""
    running, urls = await start(fake, sidecar)
    async with sdk_client(
        openai.AsyncAzureOpenAI, azure_endpoint=running.url, api_key="x", api_version="2025-04-01-preview"
    ) as client:
        reply = await client.responses.create(model="to-openai", input="hello from azure")
    assert reply.output_text == "hello from azure"
    upstream = (await running.fake_requests(urls["openai"]))[-1]
    assert upstream["path"] == "/v1/responses" and upstream["query"] == {}
    assert upstream["json"]["model"] == "gpt-4o-mini"
