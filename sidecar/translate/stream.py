"""Stateful stream translation: upstream events -> decoder -> common deltas -> encoder -> caller events.

One ``StreamTranslator`` per stream. ``feed`` takes one upstream ``SSEEvent`` and returns the caller's
events (``raw`` empty, so ``SSEEvent.encode`` renders them, or already their own rendering: the usual
text chunk's wire bytes are made with it, ``stream_out.framed``); its halves ``decode`` (event -> deltas)
and ``encode`` (deltas -> events) let the relay show the deltas to whoever listens. ``finish`` is
called when the upstream ended normally and returns the closing events not yet sent (it is safe after
the upstream's own end marker).
An upstream error event becomes the caller's error event and ends the output. An event the decoder
cannot read is skipped: a translator never raises on upstream data.

For telemetry the translator keeps what it has seen: ``usage`` (cumulative, in the common meaning),
``finish_reason`` (the upstream's own value, e.g. ``end_turn``) and ``response_id`` (the upstream's id).

The two halves are also available alone: ``new_stream_decoder`` (upstream events -> deltas, e.g. to
assemble a same-dialect stream for the cache) and ``new_stream_encoder`` (deltas -> caller events, e.g.
to replay a cached answer), in the facade (``translate.facade``). Each dialect's are in its package
(``sidecar/dialects/<dialect>/decoder.py``, ``encoder.py``), named by its ``Translation``.
"""

from __future__ import annotations

from typing import Protocol

from ..sse import SSEEvent
from .common import Delta, Finish, Start, Text, Usage, UsageSeen


class StreamDecoder(Protocol):
    def feed(self, event: SSEEvent) -> list[Delta]: ...


class StreamEncoder(Protocol):
    def feed(self, delta: Delta) -> list[SSEEvent]: ...
    def close(self) -> list[SSEEvent]: ...


class StreamTranslator:
    """Translates one stream from the upstream's dialect to the caller's."""

    __slots__ = ("_decoder", "_encoder", "finish_reason", "response_id", "usage")

    def __init__(self, decoder: StreamDecoder, encoder: StreamEncoder) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.response_id: str | None = None

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        """One upstream event -> zero or more caller events."""
        return self.encode(self.decode(event))

    def decode(self, event: SSEEvent) -> list[Delta]:
        """The first half of ``feed``: one upstream event as common deltas (none when it cannot be read)."""
        try:  # decode_event's, inline: this runs once per streamed event
            deltas = self._decoder.feed(event)
        except _UNREADABLE:
            return []
        for delta in deltas:
            if type(delta) is Text:  # the usual delta: nothing to keep
                continue
            if isinstance(delta, UsageSeen):
                self.usage = delta.usage if self.usage is None else self.usage.merge(delta.usage)
            elif isinstance(delta, Finish):
                self.finish_reason = delta.raw
            elif isinstance(delta, Start) and delta.id:
                self.response_id = delta.id
        return deltas

    def encode(self, deltas: list[Delta]) -> list[SSEEvent]:
        """The second half of ``feed``: common deltas as caller events."""
        encoder = self._encoder
        if len(deltas) == 1:
            return encoder.feed(deltas[0])
        out: list[SSEEvent] = []
        for delta in deltas:
            out += encoder.feed(delta)
        return out

    def finish(self) -> list[SSEEvent]:
        """The upstream ended normally: the closing events not yet sent."""
        return self._encoder.close()


def decode_event(decoder: StreamDecoder, event: SSEEvent) -> list[Delta]:
    """``decoder.feed(event)``, or no deltas for an event the decoder cannot read (never raises)."""
    try:
        return decoder.feed(event)
    except _UNREADABLE:
        return []


_UNREADABLE = (KeyError, TypeError, AttributeError, ValueError, IndexError)
"""What a decoder raises on data it cannot read (a translator skips the event)."""
