"""Error bodies across dialects: read an upstream error, answer in the caller's dialect.

``read_error`` never raises: it takes whatever the upstream sent (JSON in any of the three shapes, a
JSON list as Gemini sometimes sends, HTML, nothing) and returns a message and a machine code.
``status_of`` turns an error object into an HTTP status, for errors that arrive inside a stream (after
the HTTP 200), by the sidecar's one table (``dialects.errors``).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..dialects import Dialect, registry
from ..dialects.errors import status_of_error
from ..sse import SSEEvent

_MAX_MESSAGE = 2000


def status_of(error: Any, default: int = 500) -> int:
    """The HTTP status an error object stands for (``dialects.errors.status_of_error``), else ``default``."""
    if not isinstance(error, dict):
        return default
    return status_of_error(error) or default


def read_error(status: int, body: bytes) -> tuple[str, str | None]:
    """``(message, code)`` from an upstream error body of any dialect, or of none."""
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, str):
            return error[:_MAX_MESSAGE], None
        if isinstance(error, dict):
            message = error.get("message")
            code = error.get("code") if isinstance(error.get("code"), str) else None
            code = code or next((error[k] for k in ("type", "status") if isinstance(error.get(k), str)), None)
            if isinstance(message, str) and message:
                return message[:_MAX_MESSAGE], code
    text = body.decode("utf-8", "replace").strip() if body else ""
    return (text[:_MAX_MESSAGE] or f"upstream returned HTTP {status}"), None


def translate_error(status: int, body: bytes, *, source: Dialect, target: Dialect) -> dict[str, Any]:
    """An upstream (``source``) error body as the caller's (``target``) error body; keeps the message."""
    try:
        message, code = read_error(status, body)
    except Exception:  # the body is garbage of a kind not foreseen: still answer
        message, code = f"upstream returned HTTP {status}", None
    return registry.wire(target).translation.error_body(status, message, code=code)


def stream_error_event(dialect: Dialect, status: int, message: str) -> bytes:
    """The event that makes the caller's SDK raise after a mid-stream failure.

    OpenAI: a ``data: {"error": {...}}`` line (openai-python's ``Stream`` raises ``APIError`` on a
    payload with an ``error`` key); Anthropic: ``event: error`` (the SDK raises an ``APIStatusError``);
    Gemini: a ``data: {"error": {"code", "message", "status"}}`` line (google-genai raises
    ``ClientError``/``ServerError`` on a chunk that starts with ``{"error":``).
    """
    return error_event(dialect, status, message).encode()


def error_event(dialect: Dialect, status: int, message: str) -> SSEEvent:
    """``stream_error_event`` as an event."""
    return registry.wire(dialect).translation.error_event(status, message)
