"""stdout written off the event loop: a bounded buffer that one writer thread drains.

A container's stdout is a pipe read by the container runtime. When that reader stalls (a stuck log
driver, a node under disk pressure, a ``kubectl logs -f`` pipe nobody reads in a test), the pipe fills
and a plain ``write`` blocks. Written on the event loop, that froze the whole sidecar, health probes
included, until the kubelet restarted the pod. ``LogPipe`` is the stream every log line goes through
instead:

- ``write`` never blocks and never raises: it appends the bytes to an in-memory buffer, or drops them
  when ``max_bytes`` already wait (counted, per line);
- a daemon thread writes the buffer to the file descriptor, blocking there as long as the reader does;
- once the reader drains again, one ``log_lines_dropped`` warning line (``lines``: how many were lost
  since the last such line) is written before the lines that follow, so a gap in the logs is visible;
- ``count_drops_with(inc)`` hands every drop to a counter too (``llm_sidecar_log_lines_dropped_total``);
- ``close()`` writes what waits, for at most ``timeout_s``, when the server stops.

Lines are never split or interleaved: each ``write`` is one or more whole lines, kept or dropped whole.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

import orjson

DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # about 8,000 access lines: minutes of a busy pod's logs


class LogPipe:
    """A binary stream for log lines (``write``, ``flush``) whose writes never wait for the reader."""

    def __init__(self, fd: int, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._fd = fd
        self._max_bytes = max_bytes
        self._chunks: deque[bytes] = deque()
        self._waiting = 0  # bytes accepted and not yet written (the chunks and the write under way)
        self._dropped = 0  # lines dropped since the last log_lines_dropped line
        self.dropped_total = 0
        self._count: Callable[[tuple[()], int], None] | None = None
        self._closed = False
        self._ready = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._drain, name="sidecar-log-pipe", daemon=True)
        self._thread.start()

    def count_drops_with(self, inc: Callable[[tuple[()], int], None]) -> None:
        """Also count every dropped line with ``inc((), lines)`` (a label-less counter's ``inc``)."""
        self._count = inc

    def write(self, data: bytes) -> int:
        size = len(data)
        with self._ready:
            if self._waiting + size > self._max_bytes or self._closed:
                self._drop(data.count(b"\n") or 1)
                return size
            self._chunks.append(data)
            self._waiting += size
            self._ready.notify()
        return size

    def flush(self) -> None:
        """Nothing to do here: the writer thread writes as soon as lines arrive."""

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop taking lines; write the ones that wait, for at most ``timeout_s`` (the reader may be gone)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout_s)

    def _drain(self) -> None:
        while True:
            with self._ready:
                while not self._chunks and not self._closed:
                    self._ready.wait()
                if not self._chunks:
                    return  # closed, everything written
                data = b"".join(self._chunks)
                self._chunks.clear()
                dropped, self._dropped = self._dropped, 0
            self._write_all(_dropped_line(dropped) + data if dropped else data)
            with self._ready:
                self._waiting -= len(data)

    def _drop(self, lines: int) -> None:
        """Count ``lines`` dropped (the lock held)."""
        self._dropped += lines
        self.dropped_total += lines
        if self._count is not None:
            self._count((), lines)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError:  # the reader is gone for good (EPIPE, EBADF): these lines are lost
                with self._ready:
                    self._drop(data.count(b"\n"))
                return
            view = view[written:]


def _dropped_line(lines: int) -> bytes:
    event = {"event": "log_lines_dropped", "lines": lines, "component": "sidecar", "level": "warning"}
    event["ts"] = round(time.time(), 6)
    return orjson.dumps(event) + b"\n"
