"""A stream answer sent to the caller: its head (``open_stream``: the upstream's relayed headers, the
event-stream content type, the sidecar's headers from ``answer_headers``; the stream is committed), a
whole stream at once (``send_stream``: the last resort's answer, a cached one, an ensemble's), and a
streamed answer held back whole until its hooks accept it (``HeldStream``: gates, budgets). The relay of
a live upstream stream is ``stream``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from .answer_headers import add_sidecar_headers

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..translate.deltas import Delta
    from .exchange import Exchange

_CONTENT_TYPE = "text/event-stream; charset=utf-8"


async def open_stream(exchange: Exchange, relayed: Mapping[str, str] | None = None) -> StreamResponse:
    """Send the head of a stream answer: ``relayed`` (the upstream's headers that may reach the app), the
    event-stream content type, and the sidecar's headers; the stream is committed."""
    headers = dict(relayed) if relayed else {}
    headers["content-type"] = _CONTENT_TYPE
    headers["cache-control"] = "no-cache"
    add_sidecar_headers(headers, exchange)
    stream = StreamResponse(status=200, headers=headers)
    exchange.committed = True
    exchange.stream = stream
    await stream.prepare(exchange.request)
    return stream


async def send_stream(exchange: Exchange, data: bytes, relayed: Mapping[str, str] | None = None) -> StreamResponse:
    """A whole stream answer at once: its head, ``data`` (complete events), its end."""
    stream = await open_stream(exchange, relayed)
    try:
        await stream.write(data)
        await stream.write_eof()
    except ConnectionError:  # the app went away
        raise asyncio.CancelledError from None
    exchange.bytes_out += len(data)
    return stream


class HeldStream:
    """A whole streamed answer held back (``exchange.hold_stream``), sent by ``send`` once accepted."""

    __slots__ = ("deltas", "headers", "parts", "target")

    def __init__(self, target: Target, headers: dict[str, str], parts: list[bytes], deltas: list[Delta]) -> None:
        self.target = target
        self.headers = headers  # the upstream's, as relayed
        self.parts = parts  # the caller's events, as bytes
        self.deltas = deltas  # the answer in the common form

    async def send(self, exchange: Exchange) -> StreamResponse:
        """Send it to the caller; the taps see it as it goes."""
        taps = exchange.taps
        for tap in taps:
            tap.open(self.target)
            for delta in self.deltas:
                tap.feed(delta)
        stream = await send_stream(exchange, b"".join(self.parts), self.headers)
        for tap in taps:
            tap.close(True)
        return stream
