"""Reading an upstream's error, whatever its dialect (the facade's ``translate_error`` answers it in the
caller's; each dialect's error body is its ``*_response`` module's ``error_body``).

``read_error`` never raises: it takes whatever the upstream sent (JSON in any of the three shapes, a
JSON list as Gemini sometimes sends, HTML, nothing) and returns a message and the condition the error
stands for (``dialects.errors.condition_of``: the one reading, which ``resilience.classify`` decides on
too), which the caller's dialect words in its provider's own type and code; ``error_code`` the upstream's
own code, for the access line.
``status_of`` turns an error object into an HTTP status, for errors that arrive inside a stream (after
the HTTP 200), by the sidecar's one table (``dialects.errors``). ``event_message`` is the message of such
an error event, None for one that cannot be decoded (not JSON, or no error message in it: then
``dialects.errors.undecodable_event`` words what happened).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.errors import ErrorCondition, ErrorInfo, condition_of, status_of_error

_MAX_MESSAGE = 2000


def status_of(error: Any, default: int = 500) -> int:
    """The HTTP status an error object stands for (``dialects.errors.status_of_error``), else ``default``."""
    if not isinstance(error, dict):
        return default
    return status_of_error(error) or default


def _parsed(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def error_code(body: bytes) -> str | None:
    """The upstream's own machine code in an error body or error event of any dialect (OpenAI's ``code``,
    else a ``type``, Anthropic's, else a ``status``, Gemini's), None when it names none: what the access
    line keeps (``upstream_error_code``) when the app gets the error in another provider's words."""
    info = ErrorInfo.of(_parsed(body))
    return next((name for name in (info.code, info.type, info.status) if name and not name.isdigit()), None)


def read_error(source: Dialect, status: int, body: bytes) -> tuple[str, ErrorCondition]:
    """``(message, condition)`` from a ``source`` upstream's error body of any dialect, or of none: the
    message ``ErrorInfo`` reads (the one reading ``condition_of`` decides on), else the body's text."""
    info = ErrorInfo.of(_parsed(body))
    condition = condition_of(source, status, info)
    if info.message:
        return info.message[:_MAX_MESSAGE], condition
    text = body.decode("utf-8", "replace").strip() if body else ""
    return (text[:_MAX_MESSAGE] or f"upstream returned HTTP {status}"), condition


def event_message(data: bytes) -> str | None:
    """The message of an upstream's error event inside a stream (its data: any dialect's error object),
    None when it names none (not JSON, no error message in it: ``undecodable_event``)."""
    message = ErrorInfo.of(_parsed(data)).message
    return message[:_MAX_MESSAGE] if message else None
