"""One upstream answer, as the sidecar reads it: a head it checked, and a body with bounds.

``UpstreamResponse`` wraps aiohttp's ``ClientResponse``:

- the head is checked before anyone reads it: a status outside 100-599, or a header value holding a
  control character (CR, LF, NUL...; RFC 9110 5.5, which aiohttp's lenient response parser lets
  through) raises ``MalformedResponse``, so the attempt fails as ``malformed_response`` and the chain
  falls back, instead of the app receiving invalid HTTP. aiohttp itself refuses the rest (bad status
  lines and header names, conflicting framing) with ``ClientResponseError``;
- ``read()``: the whole body, decoded; past ``max_body`` bytes (``SIDECAR_UPSTREAM_MAX_BODY_BYTES``) it raises
  ``MalformedResponse`` and nothing more is held. Each read's bytes are taken from the process's account
  (``held_bytes.HeldBytes``, ``PARSED`` times: the body and its parse) as they arrive, and given back by
  ``close()``: a read the account refuses raises ``HeldBytesFull``, what it held let go at once. aiohttp
  inflates a gzip/deflate body a read buffer at a time as it is consumed (never ``ClientResponse.read()``, which
  lifts that bound), and refuses over 1024 gzip members in one network read: a decompression bomb costs at most
  ``max_body`` bytes of memory and is a failed attempt. A body that has all arrived (a short answer: aiohttp's
  buffer holds it, up to its flow-control mark) is taken in one call and then checked against the cap;
- ``readany()``: the body's next bytes as they arrive (streams); ``b""`` at the end;
- ``received``: the bytes ``read()`` got before it failed (a body cut or timed out midway), decoded;
- the body's timers: a wait for bytes longer than ``idle_s`` raises aiohttp's ``SocketTimeoutError``,
  a body still arriving at the call's total deadline a bare ``TimeoutError``. One timer per response,
  moved only when it fires (``_watch_time``): a read costs two assignments, not a timer rescheduled
  per arrival as aiohttp's ``sock_read`` does (2-4 us of a streamed event, bench/relay_cost.py). A
  body that came whole with the head (most non-stream answers) has neither timer nor connection watch;
- both hand the event loop back (``asyncio.sleep(0)``) after every 256 KiB that arrived without a wait,
  so that a fast or highly compressed body never holds the loop for more than a fraction of a
  millisecond;
- ``close()``: done; a connection whose body was not read to its end is closed, never reused.

One aiohttp gap is closed here: when its C parser refuses bytes after the head (a bad chunk size), it
closes the connection but never ends the body's reader, which would wait for the attempt's total
timeout. A callback on the connection's ``closed`` future ends such a reader with ``MalformedResponse``.
"""

from __future__ import annotations

import asyncio
import weakref
from asyncio import Future
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from aiohttp import ClientPayloadError, ClientResponse, SocketTimeoutError
from aiohttp.http_exceptions import HttpProcessingError

from ..held_bytes import PARSED, HeldBytes

if TYPE_CHECKING:
    from aiohttp import StreamReader
    from multidict import CIMultiDictProxy

_YIELD_EVERY = 256 * 1024
_CONTROL = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])  # HTAB is allowed in a field value
_VALUE = itemgetter(1)  # a raw header's value (the head's values joined in C: no comprehension per answer)


class MalformedResponse(ValueError):
    """The upstream's answer is not one the sidecar may relay (or hold): a broken head or body."""


