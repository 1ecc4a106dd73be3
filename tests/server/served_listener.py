"""A ``Listener`` serving a small test application over real sockets, for the listener's and the path
table's tests (tests/server/test_listener.py, test_routes.py, test_listener_input.py).

``served``: the listener with ``make_routes``' handlers on 127.0.0.1, talked to with raw bytes (``post``
builds a request); ``ports``: a running sidecar's app port and a health listener on its state;
``exchange``: one request's answer on a new connection. The fixtures reach the tests through
tests/server/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web

from sidecar.server.lifecycle import health_listener
from sidecar.server.listener import Listener
from sidecar.server.routes import Handler, Routes

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from .raw import read_response


@dataclass
class Probe:
    """What the test handlers saw and lets the test control."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    stream_progress: int = 0
    stream_error: BaseException | None = None


def make_routes(probe: Probe) -> tuple[list[tuple[str, str, Handler]], Handler]:
    async def slow(request: web.BaseRequest) -> web.StreamResponse:
        probe.started.set()
        try:
            await probe.release.wait()
        except asyncio.CancelledError:
            probe.cancelled.set()
            raise
        return web.Response(text="slow")

    async def boom(request: web.BaseRequest) -> web.StreamResponse:
        raise RuntimeError("secret internals")

    async def bad_header(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text="x", headers={"x-evil": "a\r\nset-cookie: injected"})

    async def stream(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            await response.write(part)
        await response.write_eof()
        return response

    async def stream_then_fail(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        raise RuntimeError("failed mid-stream")

    async def flood(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        probe.started.set()
        try:
            for _ in range(4000):
                await response.write(b"x" * 16384)
                probe.stream_progress += 1
        except BaseException as exc:
            probe.stream_error = exc
            raise
        return response

    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        data = {"method": request.method, "path": request.path, "query": dict(request.query), "body": body.decode()}
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/slow", slow),
        ("GET", "/boom", boom),
        ("GET", "/badheader", bad_header),
        ("GET", "/stream", stream),
        ("GET", "/stream-then-fail", stream_then_fail),
        ("GET", "/flood", flood),
    ]
    return routes, echo


class Served:
    """A listener with the test application, and raw client connections to it closed when the test ends."""

    def __init__(self, listener: Listener, probe: Probe) -> None:
        self.listener = listener
        self.probe = probe
        self.writers: list[asyncio.StreamWriter] = []

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.listener.port)
        self.writers.append(writer)
        return reader, writer


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """The listener, its receive timeout 0.3 s, or the ``param`` of an indirect parametrization: a test that
    a connection is closed at once, not by that timeout, gives it 30 s and waits less than that."""
    probe = Probe()
    routes, echo = make_routes(probe)
    receive_timeout_s = getattr(request, "param", 0.3)
    listener = Listener(
        Routes(routes, fallback=echo, max_body=1000),
        max_connections=8,
        keepalive_s=2,
        receive_timeout_s=receive_timeout_s,
    )  # keepalive_s runs from the accept (aiohttp): a shorter one could close a connection, with a reset,
    # before the test's request is read when the loop stalls between the two (CI saw it at 0.3 s)
    await listener.start("127.0.0.1", 0)
    running = Served(listener, probe)
    yield running
    probe.release.set()
    await listener.shutdown(1)
    for writer in running.writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def exchange(port: int, data: bytes) -> tuple[int | None, bytes]:
    """Send ``data`` on a new connection; the status and body of the first answer (None: closed unanswered)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            status, _, body = await read_response(reader)
            return status, body
        return None, b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.fixture
async def ports(fake: FakeFactory, sidecar: SidecarFactory) -> AsyncIterator[tuple[RunningSidecar, dict[str, int]]]:
    """A running sidecar: its app port and a health port listener on the same state."""
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("up", await fake()) + "models:\n  m: {provider: up, model: m}\n"
    )
    health = health_listener(running.state)
    await health.start("127.0.0.1", 0)
    yield running, {"app": int(running.url.rsplit(":", 1)[1]), "health": health.port}
    await health.shutdown(0)
