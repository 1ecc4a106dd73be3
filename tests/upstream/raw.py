"""Raw upstreams for tests: TCP servers on 127.0.0.1 that write exact bytes, as a hostile or broken
provider would.

``raw_upstream(handler)`` (a fixture in tests/conftest.py) starts an ``asyncio.start_server`` whose every
accepted connection is handed to ``handler(conn)``; it returns a ``RawUpstream`` (its URL, how many
connections it accepted, the requests it read). ``response``, ``chunked`` and ``serve_forever``
(``answering``: as a handler; ``whole_or_streamed``: a JSON body or an event stream) write well-formed
answers (``paced``: an event stream written one chunk at a time); a test writes its broken bytes itself.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    head: bytes
    body: bytes


class ServerConn:
    """The server's end of one accepted connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: RawUpstream) -> None:
        self.reader = reader
        self.writer = writer
        self.upstream = upstream
        self.ended = asyncio.Event()  # the handler returned: the server saw the client close (or gave up)

    async def read_request(self) -> Request | None:
        """The next request on this connection, or None once the client closed it."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        request = Request(head, body)
        self.upstream.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_closed_by_client(self) -> bool:
        """Read until the client closes the connection; True once it has (EOF or reset)."""
        try:
            while await self.reader.read(65536):
                pass
        except ConnectionError:
            pass
        return True

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0) instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[ServerConn], Awaitable[None]]


@dataclass
class RawUpstream:
    url: str = ""  # a request URL: base + /v1/chat?x=1
    base: str = ""  # scheme://127.0.0.1:port
    accepted: int = 0
    requests: list[Request] = field(default_factory=list)
    conns: list[ServerConn] = field(default_factory=list)


UpstreamFactory = Callable[..., Awaitable[RawUpstream]]


def response(body: bytes = b"ok", status: str = "200 OK", headers: str = "") -> bytes:
    """A complete Content-Length-framed HTTP/1.1 response; ``headers`` are extra CRLF-ended lines."""
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{headers}\r\n".encode() + body


def chunked(*chunks: bytes, headers: str = "") -> bytes:
    """A complete chunked HTTP/1.1 200 response."""
    out = f"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n{headers}\r\n".encode()
    for chunk in chunks:
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    return out + b"0\r\n\r\n"


async def serve_forever(conn: ServerConn, answer: bytes = b"") -> None:
    """Answer every request on the connection with ``answer`` (default ``response()``) until EOF."""
    while await conn.read_request() is not None:
        await conn.send(answer or response())


def answering(answer: bytes) -> Callable[[ServerConn], Awaitable[None]]:
    """A handler that answers every request on its connection with ``answer`` (``serve_forever``)."""

    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    return handler


def paced(writes: list[bytes], gap_s: float = 0.05) -> Callable[[ServerConn], Awaitable[None]]:
    """A handler that answers every request with a chunked event stream whose chunks ``writes`` go one
    write each, ``gap_s`` apart (one read each for the client, as a provider's events come), then its end."""

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for write in writes:
                await conn.send(f"{len(write):x}\r\n".encode() + write + b"\r\n")
                await asyncio.sleep(gap_s)
            await conn.send(b"0\r\n\r\n")

    return handler


def whole_or_streamed(
    whole: bytes, events: list[bytes], streamed: Callable[[Request], bool]
) -> Callable[[ServerConn], Awaitable[None]]:
    """A handler that answers each request with the JSON body ``whole``, or with the SSE ``events``
    (chunked) when ``streamed(request)``."""

    async def handler(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            if streamed(request):
                await conn.send(chunked(*events, headers="content-type: text/event-stream\r\n"))
            else:
                await conn.send(response(whole, headers="content-type: application/json\r\n"))

    return handler


async def raw_upstreams() -> AsyncIterator[UpstreamFactory]:
    """The body of the ``raw_upstream`` fixture: start servers, stop them all at the end."""
    servers: list[asyncio.Server] = []
    tasks: set[asyncio.Task[None]] = set()
    conns: list[ServerConn] = []

    async def start(handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> RawUpstream:
        state = RawUpstream()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            state.accepted += 1
            conn = ServerConn(reader, writer, state)
            state.conns.append(conn)
            conns.append(conn)
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await handler(conn)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass  # the client went away: what several tests do on purpose
            finally:
                tasks.discard(task)
                conn.ended.set()
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        state.base = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        state.url = f"{state.base}/v1/chat?x=1"
        return state

    yield start
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for conn in conns:  # a close waits to send what is buffered, which a client that stopped reading never takes
        conn.writer.transport.abort()
    for server in servers:
        server.close()
        await server.wait_closed()
