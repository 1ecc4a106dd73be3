"""Stateful stream translation: upstream events -> decoder -> common deltas -> encoder -> caller events.

One ``StreamTranslator`` per stream. ``feed`` takes one upstream ``SSEEvent`` and returns the caller's
events (``raw`` empty, so ``SSEEvent.encode`` renders them, or already their own rendering: the usual
text chunk's wire bytes are made with it, ``stream_out.framed``); its halves ``decode`` (event -> deltas)
and ``encode`` (deltas -> events) let the relay show the deltas to whoever listens. ``finish`` is
called when the upstream ended normally and returns the closing events not yet sent (it is safe after
the upstream's own end marker).
``relay_text`` is ``feed`` for the usual event, a plain text delta, when nobody needs the deltas: the
upstream decoder's ``text_of`` reads the text (one JSON parse) and the caller encoder's ``text_wire``
writes the caller's bytes (one JSON string encoded between two byte strings made per stream); any
other event gets None and goes through ``feed``. Both methods are optional (a dialect without them
takes the general path); ``tests/translate/test_stream.py`` pins the two paths' bytes equal.
An upstream error event becomes the caller's error event and ends the output. An event the decoder
cannot read is skipped: a translator never raises on upstream data, but for one case: an answer the
caller's encoder cannot carry on (its ``failure``: an Anthropic tool block's arguments that broke after
their start were sent) raises ``StreamBroken`` with the caller's events before the encoder's error event,
so that the relay ends the stream as it ends an upstream's failed one (``server.stream_error``).

For telemetry the translator keeps what it has seen: ``usage`` (cumulative, in the common meaning),
``finish_reason`` (the upstream's own value, e.g. ``end_turn``) and ``response_id`` (the upstream's id).
A decoder whose dialect repeats the totals so far on every fragment (Gemini's) may read a text fragment
directly with new counts: it keeps them unread (its optional ``unread_usage``), reports them with the
next event it reads whole, and gives them when ``usage`` is asked or before the encoder takes a text
delta outside its usual state.

The two halves are also available alone: ``new_stream_decoder`` (upstream events -> deltas, e.g. to
assemble a same-dialect stream for the cache) and ``new_stream_encoder`` (deltas -> caller events, e.g.
to replay a cached answer), in the facade (``translate.facade``). Each dialect's are in its package
(``sidecar/dialects/<dialect>/decoder.py``, ``encoder.py``), named by its ``Translation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..sse import SSEEvent
from .common import Usage
from .deltas import Delta, Finish, Start, Text, UsageSeen


class StreamBroken(ValueError):
    """The caller's encoder cannot carry the answer on (``message``: its ``failure``); ``events``: the
    caller's events made before its error event, still to be sent."""

    def __init__(self, message: str, events: list[SSEEvent]) -> None:
        super().__init__(message)
        self.message = message
        self.events = events


class StreamDecoder(Protocol):
    def feed(self, event: SSEEvent) -> list[Delta]: ...


class StreamEncoder(Protocol):
    failure: str | None  # set when the encoder ended the caller's stream with its own error event

    def feed(self, delta: Delta) -> list[SSEEvent]: ...
    def close(self) -> list[SSEEvent]: ...


class TextReader(Protocol):
    """A decoder's optional ``text_of``: the text of an event that is a plain text delta and nothing else
    (no error, usage, finish or end in it: ``feed`` would return exactly one ``Text``), with the effect on
    the decoder that ``feed`` would have; None for any other event."""

    def __call__(self, event: SSEEvent, /) -> str | None: ...


class TextWriter(Protocol):
    """An encoder's optional ``text_wire``: the wire bytes ``feed(Text(text))`` would give, when the
    encoder is in its usual state (the answer started, a text block open, nothing held), with the same
    effect on it; None otherwise."""

    def __call__(self, text: str, /) -> bytes | None: ...


class UsageReader(Protocol):
    """A decoder's optional ``unread_usage``: the stream's usage with what the plain text deltas ``text_of``
    read carried and no ``feed`` has reported yet (a dialect whose every fragment says the totals so far:
    ``feed`` reports it with the next event it reads); None when there is none. Reading it reports it."""

    def __call__(self) -> Usage | None: ...


