"""The bounded batch span processor: export off the request path, every lost span counted, bounded stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from sidecar.telemetry import Telemetry
from sidecar.telemetry.batch import BoundedBatchSpanProcessor
from sidecar.telemetry.config import BatchConfig, TelemetryConfig
from sidecar.telemetry.spans import LiteTracer, Sampler, SpanRecord
from sidecar.telemetry.tracing import Tracing, build_resource

from .helpers import finish, record_names, span_records, start, value


class Recording:
    """Collects exported spans (and batch sizes); can be made to block, fail or raise."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS, *, raises: bool = False) -> None:
        self.spans: list[SpanRecord] = []
        self.batches: list[int] = []
        self.result = result
        self.raises = raises
        self.raises_in_prepare = False
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.shut_down = False

    def prepare(self, record: SpanRecord) -> SpanRecord:
        if self.raises_in_prepare:
            raise RuntimeError("encoder bug")
        return record

    def export(self, spans: Sequence[SpanRecord]) -> SpanExportResult:
        self.entered.set()
        self.gate.wait()
        if self.raises:
            raise RuntimeError("collector exploded")
        self.spans.extend(spans)
        self.batches.append(len(spans))
        return self.result

    def shutdown(self) -> None:
        self.shut_down = True


def _span(n: int = 1) -> SpanRecord:
    return span_records(1, first=n)[0]


def _config(queue: int = 8, batch: int = 4, delay_s: float = 0.01) -> BatchConfig:
    return BatchConfig(max_queue_size=queue, schedule_delay_s=delay_s, max_export_batch_size=batch)


def test_spans_are_exported_in_the_background() -> None:
    """Ended spans reach the exporter from the worker thread, none dropped."""
    exporter = Recording()
    processor = BoundedBatchSpanProcessor(exporter, _config())
    for n in range(1, 6):
        processor.on_end(_span(n))
    processor.shutdown(timeout_s=2)
    assert record_names(exporter.spans) == [f"POST /r{n}" for n in range(1, 6)]
    assert processor.dropped == 0


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    """With the exporter stuck, on_end returns at once and counts every span beyond the queue size."""
    exporter = Recording()
    exporter.gate.clear()
    processor = BoundedBatchSpanProcessor(exporter, _config(queue=4, batch=2, delay_s=60))
    processor.on_end(_span(1))
    processor.on_end(_span(2))
    assert exporter.entered.wait(2)  # a full batch woke the worker: it holds spans 1-2 inside export
    started = time.perf_counter()
    for n in range(3, 13):
        processor.on_end(_span(n))
    assert time.perf_counter() - started < 0.05
    assert processor.dropped == 6  # 3..6 queued, 7..12 dropped
    exporter.gate.set()
    processor.shutdown(timeout_s=2)
    assert len(exporter.spans) == 6 and processor.dropped == 6


@pytest.mark.parametrize("raises", [False, True])
def test_failed_exports_count_as_dropped(raises: bool) -> None:
    """An export that fails (or raises) counts its batch as dropped."""
    exporter = Recording(SpanExportResult.FAILURE, raises=raises)
    processor = BoundedBatchSpanProcessor(exporter, _config())
    for n in range(1, 4):
        processor.on_end(_span(n))
    processor.shutdown(timeout_s=2)
    assert processor.dropped == 3


def test_shutdown_is_bounded_when_the_exporter_hangs() -> None:
    """shutdown returns within its timeout though an export never finishes; queued spans count as dropped."""
    exporter = Recording()
    exporter.gate.clear()
    processor = BoundedBatchSpanProcessor(exporter, _config(queue=8, batch=1, delay_s=60))
    processor.on_end(_span(1))
    assert exporter.entered.wait(2)
    processor.on_end(_span(2))
    started = time.perf_counter()
    processor.shutdown(timeout_s=0.2)
    assert time.perf_counter() - started < 1
    assert processor.dropped == 1
    exporter.gate.set()


def test_a_full_batch_is_sent_at_once_and_the_rest_waits_for_the_schedule() -> None:
    """Woken by a full batch, the worker sends full batches only: no trail of small requests under load."""
    exporter = Recording()
    processor = BoundedBatchSpanProcessor(exporter, _config(queue=16, batch=4, delay_s=60))
    for n in range(1, 11):
        processor.on_end(_span(n))
    deadline = time.monotonic() + 2
    while sum(exporter.batches) < 8 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    assert exporter.batches == [4, 4]  # spans 9-10 wait for the schedule (or shutdown)
    processor.shutdown(timeout_s=2)
    assert exporter.batches == [4, 4, 2]
    assert record_names(exporter.spans) == [f"POST /r{n}" for n in range(1, 11)]


def test_the_schedule_sends_a_partial_batch() -> None:
    """Fewer spans than a batch go out when the schedule delay has passed."""
    exporter = Recording()
    processor = BoundedBatchSpanProcessor(exporter, _config(queue=16, batch=4, delay_s=0.05))
    processor.on_end(_span(1))
    deadline = time.monotonic() + 2
    while not exporter.batches and time.monotonic() < deadline:
        time.sleep(0.005)
    assert exporter.batches == [1]
    processor.shutdown(timeout_s=2)


def test_shutdown_stops_the_exporter_even_while_an_export_hangs() -> None:
    """At the deadline the exporter's shutdown is still called, so that it can end a retry wait."""
    exporter = Recording()
    exporter.gate.clear()
    processor = BoundedBatchSpanProcessor(exporter, _config(queue=8, batch=1, delay_s=60))
    processor.on_end(_span(1))
    assert exporter.entered.wait(2)
    processor.shutdown(timeout_s=0.1)
    assert exporter.shut_down
    exporter.gate.set()


def test_a_span_that_cannot_be_prepared_is_dropped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """prepare raising (an encoder bug) never reaches the request: the span is counted, logged once."""
    exporter = Recording()
    exporter.raises_in_prepare = True
    processor = BoundedBatchSpanProcessor(exporter, _config())
    processor.on_end(_span(1))
    processor.on_end(_span(2))
    processor.shutdown(timeout_s=2)
    assert processor.dropped == 2 and exporter.spans == []
    assert [r.getMessage() for r in caplog.records].count(
        "preparing a span for export raised; such spans are dropped and counted"
    ) == 1


async def test_dropped_spans_show_in_metrics() -> None:
    """llm_sidecar_spans_dropped_total reports the processors' count on /metrics."""
    exporter = Recording(SpanExportResult.FAILURE)
    config = TelemetryConfig()
    processor = BoundedBatchSpanProcessor(exporter, _config())
    tracer = LiteTracer(build_resource(config, "t"), _scope(), Sampler("always_on"), [processor])
    telemetry = Telemetry(config, service_version="t", tracing=Tracing(tracer, [processor]))
    finish(start(telemetry))
    finish(start(telemetry))
    await telemetry.shutdown(timeout_s=2)
    assert value(telemetry, "llm_sidecar_spans_dropped_total") == 2


def _scope() -> InstrumentationScope:
    return InstrumentationScope("test")
