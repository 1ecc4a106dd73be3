"""aiohttp's network exceptions in words, for ``Outcome.detail`` (an error event's message, the access line's
``attempt_errors``, ``/status``'s ``last_failure``): what happened, never the exception's repr.

aiohttp words a cut body as ``Response payload is not completed: <TransferEncodingError: 400, message='Not
enough data to satisfy transfer length header.'>``: the repr of its parser's exception, whose ``400`` is the
parser's code, not an HTTP status, and reads to a user as one. ``network_words`` words these from their
meaning (``ClientPayloadError`` by the parser error that caused it, ``ServerDisconnectedError``, whose
message may be the partial response head, ``ClientOSError`` by its OS error); None for any other exception.
"""

from __future__ import annotations

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, ContentLengthError, HttpProcessingError

CUT_SHORT = "the provider's answer was cut short"


def network_words(exc: BaseException) -> str | None:
    """What ``exc`` means, in words, when it is one of aiohttp's network exceptions; else None."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _payload_words(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        partial = "its answer's head was complete" if not isinstance(exc.message, str) else "answering"
        return f"the provider closed the connection before {partial}"
    if type(exc) is aiohttp.ClientOSError and exc.strerror:  # its subclasses (connector errors) word themselves
        return f"the connection to the provider failed: {exc.strerror} (errno {exc.errno})"
    return None


def _payload_words(exc: aiohttp.ClientPayloadError) -> str:
    cause = exc.__cause__
    if isinstance(cause, ContentLengthError):
        return f"{CUT_SHORT}: fewer bytes arrived than its Content-Length announced"
    if isinstance(cause, ContentEncodingError):
        return f"the provider's answer could not be decoded: {cause.message.rstrip('.')}"
    if isinstance(cause, HttpProcessingError):  # TransferEncodingError and kin: the chunked coding
        if cause.message.startswith("Not enough data"):
            return f"{CUT_SHORT}: the connection closed before its last chunk"
        return f"the provider's chunked answer is malformed: {cause.message.rstrip('.')}"
    return f"{CUT_SHORT}: {exc}"  # ours (``upstream.response``): no parser error behind it
