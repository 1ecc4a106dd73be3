"""classify_exception and classify_timeout: network exceptions, TLS failures, timeouts and our own bugs."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from aiohttp.http_exceptions import ContentEncodingError, ContentLengthError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from sidecar.resilience.classify import (
    Outcome,
    OutcomeKind,
    classify_exception,
    classify_timeout,
)
from sidecar.upstream import MalformedResponse

KEY = ConnectionKey("api.openai.com", 443, True, True, None, None, None, None)
REQUEST = RequestInfo(URL("https://api.openai.com/v1/chat/completions"), "POST", CIMultiDictProxy(CIMultiDict()))


def caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def verify_error(code: int) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    error.verify_code = code
    return error


def ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}]")
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "Connect call failed")), "connect_error"),
        (aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known")), "connect_error"),
        (ConnectionRefusedError(111, "refused"), "connect_error"),
        (aiohttp.ServerDisconnectedError(), "reset"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "reset"),
        (ConnectionResetError(104, "Connection reset by peer"), "reset"),
        (BrokenPipeError(32, "Broken pipe"), "reset"),
        (
            caused(
                aiohttp.ClientPayloadError("Response payload is not completed"),
                ContentLengthError("Not enough data to satisfy content length header"),
            ),
            "reset",
        ),
        (aiohttp.ConnectionTimeoutError("Connection timeout to host"), "timeout_connect"),
        (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), "timeout_idle"),
        (TimeoutError(), "timeout_total"),
        (aiohttp.ClientResponseError(REQUEST, (), status=400, message="Bad status line"), "malformed_response"),
        (
            caused(aiohttp.ClientPayloadError("Can not decode content-encoding: gzip"), ContentEncodingError("gzip")),
            "malformed_response",
        ),
        (MalformedResponse("the upstream sent status 99, outside 100-599"), "malformed_response"),
        (orjson.JSONDecodeError("bad", "{", 0), "malformed_response"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "malformed_response"),
        (aiohttp.ClientProxyConnectionError(KEY, ConnectionRefusedError(111, "refused")), "proxy_error"),
        (aiohttp.ClientHttpProxyError(REQUEST, (), status=407, message="Proxy Authentication Required"), "proxy_error"),
    ],
)
def test_network_exceptions_fall_back_and_count(exc: BaseException, error_type: str) -> None:
    """Connect errors, resets, timeouts, proxy failures and malformed answers: FALLBACK with a breaker failure."""
    outcome = classify_exception(exc)
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        error_type,
        True,
    )
    assert outcome.status is None


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ClientConnectorError(KEY, OSError(24, "Too many open files")),
        aiohttp.ClientConnectorError(KEY, OSError(23, "Too many open files in system")),
        caused(aiohttp.ClientOSError(None, "Multiple exceptions: [Errno 24] Too many open files"), OSError(24, "x")),
    ],
)
def test_no_file_descriptor_left_is_the_sidecars_failure_not_the_providers(exc: BaseException) -> None:
    """A connection the sidecar could not open for want of a file descriptor (EMFILE, ENFILE) falls back
    as ``too_many_open_files``, without a breaker failure: the provider was never reached, and opening its
    breaker would turn it away for seconds after the descriptors come back."""
    outcome = classify_exception(exc)
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure, outcome.no_retry) == (
        OutcomeKind.FALLBACK,
        "too_many_open_files",
        False,
        False,
    )
    assert "Too many open files" in outcome.detail


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (20, "tls_unknown_ca"),
        (19, "tls_unknown_ca"),
        (18, "tls_unknown_ca"),
        (62, "tls_hostname_mismatch"),
        (64, "tls_hostname_mismatch"),
        (10, "tls_expired"),
        (9, "tls_not_yet_valid"),
        (23, "tls_error"),
    ],
)
def test_a_refused_certificate_names_why(code: int, error_type: str) -> None:
    """A certificate the sidecar refused is classified by OpenSSL's reason, not as a bare connect_error."""
    cause = verify_error(code)
    exc = caused(aiohttp.ClientConnectorCertificateError(KEY, cause), cause)
    outcome = classify_exception(exc)
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (OutcomeKind.FALLBACK, error_type, True)


@pytest.mark.parametrize(
    ("reason", "error_type"),
    [
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tls_client_cert_rejected"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "tls_client_cert_rejected"),
        ("TLSV1_ALERT_UNKNOWN_CA", "tls_client_cert_rejected"),
        ("WRONG_VERSION_NUMBER", "tls_error"),
    ],
)
def test_other_tls_failures_name_the_side_at_fault(reason: str, error_type: str) -> None:
    """A provider's alert about the client certificate is tls_client_cert_rejected; other TLS failures tls_error,
    whether at the handshake or at the first read."""
    cause = ssl_error(reason)
    for exc in (
        caused(aiohttp.ClientConnectorSSLError(KEY, cause), cause),
        caused(aiohttp.ClientOSError(1, str(cause)), cause),
    ):
        assert classify_exception(exc).error_type == error_type


@pytest.mark.parametrize("phase", ["connect", "first_byte", "idle", "total"])
def test_timeout_phase_names_the_error_type(phase: Any) -> None:
    """A bare TimeoutError takes the phase the caller knows, as classify_timeout does."""
    assert classify_exception(TimeoutError(), timeout_phase=phase).error_type == f"timeout_{phase}"
    assert classify_timeout(phase) == Outcome(OutcomeKind.FALLBACK, None, f"timeout_{phase}", None, True)


def test_cancel_is_fail_fast_and_not_a_failure() -> None:
    """CancelledError is FAIL_FAST 'cancelled': release the permit and re-raise, never a breaker failure."""
    outcome = classify_exception(asyncio.CancelledError())
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FAIL_FAST,
        "cancelled",
        False,
    )


def test_our_own_bug_does_not_open_a_breaker() -> None:
    """An unexpected non-network exception: FALLBACK internal_error, no breaker failure."""
    outcome = classify_exception(KeyError("choices"))
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        "internal_error",
        False,
    )
    assert outcome.detail.startswith("KeyError")
