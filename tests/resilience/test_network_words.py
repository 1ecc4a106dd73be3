"""network_words (through classify_exception's detail): aiohttp's network exceptions worded by meaning."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.http_exceptions import ContentEncodingError, ContentLengthError, TransferEncodingError

from sidecar.resilience.classify import classify_exception


def cut(cause: Exception) -> aiohttp.ClientPayloadError:
    """A body that broke off, raised as aiohttp raises it: its message holds the cause's repr."""
    exc = aiohttp.ClientPayloadError(f"Response payload is not completed: {cause!r}")
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (
            cut(TransferEncodingError("Not enough data to satisfy transfer length header.")),
            "the provider's answer was cut short: the connection closed before its last chunk",
        ),
        (
            cut(ContentLengthError("Not enough data to satisfy content length header.")),
            "the provider's answer was cut short: fewer bytes arrived than its Content-Length announced",
        ),
        (
            cut(TransferEncodingError("Chunk size mismatch")),
            "the provider's chunked answer is malformed: Chunk size mismatch",
        ),
        (
            cut(ContentEncodingError("Can not decode content-encoding: gzip")),
            "the provider's answer could not be decoded: Can not decode content-encoding: gzip",
        ),
        (
            aiohttp.ClientPayloadError("the connection closed before the response body ended"),
            "the provider's answer was cut short: the connection closed before the response body ended",
        ),
        (aiohttp.ServerDisconnectedError(), "the provider closed the connection before answering"),
        (
            aiohttp.ClientOSError(104, "Connection reset by peer"),
            "the connection to the provider failed: Connection reset by peer (errno 104)",
        ),
    ],
)
def test_network_exceptions_are_worded_not_reprd(exc: BaseException, detail: str) -> None:
    """A cut, malformed or closed answer's detail says what happened, with no exception repr (no ``<``, no
    parser code a user would read as an HTTP status)."""
    assert classify_exception(exc).detail == detail
