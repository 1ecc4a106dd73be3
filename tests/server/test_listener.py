"""The sidecar's listener settings reach its connections (SIDECAR_KEEPALIVE_S, SIDECAR_RECEIVE_TIMEOUT_S)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..conftest import FakeFactory, SidecarFactory, provider_block


def policy(url: str) -> str:
    return "version: 1\nproviders:\n" + provider_block("up", url) + "models:\n  m: {provider: up, model: m}\n"


@asynccontextmanager
async def open_raw(url: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A raw connection to the sidecar, closed on the way out."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()


async def test_an_idle_app_connection_is_closed_after_the_keepalive_setting(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With keepalive_s 0.2, a kept-alive connection with nothing to do is closed by the sidecar."""
    running = await sidecar(policy(await fake()), keepalive_s=0.2)
    async with open_raw(running.url) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200") and b"connection: close" not in head
        assert await asyncio.wait_for(reader.read(), 5) == b"ok\n"  # then EOF: the sidecar closed it


async def test_a_stalled_request_is_closed_after_the_receive_timeout(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With receive_timeout_s 0.2, a request whose body stops arriving has its connection closed."""
    running = await sidecar(policy(await fake()), receive_timeout_s=0.2)
    async with open_raw(running.url) as (reader, writer):
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 100\r\n\r\n{")
        assert await asyncio.wait_for(reader.read(), 5) == b""
