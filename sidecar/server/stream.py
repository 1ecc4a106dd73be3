"""Stream relay with a commit point, which stages can tap; and the sending of a whole stream answer.

The commit point is the first content event sent to the caller. Before it, the upstream's preamble
(``WireDialect.is_preamble``: OpenAI's role-only chunk, Anthropic's ``message_start``/``ping``/
``content_block_start``) is held back, and any failure (an error event, a cut connection, no content
before the first-byte deadline) is returned as an ``Outcome`` so the fallback loop can try the next
target: the caller sees nothing (the provider accepted the call, though: its prompt and the output held
back are charged to the request, ``billed``). The first-byte deadline runs until the commit; then only
the upstream client's timers (idle gap, total) bound the reads.

After it, events are relayed as they arrive (one write per upstream read, complete events only; SSE
comments such as ``: keep-alive`` too, but not to a Gemini caller: google-genai fails on them). A
failure then cannot be hidden or retried: the stream ends with an explicit error event in the caller's
dialect, never a clean-looking end (one arm, ``stream_error.end_with_error``): the upstream's own error
event when the caller's SDK raises on it as it is, else that error rewritten in the caller's dialect
with the provider's message kept (``WireDialect.error_event_raises``, ``Translation.error_event``); for
a cut or a timeout, an error naming it. A stream that stops without its dialect's terminator
(``WireDialect.is_terminal``) counts as cut.

Same-dialect streams forward the upstream's event bytes; cross-dialect streams go through a
``StreamTranslator``, whose ``relay_text`` turns a plain text delta (the usual event) into the caller's
bytes directly when nobody listens (no error, usage or end can be in such an event: nothing else is
judged for it). The answer's events in the common form (``translate.deltas``) are decoded
only when someone listens: the stages' ``hooks.StreamTap`` objects (``exchange.taps``), fed from the
commit point on, and a held stream's hooks (``exchange.hold_stream``: the whole answer is read, then
returned as a ``HeldStream`` the fallback loop sends once its hooks accepted it). The first bytes sent
(``billed.SENT_SAMPLE_BYTES``) are kept as they went, undecoded: a stream cut after its commit point (a
failure, the app's leaving, the drain) is charged the output they carry, scaled to every byte sent
(``billed.relayed_tokens``).

``relay_stream`` reads the stream in two phases and ends it::

    _Relay.until_commit     the reads up to the commit point: the preamble held back (``keep_back``),
                            the first content event commits (``commit``). A held stream is read to its
                            end here.
    _relay_committed        from it on: the chunk that committed sent after what was held before it,
                            then each read relayed as it came: the per-event loop, with the two fast
                            paths inline (nothing else per content event)
    failed / finish / cut   the ends (``failed`` and ``cut``: ``stream_ends``): a failure (an ``Outcome``
                            before the commit point, an error event after it), a clean end, the app
                            left or the drain cut it

``_Relay`` holds what stays the same for the stream and the steps not per content event; an event read
whole (judged, decoded, translated: ``read``) is its base's, ``stream_read.EventReader``; the ends
that are not clean (``failed``, ``cut``) are ``stream_ends.StreamEnds``'s, between the two. A stream's
head and a whole stream sent at once (``open_stream``, ``send_stream``, ``HeldStream``): ``stream_answer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.web import StreamResponse

from ..dialects import Dialect
from ..held_bytes import HELD_STREAM, PARSED, HeldBytes, HeldBytesFull
from ..resilience.classify import Outcome
from ..sse import SSEParser
from ..telemetry import AttemptTrace
from ..upstream import RelayHeaders, UpstreamResponse
from .billed import SENT_SAMPLE_BYTES
from .key_redaction import headers_without_key
from .stream_answer import HeldStream, StreamHold, open_stream
from .stream_ends import StreamEnds
from .stream_error import StreamFailed, unfinished
from .stream_read import events_are_json, show_deltas

if TYPE_CHECKING:
    from .attempt import AttemptResult
    from .exchange import Exchange
    from .prepared import Prepared

_MAX_HELD_EVENTS = 32
_EVENT_ENDS = (b"\n\n", b"\r\n\r\n")  # a chunk ending so, read from an event's start, holds whole events
_JSON_EVENT_ENDS = (b"}\n\n", b"}\r\n\r\n")  # ... the last one's data ending as a JSON object's


class _Lost(Exception):
    """Another (hedged) call of this request already committed its stream."""


class _Relay(StreamEnds):
    """One stream's relay: what stays the same from its first event to its last (the caller's stream
    from the commit point on: ``client``; the rest, and the reading of one event, ``EventReader``'s), and
    the steps that are not per content event: the reads up to the commit point, the commit point, holding
    back before the commit, the end of the stream (a failure or a clean end)."""

    __slots__ = ("client", "held_bytes", "keeping", "max_held_bytes", "relayed", "response", "taken", "trace")

    def __init__(
        self,
        exchange: Exchange,
        prepared: Prepared,
        response: UpstreamResponse,
        trace: AttemptTrace,
        max_held_bytes: int,
        key: str | None,
        relayed: RelayHeaders,
        result: AttemptResult,
    ) -> None:
        super().__init__(exchange, prepared, key, result)
        self.response = response
        self.relayed = relayed  # the filter of the upstream's headers relayed to the caller
        self.trace = trace
        self.max_held_bytes = max_held_bytes
        self.held_bytes = 0
        # what holding back takes from the process's account: a held stream's request's, else the account itself
        self.keeping: StreamHold | HeldBytes = self.hold if self.hold is not None else response.held
        self.taken = 0  # bytes taken from ``keeping``, given back by ``let_go``
        self.client: StreamResponse | None = None  # the caller's stream, from the commit point on

    async def until_commit(
        self, parser: SSEParser, held: list[bytes], out: list[bytes], first_content: asyncio.Timeout
    ) -> bool:
        """The reads up to the commit point: the preamble is held back (``keep_back``), the first content
        event that gives the caller bytes commits (one translated into nothing yet, as a Gemini caller's
        tool call before its arguments are whole, only lifts the deadline; a held stream's only lifts it
        too: it is read to its end here; too many events held back commit too); whether the stream ended.
        ``out``: the caller's bytes of the chunk being read; the chunk that commits is left in it, after what
        was held back before it, to be sent."""
        readany, read, is_preamble, relay_text, skim = (
            self.response.readany,
            self.read if self.searches is None else self.read_searching,
            self.upstream.is_preamble,
            self.relay_text,
            self.skim,
        )
        ended = content_seen = False
        while not ended:
            chunk = await readany()
            if not chunk:
                break
            for event in parser.feed(chunk):  # ``out`` is empty: ``keep_back`` took the last read's bytes
                if relay_text is not None and self.client is not None:  # committed at an event before it
                    text_bytes = relay_text(event)
                    if text_bytes is not None:
                        out.append(text_bytes)
                        continue
                given = len(out)
                ended = read(event, out, skim and self.client is not None, ended)
                if self.client is None and not content_seen and not is_preamble(event):
                    content_seen = await self._content_event(first_content, len(out) > given)
            if parser.comments:  # the caller has no stream before the commit point: its comments go nowhere
                if self.client is not None:
                    out += parser.comments
                parser.comments.clear()
            if self.client is None and self.keep_back(out, held):
                continue
            if self.client is None:
                await self.commit(first_content)
            out[:0] = held
            held.clear()
            self.let_go()
            break
        if self.client is not None and parser.comments is not None:  # from now on a read's comments go out first
            parser.comments = out
        return ended

    async def _content_event(self, first_content: asyncio.Timeout, gave_bytes: bool) -> bool:
        """An upstream content event before the commit point: whether content started for the caller. One
        translated into nothing yet (``gave_bytes`` False: a Gemini caller's tool call waits for its whole
        arguments) lifts the first-content deadline (the provider's content began) but does not commit:
        the caller has nothing, so a failure still falls back unseen."""
        if gave_bytes or self.hold:
            await self._content_starts(first_content)
            return True
        first_content.reschedule(None)
        return False

    async def _content_starts(self, first_content: asyncio.Timeout) -> None:
        """The first content event: the commit point; a held stream's only meets the first-content deadline
        (the stream stays held)."""
        if self.hold:
            first_content.reschedule(None)
        else:
            await self.commit(first_content)

    async def commit(self, first_content: asyncio.Timeout | None) -> StreamResponse:
        """The commit point: send the head to the caller, open the taps; ``first_content``: the deadline
        to lift (None: over already)."""
        exchange, prepared = self.exchange, self.prepared
        if exchange.committed:
            raise _Lost  # a hedged racer committed first
        if first_content is not None:
            first_content.reschedule(None)
        if exchange.on_commit is not None:
            exchange.on_commit()
        exchange.answered_by = prepared.target
        exchange.dropped = prepared.dropped
        self.client = stream = await open_stream(exchange, self._relayed_headers())
        self.trace.first_chunk()
        for tap in self.taps:
            tap.open(prepared.target)
        return stream

    def _relayed_headers(self) -> dict[str, str]:
        return headers_without_key(self.relayed(self.response.headers.items()), self.key)

    def keep_back(self, out: list[bytes], held: list[bytes]) -> bool:
        """Before the commit point: ``out`` moves to the ``held`` bytes (emptied: each part is sent, or
        counted by a failure, once), taken ``PARSED`` times from the process's account (a held stream's
        ``HELD_STREAM`` times, in its request's ``StreamHold``; past the ceiling ``HeldBytesFull``); False
        when too many events are held (the stream commits now). A held stream over the body cap fails."""
        size = sum(len(part) for part in out)
        held.extend(out)
        out.clear()
        self.held_bytes += size
        hold = self.hold
        if hold is not None and self.held_bytes > self.max_held_bytes:
            raise StreamFailed(Outcome.failure("malformed_response", "a held stream is over the body cap"))
        size *= PARSED if hold is None else HELD_STREAM
        if not self.keeping.take(size):
            raise self.response.held.full("a stream's answer held back")
        self.taken += size
        return hold is not None or len(held) <= _MAX_HELD_EVENTS

    def let_go(self) -> None:
        """What was held back is sent, or the stream failed: its bytes are given back to the account."""
        if self.taken:
            self.keeping.give(self.taken)
            self.taken = 0

    async def finish(self, client: StreamResponse | None, held: list[bytes]) -> AttemptResult:
        """The stream ended cleanly: a held stream is handed over whole (``held``, unsent); else the
        preamble-only stream is committed now, the taps see the rest and close, the stream ends."""
        result = self.result
        self.read_seen()
        hold = self.hold
        if hold is not None:  # handed over with the bytes it took
            headers = self._relayed_headers()
            result.held = HeldStream(self.prepared.target, headers, held, self.deltas or [], hold, self.taken)
            self.taken = 0
            return result
        if client is None:
            try:
                client = await self.commit(None)  # a stream of preamble only: its deadline is over already
            except _Lost:
                return _hedge_lost()
            if held:
                data = b"".join(held)
                held.clear()
                self.let_go()
                await client.write(data)
                self.exchange.bytes_out += len(data)
        taps = self.taps
        if self.deltas:
            show_deltas(taps, self.deltas)
        for tap in taps:
            tap.close(True)
        try:
            await client.write_eof()
        except ConnectionError:
            raise asyncio.CancelledError from None
        result.response = client
        return result


def _hedge_lost() -> AttemptResult:
    from .attempt import AttemptResult

    return AttemptResult(Outcome.failure("hedge_lost", "another call answered first"))


async def relay_stream(
    exchange: Exchange,
    prepared: Prepared,
    response: UpstreamResponse,
    trace: AttemptTrace,
    first_content_by: float,
    max_held_bytes: int,
    key: str | None,
    relayed: RelayHeaders,
    explain: Callable[[Outcome], Outcome] = lambda outcome: outcome,
) -> AttemptResult:
    """Relay one upstream stream to the caller (module docstring), with the headers ``relayed`` lets through;
    ``key`` (the call's) is redacted from them and any error event; ``explain`` says which limit timed out."""
    from .attempt import AttemptResult

    relay = _Relay(
        exchange,
        prepared,
        response,
        trace,
        max_held_bytes,
        key,
        relayed,
        AttemptResult(Outcome.success(), upstream_status=response.status),
    )
    # SSE comments (``: keep-alive``) pass from the commit point on, but not to google-genai, which fails on them
    # its unfinished event held in the process's account (``held_bytes``), given back however the stream ends
    parser = SSEParser(keep_comments=exchange.facts.dialect is not Dialect.GEMINI, held=response.held)
    held: list[bytes] = []  # the caller's bytes not yet sent (before the commit point, or held whole)
    out: list[bytes] = []  # the caller's bytes of the chunk being read
    first_content = asyncio.timeout_at(first_content_by)  # lifted at the commit point
    # The caller's first bytes, kept (not decoded) until ``SENT_SAMPLE_BYTES`` were sent: the output of a
    # stream cut after its commit point is estimated from them, on the cut's path (``billed.relayed_tokens``).
    sent: list[bytes] = []
    sent_from = exchange.bytes_out
    read_whole = False
    try:
        async with first_content:
            ended = await relay.until_commit(parser, held, out, first_content)
            if relay.client is not None:
                ended = await _relay_committed(relay, relay.client, parser, out, ended, sent)
            if not ended:  # EOF without the dialect's terminator: the upstream stopped mid-answer
                raise unfinished(response)
        read_whole = True
    except _Lost:
        return _hedge_lost()
    except (StreamFailed, TimeoutError, aiohttp.ClientError, OSError, ValueError, HeldBytesFull) as exc:
        return await relay.failed(exc, relay.client, held + out, explain, (sent, sent_from))
    except asyncio.CancelledError:  # the app went away, or the drain cut it: what it was sent is counted,
        if relay.client is not None or relay.hold:  # or what was held back for the hooks (generated all the same)
            relay.cut(sent, sent_from, [] if relay.client is not None else held + out)
        raise
    finally:
        parser.let_go()  # before the fallback loop's next attempt, if any
        if not read_whole:  # failed, lost or cut: what it held back is let go
            relay.let_go()
    try:
        return await relay.finish(relay.client, held)
    finally:
        relay.let_go()  # a stream of preamble only: what it held back (a held stream's was handed over)


async def _relay_committed(
    relay: _Relay, client: StreamResponse, parser: SSEParser, out: list[bytes], ended: bool, sent: list[bytes]
) -> bool:
    """From the commit point on: ``out`` (the chunk that committed, after what was held back) sent, then
    each read relayed to ``client`` as it came (one write per read), the two fast paths inline; whether
    the stream ended (``ended``: with the chunk that committed; False: the upstream's body ended first).
    The first ``SENT_SAMPLE_BYTES`` written are kept in ``sent``."""
    exchange, trace, deltas, taps = relay.exchange, relay.trace, relay.deltas, relay.taps
    read = relay.read if relay.searches is None else relay.read_searching  # priced per search: every event looked at
    sample_end = exchange.bytes_out + SENT_SAMPLE_BYTES
    sampling = True
    readany, relay_text, keep_usage = relay.response.readany, relay.relay_text, relay.keep_usage
    may_end, operation = relay.upstream.may_end, relay.operation
    # A same-dialect stream that nobody taps may forward a chunk of whole events as it came when no event
    # in it can be an error, carry usage (to count, or to strip; a Gemini read's is kept unread: ``keep_usage``)
    # or end the stream, and its last event's data ends as a JSON object's (free; every event's: 8,000
    # instructions more, docs/benchmarks.md), and, when the policy validates every event, its events read as
    # JSON objects in one call (``events_are_json``).
    # The byte searches run per read: ``find``, not ``in``, which costs twice as much on a chunk this size.
    skim = relay.skim  # False: the policy validates every event (``defaults.streams.validate_events``)
    forward_whole = relay.translator is None and deltas is None and relay.searches is None
    # a read of comments only passes as it came, unless the caller's SDK fails on a comment (then it is parsed)
    bare_ends = _EVENT_ENDS if parser.comments is not None else ()
    while True:
        if deltas:
            show_deltas(taps, deltas)
        if out:  # the caller's bytes of the last read
            data = b"".join(out)
            try:
                await client.write(data)
            except ConnectionError:  # the app went away: not the upstream's fault, nothing to relay
                raise asyncio.CancelledError from None
            exchange.bytes_out += len(data)
            if sampling:
                sent.append(data)
                sampling = exchange.bytes_out < sample_end
            trace.chunk()
            out.clear()
        if ended:
            return True
        chunk = await readany()
        if not chunk:
            return False
        if (
            forward_whole
            and (chunk.endswith(_JSON_EVENT_ENDS) or (chunk.endswith(bare_ends) and chunk.find(b"data") < 0))
            and not parser.pending
            and chunk.find(b"error") < 0
            and not may_end(operation, chunk)
            and (skim or events_are_json(chunk))
            and (chunk.find(b"sage") < 0 or keep_usage(chunk))
        ):  # whole events with nothing to look at: as they came, unparsed (or checked at once)
            try:
                await client.write(chunk)
            except ConnectionError:
                raise asyncio.CancelledError from None
            exchange.bytes_out += len(chunk)
            if sampling:
                sent.append(chunk)
                sampling = exchange.bytes_out < sample_end
            trace.chunk()
            continue
        for event in parser.feed(chunk):  # its comments, if any, are in ``out`` already (``until_commit``)
            if relay_text is not None:
                text_bytes = relay_text(event)
                if text_bytes is not None:
                    out.append(text_bytes)
                    continue
            ended = read(event, out, skim, ended)
