"""A batch span processor with a bounded queue that counts every span it loses.

``on_end`` hands each ended span record (``spans.SpanRecord``) to the exporter's ``prepare`` and
queues what it returns; the worker hands batches of those to the exporter's ``export``. For OTLP/HTTP
(``otlp_http``) ``prepare`` encodes the span to its protobuf bytes right there, on the event loop, and
``export`` only frames and sends them: records waiting in the queue kept the garbage collector busy,
and under load the event loop's CPU was no lower when the worker did the encoding (GIL hand-overs,
objects shared between threads; docs/observability.md, "Cost"). For the SDK's exporters (console,
gRPC; ``tracing.ReadableExporter``) ``prepare`` keeps the record and ``export`` renders it as a
``ReadableSpan`` in the worker.

Why not the SDK's ``BatchSpanProcessor``: it logs a warning per dropped span, does not count spans lost
to failed exports, and exposes its queue only through private attributes. This one keeps the same
model (a deque filled on ``on_end``, one daemon thread exporting batches every ``schedule_delay_s`` or
as soon as a batch is full) and adds:

- batches stay large under load: woken by a full batch, the worker sends full batches only and leaves
  the remainder for the schedule, so a busy sidecar does not degrade into many small requests (each
  costs the GIL-holding thread an HTTP round of Python work);

- ``dropped``: spans refused because the queue was full (or ``prepare`` raised, which is logged once),
  spans whose export failed or raised, and spans still queued when shutdown ran out of time. Each
  counter is written by one thread only (the first two by the event loop, the others by the worker),
  so no lock is taken on the request path.
- ``shutdown(timeout_s)``: a bounded wait, then the exporter's ``shutdown`` (which ends a retry wait:
  the SDK's exporters and ``otlp_http`` allow it while an export runs); the worker is a daemon thread
  and never holds up exit.

``on_end`` never blocks and never raises into the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.sdk.trace.export import SpanExportResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .config import BatchConfig
    from .spans import SpanRecord

_log = logging.getLogger(__name__)


class RecordExporter(Protocol):
    """What the processor exports to: ``prepare`` runs in ``on_end`` (must be quick), ``export`` in the
    worker, with a batch of what ``prepare`` returned."""

    def prepare(self, record: SpanRecord) -> Any: ...

    def export(self, items: Sequence[Any]) -> SpanExportResult: ...

    def shutdown(self) -> None: ...


class BoundedBatchSpanProcessor:
    def __init__(self, exporter: RecordExporter, config: BatchConfig) -> None:
        self._exporter = exporter
        self._max_queue = config.max_queue_size
        self._max_batch = config.max_export_batch_size
        self._delay_s = config.schedule_delay_s
        self._prepare = exporter.prepare
        self._queue: deque[Any] = deque()
        self._dropped_full = 0  # written by on_end's thread (the event loop) only
        self._dropped_unprepared = 0  # likewise
        self._dropped_export = 0  # written by whoever exports, under _export_lock
        self._stopping = False
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="sidecar-span-export", daemon=True)
        self._worker.start()

    @property
    def exporter(self) -> RecordExporter:
        return self._exporter

    @property
    def dropped(self) -> int:
        return self._dropped_full + self._dropped_unprepared + self._dropped_export

    def on_end(self, record: SpanRecord) -> None:
        queue = self._queue
        if self._stopping or len(queue) >= self._max_queue:
            self._dropped_full += 1
            return
        try:
            item = self._prepare(record)
        except Exception:  # a bug in encoding must not fail the request: count it, say it once
            if not self._dropped_unprepared:
                _log.exception("preparing a span for export raised; such spans are dropped and counted")
            self._dropped_unprepared += 1
            return
        queue.append(item)
        if len(queue) >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        delay_s = self._delay_s
        due = time.monotonic() + delay_s
        while not self._stopping:
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            if time.monotonic() >= due:
                self._export_all()
                due = time.monotonic() + delay_s
            else:  # woken by a full batch: send full batches only, the rest waits for its schedule
                self._export_all(full_only=True)
        self._export_all()

    def _export_all(self, *, full_only: bool = False) -> None:
        with self._export_lock:
            queue = self._queue
            max_batch = self._max_batch
            while len(queue) >= max_batch if full_only else queue:
                batch = [queue.popleft() for _ in range(min(max_batch, len(queue)))]
                try:
                    result = self._exporter.export(batch)
                except Exception:
                    _log.exception("span export raised")
                    result = SpanExportResult.FAILURE
                if result is not SpanExportResult.SUCCESS:
                    self._dropped_export += len(batch)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what is queued now, on the calling thread."""
        if not self._export_lock.acquire(timeout=timeout_millis / 1000):
            return False
        self._export_lock.release()
        self._export_all()
        return not self._queue

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Export what is queued within ``timeout_s``, then stop; spans left over count as dropped."""
        if self._stopping:
            return
        deadline = time.monotonic() + timeout_s
        self._stopping = True
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        if self._worker.is_alive():
            # An export is still running (a slow collector, or retries): count what is left, and let the
            # exporter's shutdown end its retry wait. The thread is a daemon and never holds up exit.
            self._dropped_export += len(self._queue)
            self._queue.clear()
        self._exporter.shutdown()
