"""Fixtures: start fake provider servers on loopback ports and point the official SDKs at them.

``fake(**config)`` starts a server (``FakeConfig`` fields as keywords, plus ``max_records``); the client
fixtures build SDK clients with ``max_retries=0`` and close them after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types

from sidecar.fake_provider import FakeConfig, build_app

from ..sdk_clients import gemini_http_options, sdk_client, suite_tls

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def fake(aiohttp_server: Any) -> Start:
    async def start(max_records: int = 1000, **config: Any) -> TestServer:
        server: TestServer = await aiohttp_server(build_app(FakeConfig(**config), max_records=max_records))
        return server

    return start


def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def openai_for() -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    clients: list[openai.AsyncOpenAI] = []

    def make(server: TestServer, **options: Any) -> openai.AsyncOpenAI:
        client = sdk_client(openai.AsyncOpenAI, base_url=base_url(server) + "/v1", api_key="sk-test", **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def anthropic_for() -> AsyncIterator[Callable[..., anthropic.AsyncAnthropic]]:
    clients: list[anthropic.AsyncAnthropic] = []

    def make(server: TestServer, **options: Any) -> anthropic.AsyncAnthropic:
        client = sdk_client(anthropic.AsyncAnthropic, base_url=base_url(server), api_key="sk-ant-test", **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def gemini_for() -> AsyncIterator[Callable[[TestServer], genai.Client]]:
    """google-genai over httpx (its aiohttp path warns about subclassing ClientSession)."""
    transports: list[httpx2.AsyncClient] = []

    def make(server: TestServer) -> genai.Client:
        transport = httpx2.AsyncClient(verify=suite_tls())
        transports.append(transport)
        options = gemini_http_options(base_url=base_url(server), httpx_async_client=transport)
        return genai.Client(api_key="g-test", http_options=options)

    yield make
    for transport in transports:
        await transport.aclose()


@pytest.fixture
def gemini_fault() -> Callable[[str], types.GenerateContentConfig]:
    """Make a google-genai request config that sends ``x-fake-fault: spec``."""

    def config(spec: str) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(http_options=types.HttpOptions(headers={"x-fake-fault": spec}))

    return config
