"""Streaming: no buffering, client disconnects cancel the upstream call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client


def policy(url: str) -> str:
    return "version: 1\nproviders:\n" + provider_block("up", url, "openai") + "models:\n  m: {provider: up, model: m}\n"


async def test_events_are_relayed_as_they_arrive(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With a paced upstream, the first event reaches the client long before the stream ends."""
    url = await fake(tokens_per_s=20, reply="one two three four five six seven eight nine ten")
    running = await sidecar(policy(url))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    started = time.monotonic()
    arrivals: list[float] = []
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        async for _ in response.content.iter_any():
            arrivals.append(time.monotonic() - started)
    assert len(arrivals) > 3
    assert arrivals[0] < arrivals[-1] / 2  # the first bytes came early, not at the end


async def test_client_disconnect_cancels_the_upstream_call(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """When the app drops a stream, the sidecar closes its upstream connection promptly."""
    closed = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            chunk = (
                b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
                b'"choices":[{"index":0,"delta":{"content":"tick "},"finish_reason":null}]}\n\n'
            )
            for _ in range(400):
                await response.write(chunk)
                await asyncio.sleep(0.025)
        except (ConnectionResetError, asyncio.CancelledError):
            closed.set()
            raise
        return response

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", endless)
    server = await aiohttp_server(upstream)
    running = await sidecar(policy(str(server.make_url("")).rstrip("/")))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{running.url}/v1/chat/completions", json=body)
        await response.content.readany()
        response.close()  # the app goes away mid-stream
        dropped = time.monotonic()
    await asyncio.wait_for(closed.wait(), timeout=2)
    assert time.monotonic() - dropped < 1.0


def chunk(content: str) -> bytes:
    return (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        b'"delta":{"content":' + orjson.dumps(content) + b'},"finish_reason":null}]}\n\n'
    )


USAGE = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}\n\n'
)


async def test_a_same_dialect_stream_reaches_the_app_as_the_upstream_sent_it(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """Event by event (each its own network read), a same-dialect stream arrives byte for byte as sent,
    words that look like markers included, but for the usage chunk the sidecar asked for on its own
    account: dropped, and counted."""
    contents = [chunk("one "), chunk("no error here "), chunk("usage "), chunk("done"), USAGE, b"data: [DONE]\n\n"]

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for part in contents:
            await response.write(part)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(upstream)
    running = await sidecar(policy(str(server.make_url("")).rstrip("/")))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        received = await response.read()
    assert received == b"".join(part for part in contents if part is not USAGE)
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (access["input_tokens"], access["output_tokens"], access["outcome"]) == (7, 5, "ok")


async def test_content_read_with_a_mid_stream_error_reaches_the_app_before_the_error(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """When one network read holds content and then the upstream's error, the app gets the content,
    then the error its SDK raises on."""
    error = b'data: {"error":{"message":"upstream broke","type":"server_error"}}\n\n'

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk("first "))
        await asyncio.sleep(0.02)
        await response.write(chunk("second ") + error)
        await asyncio.sleep(0.05)
        return response

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(upstream)
    running = await sidecar(policy(str(server.make_url("")).rstrip("/")))
    client = openai_client(running)
    text = ""
    with pytest.raises(openai.APIError, match="upstream broke"):
        async for part in await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            text += part.choices[0].delta.content or "" if part.choices else ""
    assert text == "first second "
    await client.close()
