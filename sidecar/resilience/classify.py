"""What an upstream attempt's result means for the fallback loop.

Every attempt ends in one ``Outcome``; its ``kind`` tells the loop what to do next:

- ``SUCCESS``           2xx (or a stream event that is not an error).
- ``RETRY_SAME``        rate-limited (429): wait ``retry_after_s`` (or a backoff) and retry this target,
                        within the retry budget; fall back instead when the wait is longer than allowed.
- ``FALLBACK``          try the next target now: 500/502/503/504/529 (configurable), connect errors,
                        resets, timeouts, malformed responses, quota gone.
- ``CONTEXT_OVERFLOW``  the prompt does not fit this model: move to a target with a larger window.
- ``FAIL_FAST``         the request itself is wrong (other 4xx): return the upstream's error as is.

Two flags are independent of the kind: ``breaker_failure`` (count against the target's circuit breaker:
5xx, timeouts, connect errors, resets, malformed responses; never a 4xx, never a 429) and ``rate_limited``
(the target refuses us for a while for an account reason, 429 or quota: mark it rate-limited, do not
open its breaker).

Entry points: ``classify_response`` (status, headers, body), ``classify_exception`` (what the upstream
client raises: aiohttp's exception types, ``MalformedResponse``, asyncio timeouts), ``classify_timeout``
(a timeout whose phase the caller knows) and ``classify_stream_event`` (an error event inside a 200
stream, classified like the equivalent status). Reading the provider's error body is ``signals``' job;
the decision table is here, in ``_classify``. Nothing raises on garbage.

Exceptions, each FALLBACK with a breaker failure, by the phase that failed (``_exception_type``):

    ConnectionTimeoutError (connect)                    timeout_connect
    SocketTimeoutError (sock_read)                      timeout_idle
    a bare TimeoutError                                 timeout_<phase the caller names>, else timeout_total
    a certificate the sidecar refused                   tls_unknown_ca, tls_hostname_mismatch, tls_expired,
                                                        tls_not_yet_valid, else tls_error
    a TLS alert from the provider about our certificate tls_client_cert_rejected
    another TLS failure (e.g. TLS to a plain port)      tls_error
    the proxy unreachable, or refusing the tunnel       proxy_error
    no file descriptor left for the connection (the     too_many_open_files (no breaker failure:
    sidecar's own EMFILE or ENFILE: ``ulimit -n``)      the provider was not reached)
    an answer or event past what the process may hold  held_bytes_full (no breaker failure, not retried:
    from bodies at once (``held_bytes.HeldBytesFull``) the same answer would come again)
    the deadline ran out while the call waited for a    upstream_pool_full (``pool_full``; no breaker
    free connection (the upstream connection limits)    failure: the sidecar's own queue)
    no connection (DNS, refused, unreachable)           connect_error
    the connection closed or reset before the end       reset
    an answer that is not valid HTTP, a bad coding,
    a body over the cap, JSON that does not decode      malformed_response

``x-should-retry`` (sent by OpenAI and Anthropic, honoured first by their SDKs) is read as a statement
about retrying *the same target*: ``false`` turns a 429 into FALLBACK (do not wait for it) but leaves a
5xx as FALLBACK with ``breaker_failure`` (another provider may well serve the request, and a provider in
an outage must still open its breaker); ``true`` turns an otherwise fail-fast 4xx (408, 409...) into
FALLBACK without a breaker failure. ``false`` also sets ``no_retry``: the target is not called again
for the request, not even as the chain's last target (where a FALLBACK is otherwise retried), as the
SDKs do not call again on it.

Not retried (``no_retry``), as a second call within the request cannot fare better:
``x-should-retry: false``, a quota gone (``insufficient_quota``, ``failed_precondition``), and the
sidecar's own ``tls_config`` failure (made with ``Outcome.failure``: only if a ``tls`` file's context
could not be built after ``server.calls`` checked it; a key or a ``tls`` file that cannot be read is
no attempt at all: ``server.calls`` skips the target, ``credentials`` / ``tls_config``).

``detail`` says why in plain words, for the access line and the error the app gets: the provider's
message (the key it was sent redacted, first 300 characters), the exception's ``Name: message`` (never
its repr), or the caller's own words (a timeout's limit, a key's source).
"""

from __future__ import annotations

import enum
import errno
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

