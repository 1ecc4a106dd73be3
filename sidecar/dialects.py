"""The three wire dialects an app may speak, and how each one shapes an error.

A *dialect* is an API family: the paths, the request and response bodies, the stream framing and the
error body. OpenAI-compatible servers (vLLM, Ollama, Groq, ...) and Azure OpenAI speak the OpenAI
dialect; they differ only in how the upstream URL and key are formed (see ``upstream``).

An *operation* is what the request asks for, independent of dialect (``chat``, ``embeddings``...); its
value is the OpenTelemetry ``gen_ai.operation.name``.

Error bodies (``error_body``) follow each provider's documented shape, so an official SDK raises its
usual exception class with our message:

- OpenAI:    ``{"error": {"message", "type", "param", "code"}}``
- Anthropic: ``{"type": "error", "error": {"type", "message"}}``
- Gemini:    ``{"error": {"code", "message", "status"}}`` (google.rpc.Status)
"""

from __future__ import annotations

import enum
from typing import Any


class Dialect(enum.StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class Operation(enum.StrEnum):
    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    GENERATE_CONTENT = "generate_content"
    COUNT_TOKENS = "count_tokens"


# Anthropic's error types by HTTP status (docs.claude.com/en/api/errors).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# OpenAI's error types by HTTP status.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout",
}

# google.rpc.Code names by HTTP status.
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(
    dialect: Dialect, status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The JSON error body a client of ``dialect`` expects for ``status``.

    ``code`` is a machine-readable reason of the sidecar's own (``no_route``, ``body_too_large``...);
    it lands where each dialect keeps such a thing.
    """
    if dialect is Dialect.ANTHROPIC:
        kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if dialect is Dialect.GEMINI:
        rpc = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        body: dict[str, Any] = {"code": status, "message": message, "status": rpc}
        if code:
            body["details"] = [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "llm-sidecar"}
            ]
        return {"error": body}
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