class UpstreamResponse:
    """One response: a checked head, and the body on demand within its bounds."""

    __slots__ = (
        "_content",
        "_idle_s",
        "_loop",
        "_max_body",
        "_response",
        "_taken",
        "_timer",
        "_total_by",
        "_unyielded",
        "_waiting_since",
        "_watch",
        "headers",
        "held",
        "received",
        "status",
    )

    def __init__(
        self,
        response: ClientResponse,
        max_body: int,
        watched: weakref.WeakSet[Any],
        loop: asyncio.AbstractEventLoop,
        held: HeldBytes,
        *,
        idle_s: float | None = None,
        total_by: float | None = None,
    ) -> None:
        """Check the head of ``response`` (raises ``MalformedResponse``, the response closed); ``idle_s``
        bounds each wait for body bytes, ``total_by`` (loop time) the whole body; ``held``: the process's
        account the body read whole is held in."""
        self._response = response
        self.held = held
        self._taken = 0  # bytes of the body taken from ``held``
        self._content: StreamReader = response.content
        self._max_body = max_body
        self._unyielded = 0
        self._watch: tuple[Future[None], Any] | None = None
        self._loop = loop
        self._idle_s = idle_s
        self._total_by = total_by
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.status = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self.received: list[bytes] = []  # what ``read`` got so far: a body that broke off, in part
        try:
            _check_head(response)
        except MalformedResponse:
            response.close()
            raise
        if self._content.is_eof():
            return  # the whole body came with the head (a short answer): no wait to watch or time
        self._watch = _watch_connection(response, watched)
        if idle_s is not None:
            when = loop.time() + idle_s
            self._timer = loop.call_at(when if total_by is None or when < total_by else total_by, self._watch_time)
        elif total_by is not None:
            self._timer = loop.call_at(total_by, self._watch_time)

    async def read(self) -> bytes:
        """The whole body, decoded; ``MalformedResponse`` past ``max_body`` bytes. What arrived before a
        failure (a cut, a timeout) stays in ``received``, decoded."""
        content, held = self._content, self.held
        if content.is_eof() and not self.received:  # the body is all in aiohttp's buffer: taken in one call
            body = content.read_nowait()
            size = len(body)
            if size > self._max_body:
                raise self._over_cap()
            if not held.take(size * PARSED):
                raise held.full("the upstream's body")
            self._taken = size * PARSED
            return body
        parts = self.received
        size = 0
        while chunk := await self.readany():
            size += len(chunk)
            if size > self._max_body:
                self._let_go()
                raise self._over_cap()
            if not held.take(len(chunk) * PARSED):
                self._let_go()
                raise held.full("the upstream's body")
            self._taken = size * PARSED
            parts.append(chunk)
        if len(parts) == 1:
            return parts[0]
        body = b"".join(parts)
        parts.clear()  # held once, joined, not twice
        return body

    def _let_go(self) -> None:
        """What the body read so far held, let go (a read over a cap): given back to the account."""
        self.received.clear()
        self.held.give(self._taken)
        self._taken = 0

    def _over_cap(self) -> MalformedResponse:
        return MalformedResponse(
            f"the upstream's body is over {self._max_body} bytes (SIDECAR_UPSTREAM_MAX_BODY_BYTES)"
        )

    async def readany(self) -> bytes:
        """The body's next bytes as soon as there are any; ``b""`` once it has ended."""
        self._waiting_since = self._loop.time()
        chunk = await self._content.readany()
        self._waiting_since = None
        self._unyielded += len(chunk)
        if self._unyielded >= _YIELD_EVERY:  # bytes kept coming without a wait: let others run
            self._unyielded = 0
            await asyncio.sleep(0)
        return chunk

    def close(self) -> None:
        """Done with the response: the body read is given back to the account; an unfinished body closes
        its connection."""
        if self._taken:
            self.held.give(self._taken)
            self._taken = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        watch = self._watch
        if watch is not None:
            self._watch = None
            watch[0].remove_done_callback(watch[1])
        self._response.close()

    def _next_check(self, now: float) -> float:
        """When the body's timers next need a look: the end of the current wait's idle gap (or of one
        starting now), or the total deadline, whichever comes first."""
        when = float("inf")
        if self._idle_s is not None:
            when = (self._waiting_since if self._waiting_since is not None else now) + self._idle_s
        if self._total_by is not None:
            when = min(when, self._total_by)
        return when

    def _watch_time(self) -> None:
        """The timer fired: end a wait that outlived ``idle_s`` or the total deadline, else look again later."""
        now = self._loop.time()
        content = self._content
        if content.is_eof() or content.exception() is not None:
            self._timer = None
            return
        error: BaseException | None = None
        if self._total_by is not None and now >= self._total_by:
            error = TimeoutError()  # as aiohttp's whole-call timer ends it: bare
        elif self._idle_s is not None and self._waiting_since is not None and now - self._waiting_since >= self._idle_s:
            error = SocketTimeoutError("Timeout on reading data from socket")
        if error is None:
            self._timer = self._loop.call_at(self._next_check(now), self._watch_time)
            return
        self._timer = None
        content.set_exception(error)


def _check_head(response: ClientResponse) -> None:
    status = response.status
    if not 100 <= status <= 599:
        raise MalformedResponse(f"the upstream sent status {status}, outside 100-599")
    raw = response.raw_headers
    values = b"".join(map(_VALUE, raw))
    if len(values.translate(None, _CONTROL)) == len(values):
        return
    for name, value in raw:
        if len(value.translate(None, _CONTROL)) != len(value):
            shown = name[:40].decode("ascii", "replace")
            raise MalformedResponse(f"the upstream's header {shown!r} holds a control character")


def _watch_connection(response: ClientResponse, watched: weakref.WeakSet[Any]) -> tuple[Future[None], Any] | None:
    """Arm the end-of-connection callback while the body is unread (see the module docstring)."""
    connection = response.connection
    protocol = connection.protocol if connection is not None else None
    closed = protocol.closed if protocol is not None else None
    if protocol is None or closed is None:
        return None  # the body has been received whole, or the connection is already gone
    if protocol not in watched:  # once per connection: its error, if any, counts as seen
        watched.add(protocol)
        closed.add_done_callback(_seen)
    callback = partial(_end_orphaned_body, response.content, protocol)
    closed.add_done_callback(callback)
    return closed, callback


def _seen(closed: Future[None]) -> None:
    if not closed.cancelled():
        closed.exception()  # marks it retrieved: no "exception was never retrieved" log


def _end_orphaned_body(content: StreamReader, protocol: Any, closed: Future[None]) -> None:
    if content.is_eof() or content.exception() is not None:
        return  # aiohttp ended the body itself
    error = protocol.exception()
    if isinstance(error, HttpProcessingError):
        content.set_exception(MalformedResponse(f"the upstream's body broke HTTP/1.1: {error.message}"))
    else:
        content.set_exception(ClientPayloadError("the connection closed before the response body ended"))