from sidecar.dialects import Dialect
from sidecar.dialects.errors import (
    ErrorInfo,
    error_object,
    is_billing,
    is_context_overflow,
    is_overloaded,
    is_quota_exhausted,
    undecodable_event,
)
from sidecar.held_bytes import HeldBytesFull
from sidecar.resilience.network_words import network_words
from sidecar.resilience.ratelimit import normalize_headers, parse_reset_hint
from sidecar.resilience.signals import parse_json_body, stream_error_status

TimeoutPhase = Literal["connect", "first_byte", "idle", "total"]

DEFAULT_FALLBACK_STATUSES: frozenset[int] = frozenset({500, 502, 503, 504, 529})
_DETAIL_MAX = 300


class OutcomeKind(enum.StrEnum):
    SUCCESS = "success"
    RETRY_SAME = "retry_same"
    FALLBACK = "fallback"
    CONTEXT_OVERFLOW = "context_overflow"
    FAIL_FAST = "fail_fast"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classified result of one attempt; ``detail`` is the upstream's message, truncated, for logs."""

    kind: OutcomeKind
    status: int | None
    error_type: str
    retry_after_s: float | None = None
    breaker_failure: bool = False
    rate_limited: bool = False
    detail: str = ""
    no_retry: bool = False  # never called again for this request (module docstring: "Not retried")

    @property
    def gateway_status(self) -> int:
        """The status of the sidecar's own answer when this failure ends the request: 504 for a
        timeout, else 502 (docs/api.md, "Errors")."""
        return 504 if self.error_type.startswith("timeout") else 502

    @property
    def described(self) -> str:
        """The error type with its detail, as the sidecar's own messages say it: ``connect_error (why)``."""
        return f"{self.error_type} ({self.detail})" if self.detail else self.error_type

    @classmethod
    def success(cls, status: int | None = 200) -> Outcome:
        """A successful attempt."""
        return cls(OutcomeKind.SUCCESS, status, "ok")

    @classmethod
    def failure(
        cls, error_type: str, detail: str = "", *, status: int | None = None, no_retry: bool = False
    ) -> Outcome:
        """A failure of the target found by the caller itself (a truncated stream, a 200 with a body that
        is not JSON): FALLBACK with a breaker failure; ``no_retry`` when a second call cannot fare better
        (a ``tls`` file that is not there)."""
        return cls(OutcomeKind.FALLBACK, status, error_type, None, True, False, detail[:_DETAIL_MAX], no_retry)


SUCCESS = Outcome(OutcomeKind.SUCCESS, 200, "ok")


def _classify(
    dialect: Dialect,
    status: int,
    headers: Mapping[str, str],
    root: Any,
    fallback_statuses: frozenset[int],
    now_wall: float,
) -> Outcome:
    if 200 <= status < 300:
        return SUCCESS if status == 200 else Outcome(OutcomeKind.SUCCESS, status, "ok")
    info = ErrorInfo.of(root)
    detail = info.message[:_DETAIL_MAX]
    h = normalize_headers(headers)
    should_retry = h.get("x-should-retry", "").strip().lower()
    hint_body = {"error": info.error} if info.error is not None else None

    if 400 <= status < 500 and is_quota_exhausted(dialect, status, info):
        error_type = "insufficient_quota"
        if info.status == "FAILED_PRECONDITION" and not is_billing(info):
            error_type = "failed_precondition"
        hint = parse_reset_hint(h, hint_body, now_wall)  # a quota gone does not come back within a request
        return Outcome(OutcomeKind.FALLBACK, status, error_type, hint, False, True, detail, no_retry=True)
    if status == 429:
        hint = parse_reset_hint(h, hint_body, now_wall)
        at_once = status in fallback_statuses or should_retry == "false"
        kind = OutcomeKind.FALLBACK if at_once else OutcomeKind.RETRY_SAME
        return Outcome(kind, status, "rate_limited", hint, False, True, detail, should_retry == "false")
    if 400 <= status < 500 and is_context_overflow(info):
        return Outcome(OutcomeKind.CONTEXT_OVERFLOW, status, "context_overflow", None, False, False, detail)
    if status >= 500:
        # A 5xx is a health signal whether or not the operator falls back on it.
        error_type = "overloaded" if is_overloaded(status, info) else f"http_{status}"
        hint = parse_reset_hint(h, hint_body, now_wall)
        kind = OutcomeKind.FALLBACK if status in fallback_statuses else OutcomeKind.FAIL_FAST
        return Outcome(kind, status, error_type, hint, True, False, detail, should_retry == "false")
    if 400 <= status < 500:
        at_once = status in fallback_statuses or should_retry == "true"
        kind = OutcomeKind.FALLBACK if at_once else OutcomeKind.FAIL_FAST
        return Outcome(kind, status, f"http_{status}", None, False, False, detail)
    # 1xx/3xx from an LLM API: the target is misconfigured (wrong base URL, redirect loop).
    return Outcome(OutcomeKind.FALLBACK, status, f"http_{status}", None, True, False, detail)


