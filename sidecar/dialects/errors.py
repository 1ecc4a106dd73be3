"""What an upstream's error says, read once for every dialect: the sidecar's one table of error names and
the condition an error stands for.

Providers name their errors in the body (OpenAI ``type``/``code``, Anthropic ``type``, Gemini ``status``
with a numeric ``code``) and OpenAI-compatible servers borrow each other's names, so one table serves
every dialect.

- ``STATUS_BY_ERROR_TYPE`` / ``status_of_error``: the HTTP status an error object stands for, read where
  the HTTP status is not known or not meaningful: an error event inside a 200 stream
  (``resilience.classify``, ``translate.stream_in``); a numeric ``code`` (Gemini's, in 400-599) first, then
  the names in ``code`` (OpenAI's most specific), ``type`` and ``status``.
- ``ErrorInfo``: the fields of an error body matched on (type, code, status, message), read defensively
  from any dialect's body (``error_object``: OpenAI, Anthropic and Gemini nest it under ``error``, a Gemini
  stream error is a one-element list, vLLM puts the fields at the top, Ollama sends ``{"error": "text"}``).
- The matchers ``is_quota_exhausted``, ``is_overloaded``, ``is_context_overflow``, ``is_billing``: what
  ``resilience.classify`` decides on, and what ``condition_of`` names.
- ``ErrorCondition`` / ``condition_of``: the condition an upstream error stands for (rate limited, quota
  gone, overloaded, a prompt too long...), which each dialect words in its provider's own type and code
  (its ``response.ERROR_WORDS``, ``error_body(..., condition=)``) when the error reaches an app of another
  dialect (``translate.translate_error``, a stream's ``Failure``).

- ``undecodable_event``: what an app and the access line are told of an error event inside a stream
  that cannot be decoded (not JSON, or no error message in it): that it came, and its first bytes shown
  safely.

Matching uses the first 4 KiB of a message only. Nothing here raises on garbage.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import Dialect

STATUS_BY_ERROR_TYPE: Mapping[str, int] = {
    # OpenAI (type or code) and OpenAI-compatible servers
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "server_is_overloaded": 503,
    "timeout": 504,
    # Anthropic (type)
    "billing_error": 402,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
    # Gemini (status: google.rpc.Code names)
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


ANTHROPIC_ONLY_STATUSES: Mapping[int, int] = {529: 503, 402: 429}
"""Statuses only Anthropic sends (529 overloaded, 402 billing), each to the status OpenAI and Gemini send
for the same condition (503 overloaded / UNAVAILABLE; 429 insufficient_quota / RESOURCE_EXHAUSTED), for
an error body written without a condition (an upstream event read no further than its status). A
translated error's status is its condition's, as the caller's provider sends it (each dialect's
``response.CONDITION_STATUSES``)."""


def status_of_error(error: Mapping[str, Any]) -> int | None:
    """The HTTP status an ``error`` object stands for, or None when nothing in it says."""
    code = error.get("code")
    if type(code) is int and 400 <= code <= 599:
        return code
    for key in ("code", "type", "status"):
        value = error.get(key)
        if isinstance(value, str):
            status = STATUS_BY_ERROR_TYPE.get(value)
            if status is not None:
                return status
    return None


_MESSAGE_MAX = 4096

_CONTEXT_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context length exceeded|prompt is too long"
    r"|exceed context limit|input token count.*exceeds the maximum|exceeds? (?:the )?(?:model'?s? )?"
    r"context window|too large for model with \d+ maximum context length",
    re.IGNORECASE | re.DOTALL,
)
_PER_DAY = re.compile(r"per.?day", re.IGNORECASE)
_BILLING = re.compile(r"billing|credit balance is too low", re.IGNORECASE)
_OPENAI_QUOTA = re.compile(r"exceeded your current quota", re.IGNORECASE)
_OVERLOADED = re.compile(r"overloaded", re.IGNORECASE)


def error_object(root: Any) -> Mapping[str, Any] | None:
    """The ``error`` object of a provider error body (a Gemini body may be a one-element list)."""
    if isinstance(root, list) and root and isinstance(root[0], Mapping):
        root = root[0]
    if isinstance(root, Mapping):
        err = root.get("error")
        if isinstance(err, Mapping):
            return err
    return None


def _s(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The fields of a provider error object that classification looks at, all as strings."""

    type: str = ""
    code: str = ""
    status: str = ""
    message: str = ""
    error: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, root: Any) -> ErrorInfo:
        """Read a decoded body (any JSON value, or None)."""
        if isinstance(root, list) and root and isinstance(root[0], Mapping):
            root = root[0]
        err = error_object(root)
        if err is None and isinstance(root, Mapping):
            if isinstance(root.get("error"), str):
                return cls(message=root["error"][:_MESSAGE_MAX])  # Ollama and friends: {"error": "text"}
            if isinstance(root.get("message"), str):
                err = root  # vLLM and older OpenAI-compatible servers: the error object at the top
        if err is None:
            return cls()
        return cls(
            type=_s(err.get("type")),
            code=_s(err.get("code")),
            status=_s(err.get("status")),
            message=_s(err.get("message"))[:_MESSAGE_MAX],
            error=err,
        )

    def quota_ids(self) -> str:
        """The ``quotaId`` and ``quotaMetric`` of every Gemini ``QuotaFailure`` violation, joined."""
        details = self.error.get("details") if self.error is not None else None
        if not isinstance(details, list):
            return ""
        return " ".join(
            f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}"
            for d in details
            if isinstance(d, Mapping) and isinstance(d.get("violations"), list)
            for v in d["violations"]
            if isinstance(v, Mapping)
        )


