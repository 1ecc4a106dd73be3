"""Stream relay with a commit point, which stages can tap; and the sending of a whole stream answer.

The commit point is the first content event sent to the caller. Before it, the upstream's preamble
(``WireDialect.is_preamble``: OpenAI's role-only chunk, Anthropic's ``message_start``/``ping``/
``content_block_start``) is held back, and any failure (an error event, a cut connection, no content
before the first-byte deadline) is returned as an ``Outcome`` so the fallback loop can try the next
target: the caller sees nothing. The first-byte deadline runs until the commit; then only the
upstream client's timers (idle gap, total) bound the reads.

After it, events are relayed as they arrive (one write per upstream read, complete events only). A
failure then cannot be hidden or retried: the stream ends with an explicit error event in the caller's
dialect, never a clean-looking end (one arm, ``_end_with_error``): the upstream's own error event when
the caller's SDK raises on it as it is, else that error rewritten in the caller's dialect with the
provider's message kept (``WireDialect.error_event_raises``, ``Translation.error_event``); for a cut or a
timeout, an error naming it. A stream that stops without its dialect's terminator
(``WireDialect.is_terminal``) counts as cut.

Same-dialect streams forward the upstream's event bytes; cross-dialect streams go through a
``StreamTranslator``, whose ``relay_text`` turns a plain text delta (the usual event) into the caller's
bytes directly when nobody listens (no error, usage or end can be in such an event: nothing else is
judged for it). The answer's events in the common form (``translate.deltas``) are decoded
only when someone listens: the stages' ``hooks.StreamTap`` objects (``exchange.taps``), fed from the
commit point on, and a held stream's hooks (``exchange.hold_stream``: the whole answer is read, then
returned as a ``HeldStream`` the fallback loop sends once its hooks accepted it).

``open_stream`` sends a stream's head (the sidecar's headers from ``answer_headers``) and
``send_stream`` a whole stream at once (the last resort's answer, a cached one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.web import StreamResponse

from ..dialects import registry
from ..resilience.classify import Outcome, TimeoutPhase, classify_exception, classify_stream_event
from ..sse import SSEEvent, SSEParser
from ..telemetry import AttemptTrace
from ..translate import StreamTranslator, decode_event, new_stream_translator, stream_error_event
from ..translate.deltas import Delta
from ..translate.errors import read_error
from ..upstream import RESPONSE_DROP, UpstreamResponse, relay_headers
from .answer_headers import add_sidecar_headers
from .key_redaction import event_without_key, headers_without_key

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from .attempt import AttemptResult, Prepared
    from .exchange import Exchange

_MAX_HELD_EVENTS = 32
_STREAM_DROP = RESPONSE_DROP | {"content-type", "cache-control"}  # set by the sidecar, lower-case
_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_EVENT_ENDS = (b"\n\n", b"\r\n\r\n")  # a chunk ending so, read from an event's start, holds whole events
_NOT_JSON = Outcome.failure("malformed_response", "upstream sent an event that is not JSON")


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


class _Failed(Exception):
    """The stream failed: how (``outcome``) and, when the upstream said so, its error event."""

    def __init__(self, outcome: Outcome, event: SSEEvent | None = None) -> None:
        self.outcome = outcome
        self.event = event


class _Lost(Exception):
    """Another (hedged) call of this request already committed its stream."""


async def relay_stream(
    exchange: Exchange,
    prepared: Prepared,
    response: UpstreamResponse,
    trace: AttemptTrace,
    first_content_by: float,
    max_held_bytes: int,
    key: str | None,
    explain: Callable[[Outcome], Outcome] = lambda outcome: outcome,
) -> AttemptResult:
    """Relay one upstream stream to the caller (see the module docstring); ``key``, the provider key
    the call sent, is redacted from any error event (``key_redaction``); ``explain`` gives a timeout its
    words (which limit it reached)."""
    from .attempt import AttemptResult

    facts = exchange.facts
    caller = facts.dialect
    operation = facts.operation
    wire = prepared.wire
    upstream = registry.wire(wire)
    translator: StreamTranslator | None = None
    if wire is not caller:
        translator = new_stream_translator(
            source=wire,
            target=caller,
            operation=operation,
            model=prepared.target.upstream_model,
            include_usage=prepared.include_usage,
            names=prepared.names,
        )
    taps = exchange.taps
    hold = exchange.hold_stream
    decoder = upstream.translation.decoder() if (taps or hold) and translator is None else None
    deltas: list[Delta] | None = [] if taps or hold else None  # the answer's deltas not yet shown to taps
    strip_usage = translator is None and not prepared.include_usage
    parser = SSEParser()
    held: list[bytes] = []  # the caller's bytes not yet sent (before the commit point, or held whole)
    held_bytes = 0
    client: StreamResponse | None = None
    result = AttemptResult(Outcome.success(), upstream_status=response.status)
    ended = False
    content_seen = False  # a held stream's first content lifts the first-content deadline, unsent
    out: list[bytes] = []  # the caller's bytes of the chunk being read
    first_content = asyncio.timeout_at(first_content_by)  # lifted at the commit point
    readany = response.readany
    is_terminal = upstream.is_terminal
    may_end = upstream.may_end
    # A same-dialect stream that nobody taps may forward a chunk of whole events as it came when no
    # event in it can be an error, carry usage (to count, or to strip) or end the stream. The byte
    # searches here run per upstream read: ``find``, not ``in``, which costs twice as much on a chunk
    # this size (CPython's bytes ``in`` first tries its operand as an integer and builds the TypeError).
    forward_whole = translator is None and deltas is None
    # A translated stream that nobody taps turns a plain text delta (the usual event) into the caller's
    # bytes directly: no error, usage or end in such an event, nothing to keep, so nothing else to judge.
    relay_text = translator.relay_text if translator is not None and deltas is None else None
    stream_usage = upstream.translation.stream_usage

    async def commit(*, lift: bool = True) -> StreamResponse:
        """Send the head to the caller; ``lift``: end the first-content deadline (while it is running)."""
        if exchange.committed:
            raise _Lost  # a hedged racer committed first
        if lift:
            first_content.reschedule(None)
        if exchange.on_commit is not None:
            exchange.on_commit()
        exchange.answered_by = prepared.target
        exchange.dropped = prepared.dropped
        relayed = headers_without_key(relay_headers(response.headers.items(), _STREAM_DROP), key)
        stream = await open_stream(exchange, relayed)
        trace.first_chunk()
        if deltas is not None:
            for tap in taps:
                tap.open(prepared.target)
        return stream

    try:
        async with first_content:
            while not ended:
                chunk = await readany()
                if not chunk:
                    break
                if (
                    forward_whole
                    and client is not None
                    and chunk.endswith(_EVENT_ENDS)
                    and not parser.pending
                    and chunk.find(b"error") < 0
                    and chunk.find(b"sage") < 0
                    and not may_end(chunk)
                ):  # whole events with nothing to look at: as they came, unparsed
                    try:
                        await client.write(chunk)
                    except ConnectionError:
                        raise asyncio.CancelledError from None
                    exchange.bytes_out += len(chunk)
                    trace.chunk()
                    continue
                out = []
                for event in parser.feed(chunk):
                    if relay_text is not None and client is not None:
                        text_bytes = relay_text(event)
                        if text_bytes is not None:
                            out.append(text_bytes)
                            continue
                    data = event.data
                    if event.event == "error" or data.find(b'"error"') >= 0:
                        event = event_without_key(event, key)
                        data = event.data
                        failure = classify_stream_event(wire, event.event, data)
                        if failure is not None:
                            raise _Failed(failure, event)
                    if client is None and upstream.is_malformed(event):
                        raise _Failed(_NOT_JSON)
                    # usage / usageMetadata (a translated stream's is the translator's: _read_translator)
                    if translator is None and data.find(b"sage") >= 0:
                        usage = stream_usage(event)
                        if usage is not None:
                            result.usage = usage if result.usage is None else result.usage.merge(usage)
                    if is_terminal(operation, event):
                        ended = True
                    if translator is not None:
                        decoded = translator.decode(event)
                        if not decoded and upstream.is_malformed(event):  # the caller's SDK raises, as its own would
                            raise _Failed(_NOT_JSON)
                        if deltas is not None:
                            deltas += decoded
                        for caller_event in translator.encode(decoded):
                            out.append(caller_event.encode())
                        if ended:
                            out.extend(e.encode() for e in translator.finish())
                    else:
                        if decoder is not None and deltas is not None:
                            deltas += decode_event(decoder, event)
                        if not (strip_usage and upstream.is_usage_only(event)):
                            out.append(event.raw)
                    if client is None and not content_seen and not upstream.is_preamble(event):
                        if hold:  # its content has started: the deadline is met, the stream stays held
                            content_seen = True
                            first_content.reschedule(None)
                        else:
                            client = await commit()
                if client is None:
                    held.extend(out)
                    if hold:
                        held_bytes += sum(len(part) for part in out)
                        if held_bytes > max_held_bytes:
                            raise _Failed(Outcome.failure("malformed_response", "a held stream is over the body cap"))
                        continue
                    if len(held) <= _MAX_HELD_EVENTS:
                        continue
                    client = await commit()
                if held:
                    out = held + out
                    held = []
                if deltas:
                    for delta in deltas:
                        for tap in taps:
                            tap.feed(delta)
                    deltas.clear()
                if out:
                    data = b"".join(out)
                    try:
                        await client.write(data)
                    except ConnectionError:  # the app went away: not the upstream's fault, nothing to relay
                        raise asyncio.CancelledError from None
                    exchange.bytes_out += len(data)
                    trace.chunk()
                    out = []
            if not ended:
                # EOF without the dialect's terminator: the upstream stopped mid-answer.
                raise _Failed(Outcome.failure("stream_truncated", "the upstream ended the stream without finishing it"))
    except _Lost:
        return AttemptResult(Outcome.failure("hedge_lost", "another call answered first"))
    except (_Failed, TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        if isinstance(exc, _Failed):
            failed = exc
        else:  # a bare timeout is the first-content deadline before the commit, aiohttp's total after it;
            # a ValueError: an event larger than the parser accepts, or an answer the client refused
            phase: TimeoutPhase = "first_byte" if client is None else "total"
            failed = _Failed(explain(classify_exception(exc, timeout_phase=phase)))
        if client is None:
            return AttemptResult(failed.outcome, upstream_status=response.status)
        await _end_with_error(exchange, client, failed, translator, result, held + out)
        _read_translator(translator, result)
        for tap in taps:
            tap.close(False)
        result.response = client
        return result
    _read_translator(translator, result)
    if hold:
        headers = headers_without_key(relay_headers(response.headers.items(), _STREAM_DROP), key)
        result.held = HeldStream(prepared.target, headers, held, deltas or [])
        return result
    if client is None:
        try:
            client = await commit(lift=False)  # a stream of preamble only: its deadline is over already
        except _Lost:
            return AttemptResult(Outcome.failure("hedge_lost", "another call answered first"))
        if held:
            data = b"".join(held)
            await client.write(data)
            exchange.bytes_out += len(data)
    for delta in deltas or ():
        for tap in taps:
            tap.feed(delta)
    for tap in taps:
        tap.close(True)
    try:
        await client.write_eof()
    except ConnectionError:
        raise asyncio.CancelledError from None
    result.response = client
    return result


def _read_translator(translator: StreamTranslator | None, result: AttemptResult) -> None:
    """What the translator saw of a translated stream: its usage, finish reason and id."""
    if translator is not None:
        result.usage = translator.usage or result.usage
        if translator.finish_reason:
            result.finish_reasons = [translator.finish_reason]
        result.response_id = translator.response_id


async def _end_with_error(
    exchange: Exchange,
    client: StreamResponse,
    failed: _Failed,
    translator: StreamTranslator | None,
    result: AttemptResult,
    before: list[bytes],
) -> None:
    """After the commit point: end the caller's stream with an error event its SDK raises on, after
    ``before`` (the caller's bytes of the events read with the failing one)."""
    outcome, event = failed.outcome, failed.event
    result.outcome = outcome
    exchange.stream_error = outcome.error_type
    caller = exchange.facts.dialect
    wire = registry.wire(caller)
    status = outcome.status or 502
    data = b""
    if event is None:
        why = f" ({outcome.detail})" if outcome.detail else ""
        message = f"upstream stream failed after it started: {outcome.error_type}{why}"
        data = stream_error_event(caller, status, message, code=outcome.error_type)
    elif translator is not None:  # the upstream's message, in the caller's dialect
        data = b"".join(e.encode() for e in translator.feed(event))
    elif wire.error_event_raises(event):
        data = event.raw  # the upstream's error event is already one the caller's SDK raises on
    if not data:  # an error event the caller's SDK would read past, or one the translator could not read
        message, _ = read_error(status, event.data if event is not None else b"")
        data = wire.translation.error_event(status, message).encode()
    if before:
        data = b"".join(before) + data
    try:
        await client.write(data)
        exchange.bytes_out += len(data)
        await client.write_eof()
    except ConnectionError:
        pass
