"""Structured logs: one JSON object per line on stdout, rendered by orjson.

``configure_logging(level)`` runs once at startup (and routes the standard library's ``logging`` records,
warnings and up, to the same JSON lines: ``_StdlibLines``, all but the OpenTelemetry API's warnings of an
app's malformed trace context headers, one a request that carries one); the per-call path is structlog's
cached bound logger plus four processors: level filter (compiled into the logger), timestamp, trace ids of the
current sampled OpenTelemetry span (so a line links to its trace), and a guard that blanks any field whose
name says it holds a secret. The request path writes exactly one line per request (``access``), rendered
directly by ``server.access`` into a ``LineBuffer`` on the same stream: flushed every 50 ms or 64 KiB, so a
busy sidecar makes one write for many requests instead of one per request. On stdout the stream is a
``log_pipe.LogPipe``: a stalled reader of the container's logs costs lines (counted), never the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast

import orjson
import structlog

from .log_pipe import LogPipe
from .propagation import current_trace_ids

_SECRET_FIELDS = frozenset({"authorization", "api_key", "x-api-key", "api-key", "x-goog-api-key", "key", "token"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LineSink(Protocol):
    """Where rendered lines go: stdout's ``LogPipe``, or any binary stream given (tests)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def _timestamp(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["ts"] = round(time.time(), 6)
    return event


def _trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if "trace_id" not in event:
        trace_id, span_id = current_trace_ids()
        if trace_id:
            event["trace_id"], event["span_id"] = trace_id, span_id
    return event


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in _SECRET_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def _render(_: Any, __: str, event: MutableMapping[str, Any]) -> bytes:
    return orjson.dumps(event, default=str)  # BytesLogger ends the line


def _component(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["component"] = event["_record"].name  # a standard-library record: its logger's name
    return event


# The OpenTelemetry API's loggers that warn of nothing but an app's trace context headers as the SDK reads them
# (a ``traceparent`` or ``tracestate`` over its length bound, a ``tracestate`` entry out of the W3C format, more
# than 32 entries): one warning for every request that carries one, holding what the app sent. The SDK then
# leaves the header out, as W3C Trace Context has a participant do; the sidecar writes no line of it.
_APP_TRACE_CONTEXT_LOGGERS = frozenset({"opentelemetry.trace.span", "opentelemetry.trace.propagation.tracecontext"})


def _not_of_app_trace_context(record: logging.LogRecord) -> bool:
    return record.name not in _APP_TRACE_CONTEXT_LOGGERS


class _StdlibLines(logging.Handler):
    """Records of the standard library's ``logging`` (libraries, and the few modules of ours that use it)
    written as the same JSON lines as structlog's, on the same stream, through structlog's
    ``ProcessorFormatter``: ``event`` is the record's message, ``component`` its logger's name, and an
    exception is the ``exception`` field (its traceback). Not the SDK's warnings of an app's trace context
    headers (``_APP_TRACE_CONTEXT_LOGGERS``)."""

    def __init__(self, stream: LineSink, level: int) -> None:
        super().__init__(level)
        self.stream = stream
        self.addFilter(_not_of_app_trace_context)
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[_component, structlog.stdlib.add_log_level, _timestamp, _trace_ids],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _redact,
                    lambda _, __, event: orjson.dumps(event, default=str).decode(),
                ],
            )
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record).encode() + b"\n")
            self.stream.flush()
        except Exception:
            self.handleError(record)


@dataclass(frozen=True, slots=True)
class LogOutput:
    """Where log lines go and from which level: what ``configure_logging`` set up."""

    stream: LineSink
    level: int

    def enabled(self, level: int) -> bool:
        return level >= self.level

    def count_drops_with(self, inc: Callable[[tuple[()], int], None]) -> None:
        """stdout's dropped lines also counted by ``inc`` (``llm_sidecar_log_lines_dropped_total``)."""
        if isinstance(self.stream, LogPipe):
            self.stream.count_drops_with(inc)

    @property
    def lines_dropped(self) -> int:
        """stdout's lines dropped since start, its reader stalled (``LogPipe``; ``/status``)."""
        return self.stream.dropped_total if isinstance(self.stream, LogPipe) else 0

    def close(self) -> None:
        """At shutdown: stdout's lines that wait are written (for at most a second)."""
        if isinstance(self.stream, LogPipe):
            self.stream.close()


def configure_logging(level: str = "info", stream: Any = None, *, cache: bool = True) -> LogOutput:
    """Route every structlog logger to JSON lines on ``stream`` (stdout) at ``level`` and above.

    ``cache=False`` lets a later call re-route loggers already used (tests); the server caches.
    """
    if stream is None:
        stream = _stdout()
    output = LogOutput(stream, _LEVELS[level.lower()])
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _timestamp,
            _trace_ids,
            _redact,
            _render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.BytesLoggerFactory(cast(BinaryIO, output.stream)),
        cache_logger_on_first_use=cache,
    )
    root = logging.getLogger()  # the standard library's records (warnings and up: the root's level)
    for handler in [h for h in root.handlers if isinstance(h, _StdlibLines)]:
        root.removeHandler(handler)  # configured again (tests): the new stream replaces the old
    root.addHandler(_StdlibLines(output.stream, output.level))
    return output


def _stdout() -> LineSink:
    """stdout's file descriptor behind a ``LogPipe``; its buffer as it is where it has none."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream
        return sys.stdout.buffer
    return LogPipe(fd)


def get_logger(name: str) -> Any:
    return structlog.get_logger(component=name)  # lazy: picks up configure_logging called later


class LineBuffer:
    """Lines collected and written to a stream in one call: when ``max_bytes`` pile up, or ``interval_s``
    after the first unflushed line (on the running event loop), and on ``flush()``."""

    def __init__(self, stream: LineSink, *, interval_s: float = 0.05, max_bytes: int = 65536) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self._max_bytes:
            self.flush()
        elif self._timer is None:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._timer = self._loop.call_later(self._interval_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines.clear()
        self._size = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):  # stdout closed or full: losing log lines must not fail requests
            pass
