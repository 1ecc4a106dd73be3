"""Structured logs: one JSON object per line on stdout, rendered by orjson.

``configure_logging(level)`` runs once at startup; the per-call path is structlog's cached bound
logger plus four processors: level filter (compiled into the logger), timestamp, trace ids of the
current OpenTelemetry span (so a line links to its trace), and a guard that blanks any field whose
name says it holds a secret. The request path writes exactly one line per request (``access``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import trace

_SECRET_FIELDS = frozenset({"authorization", "api_key", "x-api-key", "api-key", "x-goog-api-key", "key", "token"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _timestamp(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["ts"] = round(time.time(), 6)
    return event


def _trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if "trace_id" not in event:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event["trace_id"] = format(context.trace_id, "032x")
            event["span_id"] = format(context.span_id, "016x")
    return event


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in _SECRET_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def _render(_: Any, __: str, event: MutableMapping[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE, default=str)


def configure_logging(level: str = "info", stream: Any = None, *, cache: bool = True) -> None:
    """Route every structlog logger to JSON lines on ``stream`` (stdout) at ``level`` and above.

    ``cache=False`` lets a later call re-route loggers already used (tests); the server caches.
    """
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _timestamp,
            _trace_ids,
            _redact,
            _render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.BytesLoggerFactory(stream or sys.stdout.buffer),
        cache_logger_on_first_use=cache,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(component=name)  # lazy: picks up configure_logging called later
