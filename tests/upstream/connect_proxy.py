"""A small forward proxy for tests, as a corporate egress proxy behaves: ``CONNECT host:port`` opens a
tunnel and relays bytes both ways (TLS stays end to end); a request in absolute form
(``POST http://host:port/path``, what a client sends for an http provider) is passed to that host
with the rest of the connection; anything else gets 405. It records every target it was asked for
(``host:port`` for a tunnel, the URL for a forwarded request), and the ``Proxy-Authorization`` it
was shown.

    async with ConnectProxy() as proxy:   # proxy.url: http://127.0.0.1:PORT
        ...
    proxy.targets   # ["127.0.0.1:8443", ...]
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class ConnectProxy:
    def __init__(self) -> None:
        self.url = ""
        self.targets: list[str] = []
        self.authorizations: list[str | None] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ConnectProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            forwarded = target.startswith("http://")
            if method != "CONNECT" and not forwarded:
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                return
            self.targets.append(target)
            fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.authorizations.append(next((v for k, v in fields.items() if k.lower() == "proxy-authorization"), None))
            host, _, port = (target.split("/")[2] if forwarded else target).rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            if forwarded:
                up_writer.write(head)
            else:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError):
        sink.write_eof()