def is_billing(info: ErrorInfo) -> bool:
    return bool(_BILLING.search(info.message))


def is_quota_exhausted(dialect: Dialect, status: int, info: ErrorInfo) -> bool:
    """The account cannot be served for a long while (quota or billing), as opposed to a rate limit."""
    if "insufficient_quota" in (info.code, info.type) or info.type == "billing_error" or status == 402:
        return True
    if info.status == "FAILED_PRECONDITION" or (status == 400 and is_billing(info)):
        return True  # Gemini billing / unsupported region; Anthropic "credit balance is too low" (400)
    if status == 429 and info.status == "RESOURCE_EXHAUSTED":
        return bool(_PER_DAY.search(info.quota_ids()) or _PER_DAY.search(info.message))
    # Gemini says "exceeded your current quota" for per-minute limits too; OpenAI only when it is gone.
    return status == 429 and dialect is Dialect.OPENAI and bool(_OPENAI_QUOTA.search(info.message))


def is_overloaded(status: int, info: ErrorInfo) -> bool:
    return (
        status == 529
        or info.type == "overloaded_error"
        or info.code == "server_is_overloaded"
        or bool(_OVERLOADED.search(info.message))
    )


def is_context_overflow(info: ErrorInfo) -> bool:
    return any(_CONTEXT_OVERFLOW.search(text) for text in (info.code, info.type, info.message))


class ErrorCondition(enum.StrEnum):
    """What an upstream error stands for, whatever the provider's words: each dialect's ``ERROR_WORDS``
    says it in its provider's own type and code (docs/translation.md, "Errors")."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    OVERLOADED = "overloaded"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    CONTEXT_OVERFLOW = "context_overflow"
    REQUEST_TOO_LARGE = "request_too_large"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"


CONDITION_BY_STATUS: Mapping[int, ErrorCondition] = {
    400: ErrorCondition.INVALID_REQUEST,
    401: ErrorCondition.AUTHENTICATION,
    402: ErrorCondition.QUOTA_EXHAUSTED,
    403: ErrorCondition.PERMISSION,
    404: ErrorCondition.NOT_FOUND,
    408: ErrorCondition.TIMEOUT,
    413: ErrorCondition.REQUEST_TOO_LARGE,
    429: ErrorCondition.RATE_LIMITED,
    500: ErrorCondition.SERVER_ERROR,
    502: ErrorCondition.SERVER_ERROR,
    503: ErrorCondition.SERVER_ERROR,
    504: ErrorCondition.TIMEOUT,
    529: ErrorCondition.OVERLOADED,
}
"""The condition an HTTP status stands for when the body says nothing more specific (``condition_of``)."""


def condition_of(dialect: Dialect, status: int, info: ErrorInfo) -> ErrorCondition:
    """The condition a ``dialect`` upstream's error of HTTP ``status`` (for an error inside a stream, the
    status its names stand for: ``status_of_error``) stands for, read in ``resilience.classify``'s order:
    a quota gone, a rate limit, a context overflow, an overloaded server, else by status."""
    if 400 <= status < 500:
        if is_quota_exhausted(dialect, status, info):
            return ErrorCondition.QUOTA_EXHAUSTED
        if status != 429 and is_context_overflow(info):
            return ErrorCondition.CONTEXT_OVERFLOW
    elif status >= 500 and is_overloaded(status, info):
        return ErrorCondition.OVERLOADED
    condition = CONDITION_BY_STATUS.get(status)
    if condition is None:
        return ErrorCondition.SERVER_ERROR if status >= 500 else ErrorCondition.INVALID_REQUEST
    return condition


_SHOWN_BYTES = 64


def undecodable_event(data: bytes) -> str:
    """What an app (and the access line) is told of an upstream error event that cannot be decoded: that it
    came, in a stream
    answered HTTP 200, and its first 64 bytes, shown safely (quoted, every character outside printable
    ASCII escaped: no control character, terminal escape or bidirectional mark reaches a log or a
    screen; the provider key was redacted from the event before: ``server.key_redaction``)."""
    said = "upstream sent an error event that could not be decoded, in a stream answered HTTP 200"
    if not data.strip():
        return f"{said}; the event was empty"
    more = "..." if len(data) > _SHOWN_BYTES else ""
    return f"{said}; its first bytes: {data[:_SHOWN_BYTES].decode('utf-8', 'replace')!a}{more}"