class Replayer(Protocol):
    """An encoder's optional ``replayed``: a whole answer's events (encoded from deltas known in advance,
    a cache hit's) shaped as the dialect's provider streams them, where a live encoder cannot know what
    comes next (``cache.replay``)."""

    def __call__(self, events: list[SSEEvent], /) -> list[SSEEvent]: ...


class StreamTranslator:
    """Translates one stream from the upstream's dialect to the caller's."""

    __slots__ = (
        "_decoder",
        "_encoder",
        "_text_of",
        "_text_wire",
        "_unread_usage",
        "_usage",
        "finish_reason",
        "relay_text",
        "response_id",
    )

    def __init__(self, decoder: StreamDecoder, encoder: StreamEncoder) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._usage: Usage | None = None
        self.finish_reason: str | None = None
        self.response_id: str | None = None
        text_of: TextReader | None = getattr(decoder, "text_of", None)
        self._text_of: TextReader = text_of or _no_text
        self._text_wire: TextWriter | None = getattr(encoder, "text_wire", None)
        self._unread_usage: UsageReader | None = getattr(decoder, "unread_usage", None)
        self.relay_text: Callable[[SSEEvent], bytes | None] | None = self._relay_text if text_of else None
        """The caller's bytes of an upstream event that is a plain text delta, None for any other event;
        None itself when the upstream's decoder has no ``text_of``."""

    def _relay_text(self, event: SSEEvent) -> bytes | None:
        """``feed``'s result as bytes, for the usual event (a text delta): from the upstream's bytes to the
        caller's with one JSON parse and one JSON string written, no delta or event objects; None for
        every other event (``feed`` it). Nobody sees the deltas: use it only when no tap listens."""
        text = self._text_of(event)
        if text is None:
            return None
        if self._text_wire is not None:
            wire = self._text_wire(text)
            if wire is not None:
                return wire
        unread = self._take_unread_usage()  # the encoder is not in its usual state: it may show usage now
        events = self.encode([Text(text)] if unread is None else [UsageSeen(unread), Text(text)])
        return b"".join([caller_event.encode() for caller_event in events])

    @property
    def usage(self) -> Usage | None:
        """The stream's usage so far (cumulative, in the common meaning), the decoder's unread one with it."""
        self._take_unread_usage()
        return self._usage

    def _take_unread_usage(self) -> Usage | None:
        """The usage of text deltas the decoder's ``text_of`` read and did not report (``UsageReader``),
        kept as the stream's; None when there is none."""
        unread = self._unread_usage() if self._unread_usage is not None else None
        if unread is not None:
            self._usage = unread
        return unread

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
                self._usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
            elif isinstance(delta, Finish):
                self.finish_reason = delta.raw
            elif isinstance(delta, Start) and delta.id:
                self.response_id = delta.id
        return deltas

    def encode(self, deltas: list[Delta]) -> list[SSEEvent]:
        """The second half of ``feed``: common deltas as caller events."""
        encoder = self._encoder
        if len(deltas) == 1:
            out = encoder.feed(deltas[0])
        else:
            out = []
            for delta in deltas:
                out += encoder.feed(delta)
        if encoder.failure is not None:  # an attribute read per call: the check costs no call of its own
            raise StreamBroken(encoder.failure, out[:-1])
        return out

    def finish(self) -> list[SSEEvent]:
        """The upstream ended normally: the closing events not yet sent."""
        return self._checked(self._encoder.close())

    def _checked(self, events: list[SSEEvent]) -> list[SSEEvent]:
        """``events``, unless the encoder ended the stream with its own error event (the last of them):
        ``StreamBroken`` then (module docstring)."""
        failure = self._encoder.failure
        if failure is not None:
            raise StreamBroken(failure, events[:-1])
        return events


def _no_text(event: SSEEvent) -> None:
    """The ``text_of`` of a decoder that has none: no event is read as a plain text delta."""
    return None


def decode_event(decoder: StreamDecoder, event: SSEEvent) -> list[Delta]:
    """``decoder.feed(event)``, or no deltas for an event the decoder cannot read (never raises)."""
    try:
        return decoder.feed(event)
    except _UNREADABLE:
        return []


_UNREADABLE = (KeyError, TypeError, AttributeError, ValueError, IndexError)
"""What a decoder raises on data it cannot read (a translator skips the event)."""
