"""Stream relay with a commit point.

The commit point is the first content event sent to the caller. Before it, the upstream's preamble
(OpenAI's role-only chunk, Anthropic's ``message_start``/``ping``/``content_block_start``) is held back,
and any failure — an error event, a cut connection, no content before the first-byte deadline — is
returned as an ``Outcome`` so the fallback loop can try the next target: the caller sees nothing. The
first-byte deadline runs until the commit; then only the upstream client's timers (idle gap, total)
bound the reads.

After it, events are relayed as they arrive (one write per upstream read, complete events only). A
failure then cannot be hidden or retried: the stream ends with an explicit error event in the caller's
dialect (``translate.stream_error_event``), never a clean-looking end; a stream that stops without its
dialect's terminator (``[DONE]``, ``message_stop``, a Gemini finishReason) counts as cut.

Same-dialect streams forward the upstream's event bytes; cross-dialect streams go through a
``StreamTranslator``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.web import StreamResponse

from ..dialects import Dialect, registry
from ..resilience.classify import Outcome, classify_exception, classify_stream_event
from ..sse import SSEEvent, SSEParser
from ..telemetry import AttemptTrace
from ..translate import StreamTranslator, new_stream_translator, stream_error_event
from ..upstream import RESPONSE_DROP, UpstreamResponse, relay_headers

if TYPE_CHECKING:
    from .attempt import AttemptResult, Prepared
    from .exchange import Exchange

_MAX_HELD_EVENTS = 32
_STREAM_DROP = RESPONSE_DROP | {"content-type", "cache-control"}  # set by the sidecar, lower-case


async def relay_stream(
    exchange: Exchange,
    prepared: Prepared,
    response: UpstreamResponse,
    trace: AttemptTrace,
    first_content_by: float,
) -> AttemptResult:
    from .attempt import AttemptResult

    caller = exchange.endpoint.dialect
    wire = prepared.wire
    operation = exchange.endpoint.operation
    translator: StreamTranslator | None = None
    if wire is not caller:
        translator = new_stream_translator(
            source=wire,
            target=caller,
            operation=operation,
            model=prepared.target.upstream_model,
            include_usage=prepared.include_usage,
        )
    upstream = registry.wire(wire)
    strip_usage = wire is caller and not prepared.include_usage
    parser = SSEParser()
    held: list[bytes] = []
    client: StreamResponse | None = None
    result = AttemptResult(Outcome.success(), upstream_status=response.status)
    ended = False
    first_content = asyncio.timeout_at(first_content_by)  # lifted at the commit point

    async def commit(*, lift: bool = True) -> StreamResponse:
        """Send the head to the caller; ``lift``: end the first-content deadline (while it is running)."""
        if exchange.committed:
            raise _Lost  # a hedged racer committed first
        exchange.committed = True
        if lift:
            first_content.reschedule(None)
        if exchange.on_commit is not None:
            exchange.on_commit()
        headers = relay_headers(response.headers.items(), _STREAM_DROP)
        headers["content-type"] = "text/event-stream; charset=utf-8"
        headers["cache-control"] = "no-cache"
        headers.update(exchange_headers(exchange, prepared))
        stream = StreamResponse(status=200, headers=headers)
        await stream.prepare(exchange.request)
        trace.first_chunk()
        return stream

    try:
        async with first_content:
            while not ended:
                chunk = await response.readany()
                if not chunk:
                    break
                out: list[bytes] = []
                for event in parser.feed(chunk):
                    failure = classify_stream_event(wire, event.event, event.data)
                    if failure is None and client is None and upstream.is_malformed(event):
                        failure = Outcome.failure("malformed_response", "upstream sent an event that is not JSON")
                    if failure is not None:
                        if client is None:
                            return AttemptResult(failure, upstream_status=response.status)
                        result.outcome = failure
                        exchange.stream_error = failure.error_type
                        out.append(_error_bytes(caller, failure, translator is None, event))
                        ended = True
                        break
                    if b"sage" in event.data:  # usage / usageMetadata
                        usage = upstream.translation.stream_usage(event)
                        if usage is not None:
                            result.usage = usage if result.usage is None else result.usage.merge(usage)
                    if upstream.is_terminal(operation, event):
                        ended = True
                    if translator is not None:
                        out.extend(e.encode() for e in translator.feed(event))
                        if ended:
                            out.extend(e.encode() for e in translator.finish())
                    elif not (strip_usage and upstream.is_usage_only(event)):
                        out.append(event.raw)
                    if client is None and not upstream.is_preamble(event):
                        client = await commit()
                if client is None:
                    held.extend(out)
                    if len(held) > _MAX_HELD_EVENTS:
                        client = await commit()
                    else:
                        continue
                data = b"".join(held) + b"".join(out) if held else b"".join(out)
                held.clear()
                if data:
                    try:
                        await client.write(data)
                    except ConnectionError:  # the app went away: not the upstream's fault, nothing to relay
                        raise asyncio.CancelledError from None
                    exchange.bytes_out += len(data)
                    trace.chunk()
            if not ended:
                # EOF without the dialect's terminator: the upstream stopped mid-answer.
                cut = Outcome.failure("stream_truncated", "the upstream ended the stream without finishing it")
                if client is None:
                    return AttemptResult(cut, upstream_status=response.status)
                raise _Cut(cut)
    except _Lost:
        return AttemptResult(Outcome.failure("hedge_lost", "another call answered first"))
    except _Cut as cut:
        assert client is not None
        await _fail_committed(exchange, client, caller, cut.outcome, result)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        # A bare timeout is the first-content deadline before the commit, aiohttp's total after it;
        # a ValueError: an event larger than the parser accepts, or an answer the client refused.
        outcome = classify_exception(exc, timeout_phase="first_byte" if client is None else "total")
        if client is None:
            return AttemptResult(outcome, upstream_status=response.status)
        await _fail_committed(exchange, client, caller, outcome, result)
    if client is None:
        try:
            client = await commit(lift=False)  # after the loop: its deadline is over already
        except _Lost:
            return AttemptResult(Outcome.failure("hedge_lost", "another call answered first"))
        if held:
            await client.write(b"".join(held))
    if translator is not None:
        result.usage = translator.usage or result.usage
        if translator.finish_reason:
            result.finish_reasons = [translator.finish_reason]
        result.response_id = translator.response_id
    try:
        await client.write_eof()
    except ConnectionError:
        raise asyncio.CancelledError from None
    result.response = client
    return result


class _Lost(Exception):
    """Another (hedged) call of this request already committed its stream."""


class _Cut(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _error_bytes(caller: Dialect, failure: Outcome, same_dialect: bool, event: SSEEvent) -> bytes:
    if same_dialect:
        return event.raw  # the upstream's error event is already in the caller's dialect
    return stream_error_event(caller, failure.status or 502, f"upstream stream failed: {failure.error_type}")


async def _fail_committed(
    exchange: Exchange, client: StreamResponse, caller: Dialect, outcome: Outcome, result: AttemptResult
) -> None:
    """After the commit point: end the caller's stream with an explicit error event."""
    result.outcome = outcome
    exchange.stream_error = outcome.error_type
    message = f"upstream stream failed after it started: {outcome.error_type}"
    data = stream_error_event(caller, outcome.status or 502, message)
    try:
        await client.write(data)
        exchange.bytes_out += len(data)
    except ConnectionError:
        pass


def exchange_headers(exchange: Exchange, prepared: Prepared) -> dict[str, str]:
    """The ``x-sidecar-*`` response headers (docs/headers.md)."""
    target = prepared.target
    headers = {
        "x-sidecar-request-id": exchange.request_id,
        "x-sidecar-model": target.name,
        "x-sidecar-upstream-model": target.upstream_model,
        "x-sidecar-provider": target.provider.name,
        "x-sidecar-route": exchange.route.name if exchange.route else "",
        "x-sidecar-attempts": str(exchange.calls + 1),
        "x-sidecar-policy-version": exchange.policy.version,
    }
    if exchange.fallback_reason:
        headers["x-sidecar-fallback-reason"] = exchange.fallback_reason
    if prepared.dropped:
        headers["x-sidecar-dropped-params"] = ",".join(prepared.dropped)
    return headers