def classify_response(
    dialect: Dialect,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    fallback_statuses: frozenset[int] = DEFAULT_FALLBACK_STATUSES,
    *,
    now_wall: float | None = None,
) -> Outcome:
    """Classify a complete (non-streamed, or not yet streamed) upstream response.

    ``now_wall`` (``time.time()`` when None) converts date-form reset hints to seconds.
    """
    if 200 <= status < 300:
        return _classify(dialect, status, {}, None, fallback_statuses, 0.0)
    wall = time.time() if now_wall is None else now_wall
    return _classify(dialect, status, headers, parse_json_body(body), fallback_statuses, wall)


def classify_timeout(phase: TimeoutPhase) -> Outcome:
    """A timeout in a known phase: connect, first byte, idle gap between chunks, or total deadline."""
    return Outcome(OutcomeKind.FALLBACK, None, f"timeout_{phase}", None, True, False)


def describe_exception(exc: BaseException) -> str:
    """``Name: message`` of ``exc``, for a log line or a detail: never its repr, which for aiohttp's
    ``ClientResponseError`` holds the request's headers, the provider key among them; aiohttp's network
    exceptions in words of their meaning (``network_words``)."""
    words = network_words(exc)
    if words is not None:
        return words[:_DETAIL_MAX]
    try:  # an exception's __str__ may itself raise
        text = str(exc)
    except Exception:
        text = ""
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:_DETAIL_MAX]


def _network(error_type: str, exc: BaseException) -> Outcome:
    return Outcome(OutcomeKind.FALLBACK, None, error_type, None, True, False, describe_exception(exc))


def pool_full(detail: str) -> Outcome:
    """A call whose deadline ran out while it waited for a free upstream connection (the sidecar's
    connection limits reached: ``upstream.waited_for_a_connection``): the next target at once, no breaker
    failure (the provider was not reached)."""
    return Outcome(OutcomeKind.FALLBACK, None, "upstream_pool_full", None, False, False, detail)


def classify_exception(exc: BaseException, *, timeout_phase: TimeoutPhase | None = None) -> Outcome:
    """Classify an exception raised while calling the upstream (the table in the module docstring).

    ``timeout_phase`` names the phase of a bare ``TimeoutError`` (default ``total``: aiohttp's whole-call
    timer, or ``asyncio.timeout``); aiohttp's connect and read timeouts name theirs. ``CancelledError``
    and other non-``Exception`` ``BaseException`` give FAIL_FAST ``cancelled``: release the permit and
    re-raise, do not fall back. An unexpected non-network exception is FALLBACK ``internal_error``
    without a breaker failure (our bug must not open a provider's breaker).
    """
    if not isinstance(exc, Exception):
        return Outcome(OutcomeKind.FAIL_FAST, None, "cancelled")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return classify_timeout("connect")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return classify_timeout("idle")
    if isinstance(exc, TimeoutError):
        return classify_timeout(timeout_phase or "total")
    if isinstance(exc, HeldBytesFull):  # the sidecar's own memory ceiling, not the provider's failure
        return Outcome(OutcomeKind.FALLBACK, None, "held_bytes_full", None, False, False, str(exc), True)
    if _out_of_file_descriptors(exc):  # the sidecar's own limit, not the provider's failure
        return Outcome(OutcomeKind.FALLBACK, None, "too_many_open_files", None, False, False, describe_exception(exc))
    error_type = _exception_type(exc)
    if error_type is None:
        return Outcome(OutcomeKind.FALLBACK, None, "internal_error", None, False, False, describe_exception(exc))
    return _network(error_type, exc)


def _exception_type(exc: Exception) -> str | None:
    if isinstance(exc, aiohttp.ClientPayloadError):  # the body broke off, or its coding is corrupt
        return "malformed_response" if isinstance(exc.__cause__, ContentEncodingError) else "reset"
    tls = _tls_error_type(exc)
    if tls is not None:
        return tls
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return "proxy_error"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError | aiohttp.InvalidURL):
        return "connect_error"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | ConnectionError):
        return "reset"
    if isinstance(exc, aiohttp.ClientResponseError | ValueError):  # not HTTP; MalformedResponse; bad JSON
        return "malformed_response"
    if isinstance(exc, OSError | aiohttp.ClientError):
        return "connect_error"
    return None


