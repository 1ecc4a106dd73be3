"""The upstream HTTP/1.1 client: kept-alive connections per origin, one request at a time on each.

Why not aiohttp's ``ClientSession``: it costs about as much CPU per request as the rest of the sidecar
together (measured in docs/benchmarks.md). The sidecar needs one narrow thing, ``POST`` a body and read
the answer, whole or as it arrives, so this client does only that, on ``asyncio.Protocol``:

    client.post(url, headers, body, connect_s=, idle_s=, deadline=) -> UpstreamResponse   (at the head)
    await response.read()      the whole body (content coding removed)
    await response.readany()   the next bytes of the body as they arrive; b"" at the end
    response.close()           done with it: a finished response's connection is already back in
                               the pool; an unfinished one's connection is aborted (the upstream stops)

Connections: at most ``max_connections`` open in total (requests beyond wait, first come first
served, for one to free up; an idle connection of another origin is closed to make room); idle ones
are reused newest first and dropped after ``keepalive_s`` of idleness; a connection is reused only
after a complete response that allows it (see ``parser``); a timer closes connections idle past
``keepalive_s`` even when no call comes to reuse them. Timeouts: ``connect_s`` bounds opening a
connection, ``idle_s`` bounds every wait for bytes (head and body), and ``deadline`` (an absolute
``loop.time()``, settable on the response between reads) bounds the whole call: past it a plain
``TimeoutError`` is raised, so the caller knows which of its phases ran out. One timer per wait serves
both the idle gap and the deadline.
Failures raise the types in ``errors``. TLS uses the system's default verification (``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` are honoured by OpenSSL). Streams are flow-controlled: reading from the upstream
pauses while more than ``response.HIGH_WATER`` bytes wait for the caller.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from typing import NamedTuple, cast
from urllib.parse import urlsplit

from .errors import (
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamProtocolError,
)
from .parser import ResponseParser
from .response import UpstreamResponse, decoder_for

_WRITELINES_OVER = 64 * 1024
_MAX_CACHED_URLS = 4096


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int
    host_header: str


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection to one origin."""

    def __init__(self, client: UpstreamClient, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.response: UpstreamResponse | None = None
        self.counted = False  # holds one of the client's connection slots
        self.closed = False
        self.paused = False
        self.idle_since = 0.0

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes on an idle connection (a late 408, garbage): never reuse it
            self.abort()
            return
        parser = response._parser
        had_head = parser.head is not None
        try:
            parser.feed(data)
            if not had_head and parser.head is not None:
                response._start(decoder_for(parser.head.headers.get("content-encoding")))
        except UpstreamProtocolError as exc:
            self.response = None
            response._fail(exc)
            self.abort()
            return
        if parser.done:
            self.response = None
            response._ended()
            transport = self.transport
            if parser.keep_alive and transport is not None and not transport.get_write_buffer_size():
                self.client._release(self)
            else:
                self.abort()
        elif parser.head is not None:
            response._data(len(data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client._forget(self)
        response = self.response
        if response is None:
            return
        self.response = None
        parser = response._parser
        try:
            if exc is not None:  # a reset is not an end, not even of a body delimited by the close
                raise UpstreamProtocolError("the upstream reset the connection before the response ended")
            parser.feed_eof()
        except UpstreamProtocolError as error:
            detail = f"{error}" + (f" ({exc})" if exc is not None else "")
            response._fail(UpstreamDisconnected(detail))
            return
        response._ended()

    # -- flow control and closing ------------------------------------------------------------------

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        """Close now, whatever is in flight; the slot is freed at once."""
        self.response = None
        self.client._forget(self)
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    def send(self, response: UpstreamResponse, data: bytes, body: bytes) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            raise UpstreamDisconnected("the connection to the upstream closed before the request was sent")
        self.response = response
        try:
            if len(body) > _WRITELINES_OVER:
                transport.writelines((data, body))
            else:
                transport.write(data + body)
        except RuntimeError as exc:  # the transport closed under us
            self.response = None
            raise UpstreamDisconnected(f"the connection to the upstream closed while sending: {exc}") from None


class UpstreamClient:
    """The process's one upstream client (see the module docstring)."""

    def __init__(self, *, max_connections: int = 1024, keepalive_s: float = 15.0) -> None:
        self._max = max_connections
        self._keepalive_s = keepalive_s
        self._idle: dict[Origin, list[Connection]] = {}
        self._open = 0
        # Calls waiting for a connection at max_connections, oldest first. A waiter's future gets a
        # connection of its origin handed over directly (no new call can take it first), or None: a
        # slot is free or an idle connection of another origin can be closed, so try again.
        self._waiters: deque[tuple[Origin, asyncio.Future[Connection | None]]] = deque()
        self._urls: dict[str, tuple[Origin, str]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._sweeper: asyncio.TimerHandle | None = None  # closes connections idle past keepalive_s
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    def idle_connections(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    async def post(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        connect_s: float | None = None,
        idle_s: float | None = None,
        deadline: float | None = None,
        accept_encoding: str = "gzip, deflate",
    ) -> UpstreamResponse:
        """Send ``body`` to ``url``; returns once the response's head has arrived.

        ``deadline`` (``loop.time()``) bounds everything up to the head, waiting for a pooled
        connection and connecting included, and stays on the response for its body unless changed.
        """
        origin, target = self._split(url)
        lines = [f"POST {target} HTTP/1.1\r\nhost: {origin.host_header}\r\n"]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        lines.append(f"accept-encoding: {accept_encoding}\r\ncontent-length: {len(body)}\r\n\r\n")
        head = "".join(lines)
        if head.count("\n") != len(lines) + 3 or head.count("\r") != len(lines) + 3:
            raise ValueError("a header name or value contains a line break")
        data = head.encode("utf-8", "surrogateescape")
        conn = self._idle_connection(origin)
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._acquire(origin, connect_s)
        parser = ResponseParser()
        response = UpstreamResponse(conn, parser, idle_s, deadline)
        try:
            conn.send(response, data, body)
            while parser.head is None:
                if response._error is not None:
                    raise response._error
                await response._wait()
        except BaseException:
            response.close()
            raise
        return response

    async def close(self) -> None:
        """Close every idle connection; connections in use close when their responses end."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conns in list(self._idle.values()):
            for conn in list(conns):
                conn.abort()
        self._idle.clear()

    # -- the pool ----------------------------------------------------------------------------------

    def _split(self, url: str) -> tuple[Origin, str]:
        cached = self._urls.get(url)
        if cached is not None:
            return cached
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host_header = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        result = (Origin(parts.scheme, parts.hostname, port, host_header), target)
        if len(self._urls) >= _MAX_CACHED_URLS:
            self._urls.clear()
        self._urls[url] = result
        return result

    def _idle_connection(self, origin: Origin) -> Connection | None:
        """The newest live idle connection to ``origin`` (stale and closed ones are dropped)."""
        idle = self._idle.get(origin)
        if not idle or self._closed:
            return None
        now = idle[-1].loop.time()
        while idle:
            conn = idle.pop()
            transport = conn.transport
            stale = now - conn.idle_since > self._keepalive_s
            if conn.closed or transport is None or transport.is_closing() or stale:
                conn.abort()
            else:
                return conn
        return None

    async def _acquire(self, origin: Origin, connect_s: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        woken = False
        while True:
            if self._closed:
                raise UpstreamConnectError("the upstream client is closed")
            conn = self._idle_connection(origin)
            if conn is not None:
                return conn
            if self._open < self._max:
                return await self._connect(origin, connect_s, loop)
            if self._evict_one_idle():
                continue
            waiter: asyncio.Future[Connection | None] = loop.create_future()
            entry = (origin, waiter)
            if woken:  # woken, but another call got there first: keep this call's place in the queue
                self._waiters.appendleft(entry)
            else:
                self._waiters.append(entry)
            try:
                handed = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():  # served just before this call was cancelled
                    unused = waiter.result()
                    if unused is not None:
                        self._release(unused)  # to the next waiter of its origin, or the pool
                    else:
                        self._wake_one()  # pass the free slot on
                elif entry in self._waiters:
                    self._waiters.remove(entry)
                raise
            if handed is not None:
                transport = handed.transport
                if not handed.closed and transport is not None and not transport.is_closing():
                    return handed
            woken = True

    async def _connect(self, origin: Origin, connect_s: float | None, loop: asyncio.AbstractEventLoop) -> Connection:
        conn = Connection(self, origin, loop)
        conn.counted = True
        self._open += 1
        ssl_context = self._ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(connect_s):
                await loop.create_connection(
                    lambda: conn,
                    origin.host,
                    origin.port,
                    ssl=ssl_context,
                    server_hostname=origin.host if ssl_context is not None else None,
                )
        except TimeoutError:
            self._forget(conn)
            limit = f"took longer than {connect_s:g} s" if connect_s is not None else "timed out"
            raise UpstreamConnectTimeout(f"connecting to {origin.host}:{origin.port} {limit}") from None
        except OSError as exc:
            self._forget(conn)
            detail = exc.strerror or str(exc) or type(exc).__name__
            raise UpstreamConnectError(exc.errno, f"cannot connect to {origin.host}:{origin.port}: {detail}") from None
        except BaseException:
            self._forget(conn)
            raise
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # loading the CA bundle takes milliseconds: only when TLS is first used
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _release(self, conn: Connection) -> None:
        """A connection finished a response cleanly: to the oldest call waiting for its origin, or parked."""
        if self._closed or conn.closed:
            conn.abort()
            return
        if self._waiters:
            for index, (origin, waiter) in enumerate(self._waiters):
                if origin == conn.origin and not waiter.done():
                    del self._waiters[index]
                    waiter.set_result(conn)
                    return
        conn.idle_since = conn.loop.time()
        self._idle.setdefault(conn.origin, []).append(conn)
        if self._sweeper is None:
            self._sweeper = conn.loop.call_later(self._keepalive_s, self._sweep, conn.loop)
        self._wake_one()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections idle for longer than ``keepalive_s``; again later while any stay idle."""
        self._sweeper = None
        now = loop.time()
        for conns in list(self._idle.values()):
            while conns and now - conns[0].idle_since > self._keepalive_s:  # oldest first
                conns.pop(0).abort()
        if not self._closed and any(self._idle.values()):
            self._sweeper = loop.call_later(self._keepalive_s, self._sweep, loop)

    def _forget(self, conn: Connection) -> None:
        """The connection is gone (or going): free its slot, drop it from the idle list."""
        if conn.counted:
            conn.counted = False
            self._open -= 1
            idle = self._idle.get(conn.origin)
            if idle and conn in idle:
                idle.remove(conn)
            self._wake_one()

    def _evict_one_idle(self) -> bool:
        for conns in self._idle.values():
            if conns:
                conns[0].abort()  # the oldest idle connection of some other origin
                return True
        return False

    def _wake_one(self) -> None:
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
