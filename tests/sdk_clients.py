"""The official SDKs' clients pointed at a running sidecar (``conftest.RunningSidecar``), without their
own retries, so that a test sees each answer the sidecar gives. Close them after use (``async with``).

``sdk_client(openai.AsyncOpenAI, base_url=..., api_key=...)`` builds any of openai-python's or the
Anthropic SDK's clients (sync or async, Azure's too) that way, with ``SIDECAR_TIMEOUT_S`` in place of the
SDKs' default 5 s to connect: a test sidecar (or fake provider) runs in the test's own event loop, which
the suite's other workers on a loaded machine can starve for longer than that (suite28 saw the Anthropic
SDK's connect time out at a load of 14). A test of timeouts passes its own ``timeout=``.

Each client's HTTP client is the SDK's default one (``DefaultAsyncHttpxClient`` and the rest) on one SSL
context for the whole run (``suite_tls``): built per client, as the SDKs do, it reads the system's CA bundle
each time (about 30 ms of CPU a client, thousands of clients in the suite), for connections that are plain
HTTP to loopback. google-genai's client is the ``gemini_client`` fixture (``conftest``): it needs a transport
closed after the test, on the same context.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anthropic
import httpx2
import openai

if TYPE_CHECKING:
    from .conftest import RunningSidecar

Client = TypeVar("Client")

# Every phase of a call (connecting, each read, each write, waiting for a pooled connection): generous for a
# starved event loop, and under pytest's 60 s per test (pyproject.toml), so that a call that truly hangs
# fails as the SDK's timeout, naming the request, rather than as pytest's.
SIDECAR_TIMEOUT_S = 30.0


@functools.cache
def suite_tls() -> ssl.SSLContext:
    """The SSL context httpx2 builds for a client by default (the system's CA bundle), built once."""
    return httpx2.create_ssl_context()


def default_http_client(make: Any, timeout: Any) -> httpx2.Client | httpx2.AsyncClient:
    """The HTTP client the SDK of ``make`` (a client class of openai-python's or the Anthropic SDK's, sync or
    async) builds when given none (its ``_base_client``'s wrapper of ``DefaultAsyncHttpxClient``, which
    closes itself when collected), with ``timeout``, on ``suite_tls``."""
    sdk: Any = anthropic if issubclass(make, (anthropic.Anthropic, anthropic.AsyncAnthropic)) else openai
    asynchronous = issubclass(make, (openai.AsyncOpenAI, anthropic.AsyncAnthropic))
    kind = sdk._base_client.AsyncHttpxClientWrapper if asynchronous else sdk._base_client.SyncHttpxClientWrapper
    client: httpx2.Client | httpx2.AsyncClient = kind(timeout=timeout, verify=suite_tls())
    return client


def sdk_client(make: Callable[..., Client], **options: Any) -> Client:
    """``make`` (an SDK's client class) built with ``options``, by default without retries, with
    ``SIDECAR_TIMEOUT_S`` and the SDK's default HTTP client on ``suite_tls`` (see the module docstring)."""
    options = {"max_retries": 0, "timeout": SIDECAR_TIMEOUT_S, **options}
    if "http_client" not in options:
        options["http_client"] = default_http_client(make, options["timeout"])
    return make(**options)


def openai_client(running: RunningSidecar, **headers: str) -> openai.AsyncOpenAI:
    """openai-python at the sidecar, without its own retries; ``headers`` go on every request."""
    return sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x", default_headers=headers)


def anthropic_client(running: RunningSidecar) -> anthropic.AsyncAnthropic:
    """The Anthropic SDK at the sidecar, without its own retries."""
    return sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x")


async def openai_stream_usages(running: RunningSidecar, model: str) -> list[Any]:
    """The usage chunks' ``usage`` of a chat completion streamed to openai-python with
    ``stream_options.include_usage`` ("hi" to ``model``)."""
    async with openai_client(running) as client:
        chunks = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk.usage async for chunk in chunks if chunk.usage is not None]


async def openai_chat_text(running: RunningSidecar, request: dict[str, Any], stream: bool) -> str:
    """The answer's text to a chat completion ``request`` sent through openai-python, whole or streamed."""
    async with openai_client(running) as client:
        if not stream:
            return (await client.chat.completions.create(**request)).choices[0].message.content or ""
        chunks = await client.chat.completions.create(stream=True, **request)
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])


def gemini_http_options(**options: Any) -> Any:
    """google-genai's ``HttpOptions`` with ``options`` and its HTTP clients (the sync one it always builds, the
    async one and its websockets' when ``options`` gives none) on ``suite_tls``."""
    from google.genai import types

    tls = suite_tls()
    return types.HttpOptions(client_args={"verify": tls}, async_client_args={"verify": tls, "ssl": tls}, **options)