def _out_of_file_descriptors(exc: BaseException) -> bool:
    """Whether the call failed because the process (EMFILE) or the system (ENFILE) had no file descriptor
    left for its socket: an ``OSError`` saying so anywhere in the exception's chain of causes."""
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return False
        if isinstance(current, OSError) and current.errno in _FD_ERRNOS:
            return True
        if isinstance(current, aiohttp.ClientConnectorError):
            current = current.os_error
        else:
            current = current.__cause__ or current.__context__
    return False


_FD_ERRNOS = (errno.EMFILE, errno.ENFILE)
# OpenSSL's verification results (X509_V_ERR_*) that have a name of their own.
_VERIFY_ERRORS = {
    2: "tls_unknown_ca",  # unable to get issuer certificate
    18: "tls_unknown_ca",  # self-signed certificate
    19: "tls_unknown_ca",  # self-signed certificate in chain
    20: "tls_unknown_ca",  # unable to get local issuer certificate
    21: "tls_unknown_ca",  # unable to verify the first certificate
    9: "tls_not_yet_valid",
    10: "tls_expired",
    62: "tls_hostname_mismatch",
    64: "tls_hostname_mismatch",  # IP address mismatch
}
# Alerts a provider sends when it refuses the client certificate the sidecar showed (or none).
_CLIENT_CERT_ALERTS = (
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_ACCESS_DENIED",
)


def _tls_error_type(exc: BaseException) -> str | None:
    """``tls_*`` for a TLS failure anywhere in the exception's chain of causes, else None."""
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return None
        # aiohttp's wrappers derive from the ssl errors too, without their details: look at what they wrap
        if isinstance(current, aiohttp.ClientConnectorCertificateError):
            current = current.certificate_error
        elif isinstance(current, aiohttp.ClientConnectorError):
            current = current.os_error
        elif isinstance(current, ssl.SSLCertVerificationError):
            return _VERIFY_ERRORS.get(current.verify_code, "tls_error")
        elif isinstance(current, ssl.SSLError) and not isinstance(current, aiohttp.ClientError):
            reason = current.reason or ""
            return "tls_client_cert_rejected" if reason.endswith(_CLIENT_CERT_ALERTS) else "tls_error"
        else:
            current = current.__cause__ or current.__context__
    return None


def classify_stream_event(
    dialect: Dialect,
    event_name: str | None,
    data: bytes,
    fallback_statuses: frozenset[int] = DEFAULT_FALLBACK_STATUSES,
) -> Outcome | None:
    """An ``Outcome`` for an error event inside a 200 stream, or None for an ordinary event.

    Anthropic: ``event: error`` (or data of ``"type": "error"``); OpenAI and Gemini: a data payload with
    a top-level ``error`` object (or, from OpenAI-compatible servers, an ``error`` string). The error is
    classified like the HTTP status it maps to (``overloaded_error`` as 529, ``RESOURCE_EXHAUSTED`` as
    429...); an unmappable one is FALLBACK ``stream_error_event`` with a breaker failure (one that cannot
    be decoded: its detail says so, its first bytes shown safely, ``dialects.errors.undecodable_event``).
    Cheap for ordinary events: only payloads containing ``"error"`` are parsed.
    """
    if event_name != "error" and b'"error"' not in data:
        return None
    root = parse_json_body(data)
    err = error_object(root)
    if err is None:
        text = root.get("error") if isinstance(root, Mapping) else None
        if isinstance(text, str) and text:  # Ollama and friends: {"error": "text"}
            return Outcome(OutcomeKind.FALLBACK, None, "stream_error_event", None, True, False, text[:_DETAIL_MAX])
        if event_name != "error":
            return None
        detail = undecodable_event(data)[:_DETAIL_MAX]  # an ``event: error`` that says nothing readable
        return Outcome(OutcomeKind.FALLBACK, None, "stream_error_event", None, True, False, detail)
    status = stream_error_status(err)
    if status is None:
        detail = ErrorInfo.of(root).message[:_DETAIL_MAX]
        return Outcome(OutcomeKind.FALLBACK, None, "stream_error_event", None, True, False, detail)
    return _classify(dialect, status, {}, root, fallback_statuses, time.time())
