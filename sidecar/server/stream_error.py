"""How a relayed stream ends when it fails after its commit point (``stream``): with an explicit error
event in the caller's dialect, never a clean-looking end.

``end_with_error`` writes it: the upstream's own error event when the caller's SDK raises on it as it is
(``WireDialect.error_event_raises``), else that error rewritten in the caller's dialect with the
provider's message kept (the translator's, or ``Translation.error_event``); for a cut or a timeout
(``StreamFailed`` without an event), an error naming it; for an error event that cannot be decoded
(not JSON, no message in it), words saying so, with its first bytes (``dialects.errors.undecodable_event``).
A translated error event's own code is kept for the access line (``Exchange.upstream_error_code``). A
translated stream the caller's encoder could not carry on (``translate.StreamBroken``: an Anthropic tool
block's arguments broke after their start) is such a failure too (``broken``): ``malformed_response``,
the encoder's words as its detail. ``unfinished``: the failure of a stream that reached its end without
the dialect's terminator (cut mid-answer, or an answer that was never an event stream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from ..dialects import registry
from ..dialects.errors import undecodable_event
from ..resilience.classify import Outcome
from ..sse import SSEEvent
from ..translate import StreamBroken, StreamTranslator, stream_error_event
from ..translate.errors import error_code, event_message

if TYPE_CHECKING:
    from ..upstream import UpstreamResponse
    from .attempt import AttemptResult
    from .exchange import Exchange

_TRUNCATED = Outcome.failure("stream_truncated", "the upstream ended the stream without finishing it")
_SHOWN_TYPE_CHARS = 80  # of an upstream's content type quoted in a failure's reason


class StreamFailed(Exception):
    """The stream failed: how (``outcome``) and, when the upstream said so, its error event."""

    def __init__(self, outcome: Outcome, event: SSEEvent | None = None) -> None:
        self.outcome = outcome
        self.event = event


def broken(exc: StreamBroken, before: list[bytes]) -> StreamFailed:
    """The failure a ``StreamBroken`` stands for; the caller's events made before the encoder's error
    event are added to ``before`` (the bytes still to send ahead of the error event)."""
    before.extend(event.encode() for event in exc.events)
    return StreamFailed(Outcome.failure("malformed_response", exc.message))


def unfinished(response: UpstreamResponse) -> StreamFailed:
    """The failure of a stream whose upstream reached its end without the dialect's terminator: a
    ``malformed_response`` naming the type when the answer says it is not an event stream at all (a 200 of
    ``text/html`` from a wrong base URL or an egress proxy's login page), else ``stream_truncated`` (it
    stopped mid-answer). Both fall back at once (docs/resilience.md); the words are what the line tells."""
    media = response.headers.get("content-type", "")
    if media and not media.lower().startswith("text/event-stream"):
        shown = media[:_SHOWN_TYPE_CHARS]
        reason = f"the upstream answered a stream request with {shown!r}, not an event stream"
        return StreamFailed(Outcome.failure("malformed_response", reason))
    return StreamFailed(_TRUNCATED)


async def end_with_error(
    exchange: Exchange,
    client: StreamResponse,
    failed: StreamFailed,
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
        message = f"upstream stream failed after it started: {outcome.described}"
        data = stream_error_event(caller, status, message, code=outcome.error_type)
    elif translator is not None:  # the upstream's message, in the caller's dialect
        exchange.upstream_error_code = error_code(event.data)
        data = b"".join(e.encode() for e in translator.feed(event))
    elif wire.error_event_raises(event):
        data = event.raw  # the upstream's error event is already one the caller's SDK raises on
    if not data and event is not None:  # an event the caller's SDK would read past, or the translator could not
        said = event_message(event.data)  # None: it cannot be decoded, told in the sidecar's words and code
        code = None if said is not None else outcome.error_type
        data = wire.translation.error_event(status, said or undecodable_event(event.data), code=code).encode()
    if before:
        data = b"".join(before) + data
    try:
        await client.write(data)
        exchange.bytes_out += len(data)
        await client.write_eof()
    except ConnectionError:
        pass
