"""The HTTP listener: aiohttp.web's server (llhttp parses every request), with the sidecar's caps on top.

Why aiohttp.web and not a protocol of our own driving httptools: docs/benchmarks.md, "The listener".
aiohttp does the HTTP: parsing (its C parser is llhttp, strict for requests), keep-alive (closed after
``keepalive_s`` idle), pipelining (answered in order; at most 32 parsed requests wait behind the one
being handled, then reading pauses; each answer waits for the socket to drain before the next request
is taken), ``handler_cancellation`` (a caller that disconnects cancels its handler and with it the
upstream call), lingering (an unread body is read away for ``LINGER_S``, then the connection closes),
response framing and header-injection checks. The sidecar serves on aiohttp's low-level ``web.Server``,
whose one handler is the sidecar's path table (``routes.Routes``: the path's handler and the checks of
a parsed request), not on ``web.Application`` and its router. What this module adds, per connection:

- a **connection cap** per listener: past ``max_connections`` a new connection is closed at once (one
  ``connection_cap_reached`` line each time the cap is reached; each refusal is handed to ``on_refused``,
  ``llm_sidecar_connections_refused_total``); with ``evict_idle`` (the health port, reachable from the
  cluster) the oldest connection without a request in handling is closed instead to make room, so
  connections opened and left idle cannot lock the kubelet's probes out until their keep-alive ends;
- **head caps**: at most ``MAX_HEAD_BYTES`` received of a request's head before it is complete (besides
  aiohttp's own limits per line, ``MAX_LINE_BYTES``, and on the number of fields, ``MAX_FIELDS``), and at
  most ``HEADS_BUDGET_BYTES`` of unfinished heads on all the listener's connections together; past
  either, the connection whose bytes crossed it is closed (memory held for heads is bounded whatever the
  number of connections);
- a **receive deadline**: a request must arrive whole, head and body, within ``receive_timeout_s`` of
  its first byte, else the connection closes (checked by a sweep every ``min(1 s, timeout / 4)``); so
  does a body whose framing breaks midway (aiohttp would leave its handler waiting); it does not run
  while a handler has the whole request (``Connection.in_request``, set by ``Routes``);
- **refusals in the caller's terms**: what llhttp refuses gets a JSON 400 (431 for a line or field over
  its limit) and the connection closes; so does a handler that raises (a JSON 500, logged with its
  traceback). Client mistakes are logged at debug level, never with a traceback;
- every answer, a refusal's too, says ``Server: llm-sidecar`` (``Request``); ``100 Continue`` goes to a
  client that waits for it only when its handler reads the body (``Request.read``, ``awaits_continue``);
- a request in an HTTP version other than 1.1 and 1.0 is an ``UnservedVersionRequest`` (``Routes``
  answers it 505), whose message says HTTP/1.1, so that the answer's status line does (RFC 9112 2.3);
  one with a ``Transfer-Encoding`` llhttp let through unchunked an ``UnframedRequest`` (400, RFC 9112 6.3);
- a request asking for an ``Upgrade`` (never switched to) is answered with ``Connection: close``: llhttp
  reads what follows it as the other protocol's bytes, so the sidecar reads no request there either;
- a **listening socket that stops accepting** under the process (``listening_socket``: uvloop closes one
  on a libuv error without a word) is found by the sweep within a second: one ``listener_stopped``
  error line, and ``on_stopped`` is called (``lifecycle.serve`` then drains and the process exits 1).

    listener = Listener(routes, max_connections=..., keepalive_s=..., receive_timeout_s=...)
    await listener.start(host, port)     listening (port 0: any free port; ``listener.port`` says which)
    await listener.shutdown(drain_s)     stop accepting; requests and streams in flight finish within
                                         drain_s; what still runs then is cancelled (``cut``: it answers
                                         the drain's error, ``drain``), else loses its connection; close

``Connection`` is aiohttp's ``RequestHandler`` (one per connection) with those checks; it reads two of
its parent's attributes (``_request_count``, ``_messages``: what the parser has completed) and
``Request`` (``request_kinds``, with the other requests the listener makes) overrides
``BaseRequest._prepare_hook`` (the ``Server`` header), the only places the sidecar
looks inside aiohttp. tests/server/test_listener.py holds the behaviours on a real
server, so an aiohttp upgrade that moves them fails there.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import HttpProcessingError, HttpVersion10, HttpVersion11, RawRequestMessage
from aiohttp.http_exceptions import InvalidURLError, LineTooLong
from aiohttp.streams import StreamReader

from ..dialects.registry import dialect_of_path
from ..ports_file import one_port
from ..resilience.classify import describe_exception
from ..telemetry.logging import get_logger
from .errors import RequestFailed, error_response
from .every_address import EVERY_ADDRESS, EVERY_IPV4_ADDRESS, listening_socket
from .listening_socket import ListeningSocket
from .request_kinds import Request, UnframedRequest, UnservedVersionRequest

if TYPE_CHECKING:
    from .routes import Routes

MAX_HEAD_BYTES = 32 * 1024  # a request's whole head: request line and header fields
HEADS_BUDGET_BYTES = 4 * 1024 * 1024  # unfinished heads on one listener, all connections together
MAX_LINE_BYTES = 8190  # the request line, and each header field (aiohttp's default)
MAX_FIELDS = 100
LINGER_S = 2.0  # how long an unread request body is read away before the connection closes
BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
CANCEL_WAIT_S = 1.0  # after the drain: how long handlers cancelled by their lost connection may take to end
log = get_logger("sidecar.listener")


class Connection(web.RequestHandler):
    """One caller's connection: aiohttp's request handler, with the head cap and the receive deadline."""

    __slots__ = (
        "__weakref__",
        "_body",
        "_head_bytes",
        "handler",
        "in_request",
        "listener",
        "opened",
        "receiving_since",
    )

    def __init__(self, manager: web.Server, listener: Listener) -> None:
        super().__init__(
            manager,
            loop=listener.loop,
            keepalive_timeout=listener.keepalive_s,
            access_log=None,  # type: ignore[arg-type]  # None turns it off: the sidecar writes its own access line
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_FIELDS,
            lingering_time=LINGER_S,
            auto_decompress=False,  # the body is the app's JSON, as sent; a coded one is refused as not JSON
        )
        self.listener = listener
        listener.connections.add(self)  # counted from here: the cap holds during a burst of accepts
        self._head_bytes = 0  # of the request whose head is arriving
        self._body: StreamReader | None = None  # the body still arriving, once its head is complete
        self.receiving_since: float | None = None  # loop time of the first byte of a request not yet whole
        self.in_request = False  # set by ``Routes`` while a handler runs
        self.handler: asyncio.Task[Any] | None = None  # that handler's task (set by ``Routes``), for the drain
        self.opened = listener.loop.time()  # the oldest idle one goes first at a cap that evicts (``Listener``)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.listener.connections.discard(self)
        self._forget_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse ``data`` (aiohttp), then account for it: bytes that leave a head unfinished count
        towards the caps; a request not yet whole is timed from its first byte. A request that comes
        whole in one call (the usual case) is counted nowhere."""
        body = self._body
        if body is not None and body.is_eof():
            body = self._body = None
        parsed = self._request_count
        super().data_received(data)
        completed = self._request_count - parsed
        if completed:  # heads completed (or refused): what follows is a body or a new head
            if self._head_bytes:
                self._forget_head()
            messages = self._messages
            last = messages[-1][1] if messages else None
            if (body is not None and not body.is_eof()) or (
                completed > 1 and any(not payload.is_eof() for _, payload in list(messages)[-completed:-1])
            ):
                # A body cut short by the next message: the parser refused what followed inside it. aiohttp
                # would let its handler wait for the rest for ever; the framing is lost: close.
                log.debug("bad_request", reason="malformed request body", status=None)
                self.force_close()
                return
            body = self._body = last if last is not None and not last.is_eof() else None
        elif body is None:  # these bytes begin or continue a request's head
            size = len(data)
            self._head_bytes += size
            self.listener.head_bytes += size
            if self._head_bytes > MAX_HEAD_BYTES or self.listener.head_bytes > HEADS_BUDGET_BYTES:
                log.debug("bad_request", reason="request head too large", bytes=self._head_bytes, status=None)
                self.force_close()
                return
        if body is not None and body.is_eof():
            body = self._body = None
        if body is None and self._head_bytes == 0:
            self.receiving_since = None  # the request is in, whole
        elif self.receiving_since is None and not self.in_request:
            self.receiving_since = self._loop.time()  # a request's first bytes: its receive deadline runs

    def _forget_head(self) -> None:
        self.listener.head_bytes -= self._head_bytes
        self._head_bytes = 0

    def receive_expired(self, now: float) -> bool:
        """True (and the connection closed) when a request has been arriving for longer than the
        listener's receive timeout: its head, or its body while the handler waits for it."""
        since = self.receiving_since
        if since is None or now - since <= self.listener.receive_timeout_s:
            return False
        body = self._body
        if (body is None or body.is_eof()) and self.in_request:
            return False  # the handler has the whole request; only pipelined bytes wait behind it
        log.debug("receive_timeout", timeout_s=self.listener.receive_timeout_s)
        self.force_close()
        return True

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """The answer to a request llhttp refused (``exc`` an ``HttpProcessingError``), or to a handler
        that raised: a JSON error, and the connection closes. Only the second is logged as an error."""
        if isinstance(exc, HttpProcessingError):
            status = 431 if isinstance(exc, LineTooLong) else 400
            text = _reason(exc)
            log.debug("bad_request", reason=text, status=status)
            failure = RequestFailed(status, f"malformed HTTP request: {text}", code="invalid_request")
        else:
            log.error("handler_error", error=describe_exception(exc) if exc else "", traceback=_traceback(exc))
            failure = RequestFailed(500, "internal error in llm-sidecar", code="internal_error")
        if request.writer.output_size > 0:  # an answer is partly out: only the cut connection can tell
            raise ConnectionError("a response had begun; the connection is closed instead")
        # A request the parser refused was never built: its path is unknown, so the shape is OpenAI's.
        path = "" if isinstance(exc, HttpProcessingError) else request.path
        response = error_response(dialect_of_path(path), failure)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's own error reports (a handler that returned no response): into the JSON log."""
        log.error("listener_error", message=str(args[0]) if args else "", traceback=_traceback(kw.get("exc_info")))


