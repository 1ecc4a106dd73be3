"""The listener alternative measured against aiohttp.web: a featureless proxy on an ``asyncio.Protocol``
driving ``httptools`` (llhttp, as uvicorn does), the same handler and upstream client as
``minimal_proxy.py`` (aiohttp's ``ClientSession``), so the two differ only in the listener.

Minimal on purpose (what it would cost to make it a product listener is in docs/benchmarks.md): keep-alive,
Content-Length bodies, one request at a time per connection, no pipelining queue, no timeouts, no
backpressure, no error answers beyond closing the connection.

    python bench/minimal_httptools_proxy.py PORT UPSTREAM_BASE_URL [PORTS_FILE]   (needs `pip install httptools`)

PORT 0 listens on any free port; PORTS_FILE then says which (``{"port": N}``, bench/listening.py).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import httptools
import orjson
import uvloop
from listening import write_ports_file


class Connection(asyncio.Protocol):
    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self.session = session
        self.upstream = upstream
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        path = httptools.parse_url(self.url).path.decode()
        method = self.parser.get_method()
        body, self.body = b"".join(self.body), []
        asyncio.get_running_loop().create_task(self.answer(method, path, body, self.parser.should_keep_alive()))

    async def answer(self, method: bytes, path: str, raw: bytes, keep_alive: bool) -> None:
        if method == b"GET":
            status, data = 200, b"ok"
        else:
            body = orjson.loads(raw)
            body["model"] = "rewritten"
            async with self.session.post(
                self.upstream + path, data=orjson.dumps(body), headers={"content-type": "application/json"}
            ) as response:
                status, data = response.status, await response.read()
        head = b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n" % (
            status,
            len(data),
            b"" if keep_alive else b"connection: close\r\n",
        )
        if self.transport is None or self.transport.is_closing():
            return  # the client left (wrk closes its connections when a run ends)
        self.transport.write(head + data)
        if not keep_alive:
            self.transport.close()


async def main(port: int, upstream: str, ports_file: str | None) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(session, upstream), "127.0.0.1", port)
    if ports_file is not None:
        write_ports_file(Path(ports_file), server.sockets[0].getsockname()[1])
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
