"""What an error's type or status name means as an HTTP status: the sidecar's one table.

Providers name their errors in the body (OpenAI ``type``/``code``, Anthropic ``type``, Gemini ``status``
with a numeric ``code``) and OpenAI-compatible servers borrow each other's names, so one table serves
every dialect. It is read where the HTTP status is not known or not meaningful: an error event inside
a 200 stream (``resilience.classify``, ``translate.stream_in``). ``status_of_error`` prefers a numeric
``code`` (Gemini's, in 400-599), then the names in ``code`` (OpenAI's most specific), ``type`` and
``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
for the same condition (503 overloaded / UNAVAILABLE; 429 insufficient_quota / RESOURCE_EXHAUSTED): the
status an OpenAI or Gemini caller gets, whose SDK picks its error class and retries by the status."""


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
