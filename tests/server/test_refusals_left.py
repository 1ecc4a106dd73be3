"""An app that closes its connection at once after its request, before the sidecar answers a refusal (the
table's 404 and 405, the pipeline's 400 for a body that is not JSON): aiohttp, seeing the transport
closing, writes nothing (the write raises), and the request is booked as one whose app left, 499
``client_closed`` (docs/logs.md), as a proxied request whose app leaves before its answer is; until wave
59 it was booked with the refusal's status, as if answered.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until
from .metric_samples import scraped
from .one_route import one_route_policy

REQUESTS = {
    "404": b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
    "405": b"GET /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n",
    "400": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\nxyz",
}


async def sent_and_left(running: RunningSidecar, request: bytes) -> dict[str, object]:
    """``request`` sent, the connection closed before any answer; the one access line it gets."""
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", int(running.url.rsplit(":", 1)[1])))
        await loop.sock_sendall(sock, request)
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    return line


@pytest.mark.parametrize("refused", list(REQUESTS))
async def test_an_app_that_left_before_its_refusal_is_booked_499(
    fake: FakeFactory, sidecar: SidecarFactory, refused: str
) -> None:
    """The line says 499 ``client_closed`` and ``bytes_out`` 0, still naming the refusal's code in
    ``error_type`` (a proxied request's line has none); the request metrics count it as a request whose app left."""
    running = await sidecar(one_route_policy(await fake("f")))
    line = await sent_and_left(running, REQUESTS[refused])
    assert (line["status"], line["outcome"], line["bytes_out"]) == (499, "client_closed", 0)
    assert line.get("error_type") == {"404": "unknown_path", "405": "method_not_allowed", "400": None}[refused]
    counted = {
        sample.labels["outcome"]
        for sample in await scraped(running)
        if sample.name == "llm_sidecar_requests_total" and sample.value
    }
    assert counted == {"client_closed"}
