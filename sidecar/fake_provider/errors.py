"""Error answers, each in its dialect's shape with that provider's real messages and retry hints.

``fault_error`` renders an error fault (status, overloaded, quota, context); ``request_error`` renders a
4xx for an invalid request. Retry hints (see ``faults``) by dialect:

- OpenAI:    ``retry-after`` (whole seconds), ``retry-after-ms``, ``x-ratelimit-reset-{requests,tokens}``
             as Go-style durations (``20ms``, ``1.5s``, ``6m0s``)
- Anthropic: ``retry-after``, ``anthropic-ratelimit-{requests,tokens}-reset`` as RFC 3339 times
- Gemini:    a ``google.rpc.RetryInfo`` detail with ``retryDelay`` (``"37s"``) in the body
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.dialects import Dialect
from sidecar.dialects.registry import error_body
from sidecar.fake_provider.faults import Fault, FaultKind

_RPC = "type.googleapis.com/google.rpc."
_NATURAL_HINTS: Mapping[Dialect, frozenset[str]] = {
    Dialect.OPENAI: frozenset({"retry-after", "retry-after-ms", "reset"}),
    Dialect.ANTHROPIC: frozenset({"retry-after", "reset"}),
    Dialect.GEMINI: frozenset({"retry-info"}),
}
_CONTEXT_MAX: Mapping[Dialect, int] = {
    Dialect.OPENAI: 128_000,
    Dialect.ANTHROPIC: 200_000,
    Dialect.GEMINI: 1_048_576,
}
_MESSAGES: Mapping[Dialect, Mapping[int, str]] = {
    Dialect.OPENAI: {
        401: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        429: "Rate limit reached for requests in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 1s.",
        500: "The server had an error while processing your request. Sorry about that!",
        503: "The engine is currently overloaded, please try again later.",
    },
    Dialect.ANTHROPIC: {
        401: "invalid x-api-key",
        429: "This request would exceed the rate limit for your organization of 50 requests per minute.",
        500: "Internal server error",
        529: "Overloaded",
    },
    Dialect.GEMINI: {
        400: "Request contains an invalid argument.",
        401: "API key not valid. Please pass a valid API key.",
        429: "Resource has been exhausted (e.g. check quota).",
        500: "An internal error has occurred. Please retry or report it.",
        503: "The model is overloaded. Please try again later.",
    },
}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def request_error(
    dialect: Dialect, status: int, message: str, request_id: str, param: str | None = None
) -> ErrorAnswer:
    """A rejection of an invalid request."""
    return _finish(dialect, status, error_body(dialect, status, message, param=param), {}, request_id)


def fault_error(dialect: Dialect, fault: Fault, *, now: float, input_tokens: int, request_id: str) -> ErrorAnswer:
    """The error answer for an error-kind fault."""
    status, body = _body(dialect, fault, input_tokens)
    default_hints = frozenset({"all"}) if fault.kind is FaultKind.STATUS and status == 429 else frozenset()
    hints = fault.hints if fault.hints is not None else default_hints
    if "all" in hints:
        hints = hints | _NATURAL_HINTS[dialect]
    headers = _hint_headers(dialect, hints, fault.after_s, now)
    if "retry-info" in hints and dialect is Dialect.GEMINI:
        detail = {"@type": _RPC + "RetryInfo", "retryDelay": _seconds(fault.after_s)}
        body["error"].setdefault("details", []).append(detail)
    if fault.should_retry is not None:
        headers["x-should-retry"] = "true" if fault.should_retry else "false"
    return _finish(dialect, status, body, headers, request_id)


def _body(dialect: Dialect, fault: Fault, input_tokens: int) -> tuple[int, dict[str, Any]]:
    if fault.kind is FaultKind.OVERLOADED:
        if dialect is Dialect.ANTHROPIC:
            return 529, error_body(dialect, 529, "Overloaded")
        code = "server_is_overloaded" if dialect is Dialect.OPENAI else None
        return 503, error_body(dialect, 503, _MESSAGES[dialect].get(503, "Overloaded"), code=code)
    if fault.kind is FaultKind.QUOTA:
        return _quota(dialect)
    if fault.kind is FaultKind.CONTEXT:
        limit = fault.max_tokens or _CONTEXT_MAX[dialect]
        return 400, _context(dialect, fault.tokens or limit + max(1, input_tokens), limit)
    status = fault.count
    message = _MESSAGES[dialect].get(status, f"Fake provider: injected HTTP {status}.")
    body = error_body(dialect, status, message)
    if dialect is Dialect.OPENAI and status == 429:
        body["error"].update(type="requests", code="rate_limit_exceeded")
    if dialect is Dialect.OPENAI and status == 401:
        body["error"].update(type="invalid_request_error", code="invalid_api_key")
    if dialect is Dialect.GEMINI and status == 429:
        violation = {"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests"}
        violation["quotaId"] = "GenerateRequestsPerMinutePerProjectPerModel"
        body["error"]["details"] = [{"@type": _RPC + "QuotaFailure", "violations": [violation]}]
    return status, body


def _quota(dialect: Dialect) -> tuple[int, dict[str, Any]]:
    if dialect is Dialect.ANTHROPIC:
        message = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing."
        return 402, error_body(dialect, 402, message)
    message = "You exceeded your current quota, please check your plan and billing details."
    body = error_body(dialect, 429, message)
    if dialect is Dialect.OPENAI:
        body["error"].update(type="insufficient_quota", code="insufficient_quota")
    else:
        violation = {
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            "quotaValue": "250",
        }
        body["error"]["details"] = [{"@type": _RPC + "QuotaFailure", "violations": [violation]}]
    return 429, body


def _context(dialect: Dialect, tokens: int, limit: int) -> dict[str, Any]:
    if dialect is Dialect.ANTHROPIC:
        return error_body(dialect, 400, f"prompt is too long: {tokens} tokens > {limit} maximum")
    if dialect is Dialect.GEMINI:
        message = f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({limit})."
        return error_body(dialect, 400, message)
    message = (
        f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
        f"{tokens} tokens. Please reduce the length of the messages."
    )
    return error_body(dialect, 400, message, code="context_length_exceeded", param="messages")


def _hint_headers(dialect: Dialect, hints: frozenset[str], after_s: float, now: float) -> dict[str, str]:
    headers: dict[str, str] = {}
    if "retry-after" in hints:
        headers["retry-after"] = str(math.ceil(after_s))
    if "retry-after-ms" in hints:
        headers["retry-after-ms"] = str(round(after_s * 1000))
    if "reset" in hints and dialect is Dialect.OPENAI:
        for kind in ("requests", "tokens"):
            headers[f"x-ratelimit-limit-{kind}"] = "3" if kind == "requests" else "40000"
            headers[f"x-ratelimit-remaining-{kind}"] = "0"
            headers[f"x-ratelimit-reset-{kind}"] = go_duration(after_s)
    if "reset" in hints and dialect is Dialect.ANTHROPIC:
        moment = datetime.datetime.fromtimestamp(math.ceil(now + after_s), datetime.UTC)
        stamp = moment.isoformat().replace("+00:00", "Z")
        for kind in ("requests", "tokens"):
            headers[f"anthropic-ratelimit-{kind}-limit"] = "50" if kind == "requests" else "40000"
            headers[f"anthropic-ratelimit-{kind}-remaining"] = "0"
            headers[f"anthropic-ratelimit-{kind}-reset"] = stamp
    return headers


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes it: ``20ms``, ``1s``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = _number(secs) + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def _seconds(seconds: float) -> str:
    return _number(seconds) + "s"


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _finish(
    dialect: Dialect, status: int, body: dict[str, Any], headers: dict[str, str], request_id: str
) -> ErrorAnswer:
    if dialect is Dialect.ANTHROPIC:
        body["request_id"] = request_id
    return ErrorAnswer(status, body, headers)
