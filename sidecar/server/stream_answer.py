"""A stream answer sent to the caller: its head (``open_stream``: the upstream's relayed headers, the
event-stream content type, the sidecar's headers from ``answer_headers``; the stream is committed), a
whole stream at once (``send_stream``: the last resort's answer, a cached one, an ensemble's), and a
streamed answer held back whole until its hooks accept it (``HeldStream``: gates, budgets). The relay of
a live upstream stream is ``stream``.

A request whose streams are held whole (its quality gates') has a ``StreamHold`` (``exchange.hold_stream``):
the bytes its held streams take from the process's account (``held_bytes``), ``HELD_STREAM`` times (the
caller's bytes, the answer decoded for the gates, the bytes joined when sent), as the relay holds them; a held
stream gives its own back once sent (the app has read it) or refused (``HeldStream.let_go``), and the gate
stage gives back the rest at the request's end (``StreamHold.let_go``: an app gone while its answer was checked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from .answer_headers import add_sidecar_headers

if TYPE_CHECKING:
    from ..held_bytes import HeldBytes
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


class StreamHold:
    """The bytes a request's held streams take from the process's ``account`` (``taken``): ``take`` and
    ``give`` as the account's, and ``let_go`` at the request's end for those no stream gave back."""

    __slots__ = ("account", "taken")

    def __init__(self, account: HeldBytes) -> None:
        self.account = account
        self.taken = 0

    def take(self, size: int) -> bool:
        """Take ``size`` bytes from the account; False (nothing taken, a refusal counted) past its ceiling."""
        if not self.account.take(size):
            return False
        self.taken += size
        return True

    def give(self, size: int) -> None:
        """``size`` bytes taken before are held no more."""
        self.taken -= size
        self.account.give(size)

    def let_go(self) -> None:
        """The request ended: what its held streams still took is given back."""
        self.account.give(self.taken)
        self.taken = 0


class HeldStream:
    """A whole streamed answer held back (``exchange.hold_stream``), sent by ``send`` once accepted; its
    ``taken`` bytes of the request's ``StreamHold`` given back once sent or refused (``let_go``)."""

    __slots__ = ("deltas", "headers", "hold", "parts", "taken", "target")

    def __init__(
        self,
        target: Target,
        headers: dict[str, str],
        parts: list[bytes],
        deltas: list[Delta],
        hold: StreamHold | None = None,
        taken: int = 0,
    ) -> None:
        self.target = target
        self.headers = headers  # the upstream's, as relayed
        self.parts = parts  # the caller's events, as bytes
        self.deltas = deltas  # the answer in the common form
        self.hold = hold
        self.taken = taken

    async def send(self, exchange: Exchange) -> StreamResponse:
        """Send it to the caller; the taps see it as it goes. Its bytes are given back once written (a
        slow app holds them until it has read them), or however the send ends."""
        taps = exchange.taps
        for tap in taps:
            tap.open(self.target)
            for delta in self.deltas:
                tap.feed(delta)
        try:
            stream = await send_stream(exchange, b"".join(self.parts), self.headers)
        finally:
            self.let_go()
        for tap in taps:
            tap.close(True)
        return stream

    def let_go(self) -> None:
        """Sent or refused: its bytes are given back (once)."""
        if self.hold is not None:
            self.hold.give(self.taken)
            self.taken = 0
