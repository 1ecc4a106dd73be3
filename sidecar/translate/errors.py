"""Reading an upstream's error, whatever its dialect (the facade's ``translate_error`` answers it in the
caller's; each dialect's error body is its ``*_response`` module's ``error_body``).

``read_error`` never raises: it takes whatever the upstream sent (JSON in any of the three shapes, a
JSON list as Gemini sometimes sends, HTML, nothing) and returns a message and a machine code.
``status_of`` turns an error object into an HTTP status, for errors that arrive inside a stream (after
the HTTP 200), by the sidecar's one table (``dialects.errors``).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..dialects.errors import status_of_error

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
