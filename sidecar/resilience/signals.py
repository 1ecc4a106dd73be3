"""What a provider's error body says, read defensively: the facts ``classify`` decides on.

- ``parse_json_body`` / ``error_object``: the decoded body and its ``error`` object (OpenAI, Anthropic
  and Gemini all nest it under ``error``; a Gemini stream error is a one-element list; vLLM puts the
  error fields at the top level; Ollama sends ``{"error": "text"}``).
- ``ErrorInfo``: the fields matched on (type, code, status, message), all strings.
- Matchers: ``is_quota_exhausted``, ``is_overloaded``, ``is_context_overflow``, ``is_billing``.
- ``stream_error_status``: the HTTP status an error inside a 200 stream stands for (the sidecar's one
  table of error names, ``dialects.errors``).

Matching is deliberately dialect-tolerant (OpenAI-compatible servers borrow each other's wording) and
uses the first 4 KiB of a message only. Nothing here raises on garbage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sidecar.dialects import Dialect
from sidecar.dialects.errors import status_of_error

MAX_BODY_PARSE_BYTES = 1 << 20
"""Bodies larger than this are not parsed as JSON (an error body is small; an HTML page is not JSON)."""

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


def parse_json_body(body: bytes | Mapping[str, Any] | None) -> Any:
    """The decoded JSON of ``body``, a mapping passed through, or None for anything unparseable."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, bytes | bytearray | memoryview) or len(body) > MAX_BODY_PARSE_BYTES:
        return None
    try:
        return orjson.loads(body)
    except Exception:
        return None


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


def stream_error_status(err: Mapping[str, Any]) -> int | None:
    """The HTTP status an in-stream ``error`` object stands for (``dialects.errors.status_of_error``: its
    numeric code, else its code/type/status name)."""
    return status_of_error(err)
