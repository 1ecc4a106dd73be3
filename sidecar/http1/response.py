"""One upstream response: status and headers at once, the body on demand, content coding removed.

The connection (``client``) feeds it: ``_start`` at the head, ``_data`` per body read, ``_ended`` or
``_fail`` at the end; the caller reads with ``read()`` (the whole body) or ``readany()`` (as it
arrives). Every wait is bounded by one timer: the idle gap or the ``deadline``, whichever is sooner.
While more than ``HIGH_WATER`` bytes wait for a ``readany`` caller, the connection stops reading.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from .errors import UpstreamProtocolError, UpstreamReadTimeout

if TYPE_CHECKING:
    from .client import Connection
    from .parser import ResponseParser

HIGH_WATER = 1024 * 1024
GZIP_OR_ZLIB = 47  # zlib wbits: detect a gzip or a zlib header


class UpstreamResponse:
    """One response: status and headers at once, the body on demand."""

    __slots__ = (
        "_buffered",
        "_conn",
        "_decoded",
        "_decoder",
        "_error",
        "_idle_s",
        "_loop",
        "_parser",
        "_reading_all",
        "_waiter",
        "deadline",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, conn: Connection, parser: ResponseParser, idle_s: float | None, deadline: float | None) -> None:
        self._conn: Connection | None = conn
        self._parser = parser
        self._idle_s = idle_s
        self.deadline = deadline  # loop.time() past which a wait raises TimeoutError; None: none
        self._loop = conn.loop
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._decoder: zlib._Decompress | None = None
        self._decoded = False  # the decoder has been fed (an empty coded body is not a truncated one)
        self._buffered = 0
        self._reading_all = False
        self.status = 0
        self.reason = ""
        self.headers: CIMultiDict[str] = CIMultiDict()

    async def read(self) -> bytes:
        """The whole body, once it has arrived."""
        self._reading_all = True
        parser = self._parser
        if self._conn is not None and self._conn.paused:
            self._conn.resume()
        while not parser.done:
            if self._error is not None:
                raise self._error
            await self._wait()
        parts = parser.body
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._buffered = 0
        if self._decoder is not None:
            data = self._decode(data, final=True)
            self._decoder = None  # flushed: a zlib stream cannot be used again
        return data

    async def readany(self) -> bytes:
        """The body's next bytes as soon as there are any; ``b""`` once it has ended."""
        parser = self._parser
        while True:
            parts = parser.body
            if parts:
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                self._buffered = 0
                conn = self._conn
                if conn is not None and conn.paused:
                    conn.resume()
                if self._decoder is not None:
                    final = parser.done
                    data = self._decode(data, final=final)
                    if final:
                        self._decoder = None  # flushed: a zlib stream cannot be used again
                    elif not data:
                        continue
                return data
            if parser.done:
                if self._decoder is not None:
                    tail = self._decode(b"", final=True)
                    self._decoder = None
                    return tail
                return b""
            if self._error is not None:
                raise self._error
            await self._wait()

    def close(self) -> None:
        """Release the response: an unfinished one aborts its connection."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.abort()

    @property
    def complete(self) -> bool:
        return self._parser.done

    # -- called by the connection ---------------------------------------------------------------

    def _start(self, decoder: zlib._Decompress | None) -> None:
        head = self._parser.head
        assert head is not None
        self.status = head.status
        self.reason = head.reason
        self.headers = head.headers
        self._decoder = decoder

    def _data(self, size: int) -> None:
        self._buffered += size
        if self._buffered > HIGH_WATER and not self._reading_all and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _ended(self) -> None:
        self._conn = None
        self._wake()

    def _fail(self, error: BaseException) -> None:
        self._conn = None
        if self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        loop = self._loop
        waiter = loop.create_future()
        self._waiter = waiter
        at = None if self._idle_s is None else loop.time() + self._idle_s
        deadline = self.deadline
        by_deadline = deadline is not None and (at is None or deadline <= at)
        if by_deadline:
            at = deadline
        timer = None if at is None else loop.call_at(at, self._expired, waiter, by_deadline)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _expired(self, waiter: asyncio.Future[None], deadline: bool) -> None:
        if waiter.done():
            return
        if deadline:
            waiter.set_exception(TimeoutError("the call's deadline passed"))
        else:
            waiter.set_exception(UpstreamReadTimeout(f"the upstream sent nothing for {self._idle_s:g} s"))

    def _decode(self, data: bytes, *, final: bool) -> bytes:
        decoder = self._decoder
        assert decoder is not None
        if data:
            self._decoded = True
        try:
            out = decoder.decompress(data)
            while decoder.eof and decoder.unused_data:  # gzip allows several members, one after another
                rest = decoder.unused_data
                decoder = self._decoder = zlib.decompressobj(wbits=GZIP_OR_ZLIB)
                out += decoder.decompress(rest)
            if final:
                out += decoder.flush()
                if self._decoded and not decoder.eof:
                    raise UpstreamProtocolError("the upstream's compressed body ended before its compressed data")
        except zlib.error as exc:
            raise UpstreamProtocolError(f"the upstream's compressed body is corrupt: {exc}") from None
        return out


def decoder_for(coding: str | None) -> zlib._Decompress | None:
    if coding is None:
        return None
    name = coding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=31)
    if name == "deflate":
        return zlib.decompressobj(wbits=GZIP_OR_ZLIB)  # zlib-wrapped (or gzip) deflate, as servers send it
    raise UpstreamProtocolError(f"the upstream sent a body in an unsupported content-encoding {coding[:40]!r}")