def _reason(exc: HttpProcessingError) -> str:
    """What llhttp or aiohttp said was wrong, without the bytes it quotes (they may hold a secret)."""
    if isinstance(exc, LineTooLong):
        return f"request line or header field over {MAX_LINE_BYTES} bytes"
    if isinstance(exc, InvalidURLError):  # its message is the target itself (a ``?key=`` in it too)
        return "invalid request target"
    return exc.message.split("\n", 1)[0].split(":", 1)[0].strip()[:120] or "unreadable request"


def _traceback(exc: object) -> str:
    return "".join(traceback.format_exception(exc)) if isinstance(exc, BaseException) else ""


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed as soon as it is accepted."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Listener:
    """One listening socket serving ``routes`` on aiohttp's low-level ``web.Server``, its connections
    counted and capped."""

    def __init__(
        self,
        routes: Routes,
        *,
        max_connections: int,
        keepalive_s: float = 75.0,
        receive_timeout_s: float = 60.0,
        name: str = "app",
        on_refused: Callable[[], None] | None = None,
        evict_idle: bool = False,
        on_stopped: Callable[[], None] | None = None,
    ) -> None:
        self.routes = routes
        self.on_refused = on_refused  # called for each connection refused at the cap (a counter's)
        self.evict_idle = evict_idle  # at the cap, close the oldest connection without a request in handling
        self.on_stopped = on_stopped  # called once if a listening socket stops accepting under the process
        self.stopped = False
        self._sockets: list[ListeningSocket] = []
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self.receive_timeout_s = receive_timeout_s
        self.name = name
        self.loop = asyncio.get_running_loop()
        self.connections: weakref.WeakSet[Connection] = weakref.WeakSet()  # one never connected is dropped
        self.head_bytes = 0  # received of heads not yet complete, all connections together
        self.draining = False
        self.cut = False  # the drain timeout has passed: handlers still running were cancelled (``drain``)
        self._manager = web.Server(routes, request_factory=self._request, handler_cancellation=True)
        self._server: asyncio.Server | None = None
        self._at_cap = False
        self._sweep_s = min(1.0, receive_timeout_s / 4)  # a request is closed within 1.25 x the timeout
        self._sweeper: asyncio.TimerHandle | None = None

    @property
    def port(self) -> int:
        """The bound port (the kernel's choice when started on port 0)."""
        assert self._server is not None
        return one_port([sock.getsockname() for sock in self._server.sockets])

    def _request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> Request:
        if message.upgrade:  # never switched to: llhttp reads no message after it; nor does the sidecar
            message = message._replace(should_close=True)
        if not message.chunked and "Transfer-Encoding" in message.headers:  # answered 400
            return UnframedRequest(message, payload, protocol, writer, task, self.loop, client_max_size=0)
        version = message.version
        if version != HttpVersion11 and version != HttpVersion10:  # answered 505, in HTTP/1.1
            message = message._replace(version=HttpVersion11)  # RawRequestMessage's own (BaseRequest.clone's)
            return UnservedVersionRequest(
                version, message, payload, protocol, writer, task, self.loop, client_max_size=self.routes.max_body
            )
        return Request(message, payload, protocol, writer, task, self.loop, client_max_size=self.routes.max_body)

    async def start(self, host: str, port: int) -> None:
        manager = self._manager

        def accept() -> asyncio.Protocol:
            if len(self.connections) < self.max_connections:
                self._at_cap = False
                return Connection(manager, self)
            if self.evict_idle and self._evict_oldest_idle():
                return Connection(manager, self)
            if not self._at_cap:  # logged once each time the cap is reached, not per refused connection
                self._at_cap = True
                log.warning("connection_cap_reached", listener=self.name, max_connections=self.max_connections)
            if self.on_refused is not None:
                self.on_refused()
            return _Refused()

        try:
            if host == EVERY_ADDRESS:  # IPv6 and IPv4 on one socket (``every_address``)
                sock = listening_socket(port)
                if sock is not None:
                    self._server = await self.loop.create_server(accept, sock=sock, backlog=BACKLOG)
                else:
                    self._server = await self.loop.create_server(
                        accept, EVERY_IPV4_ADDRESS, port, backlog=BACKLOG, reuse_address=True
                    )
            else:
                self._server = await self.loop.create_server(accept, host, port, backlog=BACKLOG, reuse_address=True)
        except socket.gaierror as exc:  # its text names no host: say which one (``llm-sidecar run`` prints it)
            raise OSError(
                exc.errno, f"cannot listen on {host!r}, a name that does not resolve: {exc.strerror}"
            ) from None
        try:
            _ = self.port  # port 0 on a name with several addresses got several ports: refused
        except OSError:
            self._server.close()
            raise
        self._sockets = [ListeningSocket(sock) for sock in self._server.sockets]
        self._sweeper = self.loop.call_later(self._sweep_s, self._sweep)

    def _evict_oldest_idle(self) -> bool:
        """Close the connection opened longest ago that has no request in handling (idle, or its request
        still arriving), making room for a new one; False when every connection has a request running."""
        idle = [conn for conn in self.connections if not conn.in_request and conn.transport is not None]
        if not idle:
            return False
        min(idle, key=lambda conn: conn.opened).force_close()
        return True

    def _sweep(self) -> None:
        """Close the connections whose request has been arriving for too long (one timer per listener,
        not one per request)."""
        now = self.loop.time()
        for conn in [c for c in self.connections if c.receiving_since is not None]:
            conn.receive_expired(now)
        if not self.stopped and not all(sock.accepting() for sock in self._sockets):
            self.stopped = True
            ports = [sock.port for sock in self._sockets]
            log.error("listener_stopped", listener=self.name, ports=ports, reason="not accepting")
            if self.on_stopped is not None:
                self.on_stopped()
        self._sweeper = self.loop.call_later(self._sweep_s, self._sweep)

    async def shutdown(self, drain_s: float) -> None:
        """Stop accepting; idle connections close at once; requests and streams in flight have ``drain_s``
        to finish (their answers say ``Connection: close``); then everything is closed."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        self._manager.pre_shutdown()  # idle kept-alive connections close; busy ones after their answer
        # aiohttp waits up to its timeout for each handler, then as long again for it to end once its
        # request is cancelled (a stream writing on does not end): twice drain_s. The deadline is ours:
        # what still runs at drain_s is cancelled and answers the drain's error (``drain``); what has
        # not ended CANCEL_WAIT_S later loses its connection.
        shutting = asyncio.ensure_future(self._manager.shutdown(drain_s))
        done, _ = await asyncio.wait({shutting}, timeout=drain_s)
        if not done:
            self.cut = True
            for connection in list(self.connections):
                if connection.handler is not None:
                    connection.handler.cancel()
            done, _ = await asyncio.wait({shutting}, timeout=CANCEL_WAIT_S)
        if not done:
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.abort()
            done, _ = await asyncio.wait({shutting}, timeout=CANCEL_WAIT_S)
            if not done:
                shutting.cancel()
        if self._server is not None:
            await self._server.wait_closed()
