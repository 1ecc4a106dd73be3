"""The sidecar's own HTTP/1.1 listener on ``asyncio.Protocol``: the app's requests in, answers out.

Why not aiohttp's server: its request and response machinery cost about as many instructions per
request as the whole sidecar's own work (docs/benchmarks.md); the sidecar serves one narrow thing,
small JSON requests answered whole or as a stream, so this listener does that and nothing else:

    server = HTTPServer(handler, on_bad_request=..., max_body=..., keepalive_s=75, receive_timeout_s=60)
    await server.start(host, port)      listening
    await server.shutdown(drain_s)      stop accepting; in-flight requests and streams finish; then close

``handler(request) -> Response | StreamResponse`` (``messages``) runs as one task per request; a caller
that disconnects cancels it (and with it the upstream call). Requests on one connection are answered in
order (pipelined ones wait in the buffer, reading pauses past ``_MAX_BUFFERED``). The body is received
whole before the handler runs; a body over ``max_body`` is not read: the handler runs at once and its
``read()`` raises ``BodyTooLarge`` (the sidecar answers 413 in the caller's dialect). ``Expect:
100-continue`` is answered when the announced length fits. A request the parser refuses gets
``on_bad_request(error)``'s answer (400, 431, 501, 505). After either, what the caller still sends is
read away for ``_LINGER_S`` (so that it reads the answer instead of a reset), then the connection
closes. An exception escaping the handler is logged and answered 500 with no detail. Connections idle
past ``keepalive_s``, or receiving one request (head and body) for longer than ``receive_timeout_s``,
are closed by a sweep. A handler that fails after its stream's head went out gets the connection
closed (the cut framing tells the caller); before that, a plain 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import cast

import structlog

from .messages import Clock, Request, Response, StreamResponse, response_head
from .request_parser import BadRequest, BodyTooLarge, RequestHead, RequestParser

Handler = Callable[[Request], Awaitable[Response | StreamResponse]]
BadRequestHandler = Callable[[BadRequest], Response]

_MAX_BUFFERED = 256 * 1024  # pipelined bytes held while a request is handled before reading pauses
_SWEEP_S = 1.0
_LINGER_S = 2.0  # how long the rest of a refused body is read away before the connection closes
log = structlog.get_logger("sidecar.http1.server")


class ServerConnection(asyncio.Protocol):
    """One caller's connection: parse, hand each request to the handler in turn, write the answers."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.loop = server.loop
        self.parser = RequestParser(server.max_body)
        self.transport: asyncio.Transport | None = None
        self.head: RequestHead | None = None  # a request whose body is still arriving
        self.task: asyncio.Task[None] | None = None
        self.stream: StreamResponse | None = None  # the current request's answer, once its head is sent
        self.keep_alive = True  # of the request being answered
        self.closed = False
        self.write_paused = False
        self.read_paused = False
        self.lingering = False  # answered and closing: what the caller still sends is dropped
        self._drain_waiter: asyncio.Future[None] | None = None
        self.since = self.loop.time()  # last activity: idle / head timeouts

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        parser = self.parser
        parser.feed(data)
        if self.task is None:
            if self.head is None and parser.buffered == len(data):
                self.since = self.loop.time()  # a request starts arriving: its receive time counts from here
            self._advance()
        elif parser.buffered > _MAX_BUFFERED and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # the caller closed its side: close ours (an in-flight request is cancelled)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.forget(self)
        if self.task is not None:
            self.task.cancel()  # the caller went away: stop the work (and the upstream call) for it
        self._wake_writer(ConnectionResetError("the caller closed the connection"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writer(None)

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: bytes) -> bool:
        """Send ``data``; False (nothing sent) once the connection is closing or closed."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return False
        transport.write(data)
        return True

    async def drained(self) -> None:
        """Wait until the socket's send buffer has room (or the caller is gone: raises)."""
        if self.closed:
            raise ConnectionResetError("the caller closed the connection")
        if not self.write_paused:
            return
        if self._drain_waiter is None:
            self._drain_waiter = self.loop.create_future()
        await asyncio.shield(self._drain_waiter)

    def _wake_writer(self, error: Exception | None) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: nobody may be waiting any more

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    # -- requests -------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Take the next complete request from the buffer and start its handler, if there is one."""
        parser = self.parser
        try:
            if self.head is None:
                if self.server.draining and not parser.buffered:
                    self.close()
                    return
                self.head = parser.next_head()
                if self.head is None:
                    return
                length = self.head.length
                if self.head.expects_continue and not parser.buffered and (length or 0) <= parser.max_body:
                    self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = parser.next_body()
            if body is None:
                return
        except BodyTooLarge:
            head, self.head = cast(RequestHead, self.head), None
            self._start(head, None)  # the handler answers 413; then the rest is read away
            return
        except BadRequest as error:
            self._refuse(error)
            return
        head, self.head = self.head, None
        self._start(head, body)

    def _start(self, head: RequestHead, body: bytes | None) -> None:
        self.keep_alive = head.keep_alive and body is not None and not self.server.draining
        request = Request(head, body, self)
        self.task = self.loop.create_task(self._answer(request))

    async def _answer(self, request: Request) -> None:
        answer: Response | StreamResponse | None
        try:
            answer = await self.server.handler(request)
        except asyncio.CancelledError:
            self.task = None
            self.close()
            return
        except Exception as exc:  # the handler is meant to answer everything: never a trace to the caller
            log.error("handler_error", error=repr(exc), traceback=traceback.format_exc())
            answer = None
        self.task = None
        stream, self.stream = self.stream, None
        if self.closed:
            return
        if stream is not None and answer is not stream:
            # A stream's head is out, so no other answer can follow: closing cuts its chunked framing
            # short, which tells the caller the stream broke.
            log.error("answer_after_stream_started", answer=type(answer).__name__)
            self.close()
            return
        try:
            if answer is None:
                self._send(request, Response(status=500, text="internal error in llm-sidecar\n"))
            elif isinstance(answer, StreamResponse):
                await self._end_stream(answer)
            else:
                self._send(request, answer)
        except ValueError as exc:  # a header with a line break, a stream never prepared
            log.error("response_error", error=repr(exc))
            self.keep_alive = False
            self.write(response_head(500, {}, "content-length: 0\r\n", False, self.server.clock.date()))
        self.since = self.loop.time()
        if request._body is None:
            self._linger()  # a body over the limit may still be arriving: read it away, then close
            return
        if not self.keep_alive or self.server.draining:
            self.close()
            return
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        if self.parser.buffered:
            self._advance()

    async def _end_stream(self, response: StreamResponse) -> None:
        if not response.prepared:
            raise ValueError("a stream handler returned before prepare()")
        await response.write_eof()  # a handler that returned without ending its stream: end it

    def _send(self, request: Request, response: Response) -> None:
        if self.server.draining:
            self.keep_alive = False
        body = b"" if request.method == "HEAD" else response.body
        head = response_head(
            response.status,
            response.headers,
            f"content-length: {len(response.body)}\r\n",
            self.keep_alive,
            self.server.clock.date(),
        )
        if len(body) < 16384:
            self.write(head + body)
        else:  # a large body is not copied to join it to the head
            self.write(head)
            self.write(body)

    def _refuse(self, error: BadRequest) -> None:
        self.head = None
        try:
            response = self.server.on_bad_request(error)
        except Exception as exc:  # pragma: no cover - the hook only formats an error body
            log.error("bad_request_hook_error", error=repr(exc))
            response = Response(status=error.status, text=error.message + "\n")
        with contextlib.suppress(ValueError):
            framing = f"content-length: {len(response.body)}\r\n"
            self.write(response_head(response.status, response.headers, framing, False, self.server.clock.date()))
            self.write(response.body)
        self._linger()  # the caller may still be sending (an oversized head): let it read the answer

    def _linger(self) -> None:
        """Close our side for writing and discard what the caller still sends, so that it reads the
        answer before it sees the connection close (a plain close with unread bytes would reset it)."""
        transport = self.transport
        if transport is None or self.closed:
            return
        self.lingering = True
        if transport.can_write_eof():
            transport.write_eof()
        if self.read_paused:
            self.read_paused = False
            transport.resume_reading()
        self.loop.call_later(_LINGER_S, self.close)

    def expired(self, now: float) -> bool:
        """Idle past the keep-alive time, or a request (head and body) arriving for too long."""
        if self.task is not None:
            return False
        receiving = self.head is not None or self.parser.buffered
        return now - self.since > (self.server.receive_timeout_s if receiving else self.server.keepalive_s)


class HTTPServer:
    """The listener: accepts connections, tracks them, sweeps idle ones, drains on shutdown."""

    def __init__(
        self,
        handler: Handler,
        *,
        on_bad_request: BadRequestHandler,
        max_body: int,
        keepalive_s: float = 75.0,
        receive_timeout_s: float = 60.0,
    ) -> None:
        self.handler = handler
        self.on_bad_request = on_bad_request
        self.max_body = max_body
        self.keepalive_s = keepalive_s
        self.receive_timeout_s = receive_timeout_s
        self.clock = Clock()
        self.connections: set[ServerConnection] = set()
        self.draining = False
        self.loop = asyncio.get_running_loop()
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._all_closed = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int, *, backlog: int = 1024) -> None:
        self._listener = await self.loop.create_server(
            lambda: ServerConnection(self), host, port, backlog=backlog, reuse_address=True
        )
        self._sweeper = self.loop.call_later(_SWEEP_S, self._sweep)

    def forget(self, conn: ServerConnection) -> None:
        self.connections.discard(conn)
        if self.draining and not self.connections:
            self._all_closed.set()

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.connections if c.expired(now)]:
            conn.close()
        self._sweeper = self.loop.call_later(_SWEEP_S, self._sweep)

    async def shutdown(self, drain_s: float) -> None:
        """Stop accepting; let requests in flight finish within ``drain_s``; then close everything."""
        self.draining = True
        if self._listener is not None:
            self._listener.close()
        for conn in list(self.connections):
            if conn.task is None and conn.head is None:
                conn.close()  # idle kept-alive connections: nothing to wait for
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), drain_s)
        for conn in list(self.connections):
            if conn.task is not None:
                conn.task.cancel()
            if conn.transport is not None:
                conn.transport.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._listener is not None:
            await self._listener.wait_closed()
