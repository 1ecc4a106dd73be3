"""``core.HeldWork``: where spans are exported in batches, what a finished recorded trace leaves (its spans,
its metrics) runs once the next upstream call is sent, after a fallback delay, or when something reads it."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.telemetry import Telemetry
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.core import FALLBACK_S, HeldWork
from sidecar.telemetry.tracing import CountedBatchSpanProcessor, Tracing

from .helpers import attempt, finish, start, value


class _Handed(CountedBatchSpanProcessor):
    """The sidecar's batch processor, noting the name and kind of each span as it is handed in (``on_end``)."""

    def __init__(self) -> None:
        super().__init__(InMemorySpanExporter(), TelemetryConfig().batch, lambda dropped: None)
        self.handed: list[tuple[str, str]] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.handed.append((span.name, span.kind.name))
        super().on_end(span)


@pytest.fixture
async def batched() -> AsyncIterator[tuple[Telemetry, _Handed]]:
    processor = _Handed()
    telemetry = Telemetry(
        TelemetryConfig(),
        service_version="test",
        tracing=lambda resource, _: Tracing.new("parentbased_always_on", 1.0, resource, [processor]),
    )
    yield telemetry, processor
    await telemetry.shutdown()


FIRST = [("chat gpt-4o", "CLIENT"), ("POST /v1/chat/completions", "SERVER")]


def _one_request(telemetry: Telemetry) -> None:
    trace = start(telemetry)
    call = attempt(trace)
    call.finish(status=200, error_type=None, keep=True)  # the server's own calls: released by the request's end
    finish(trace)


async def test_a_finished_trace_waits_for_the_next_upstream_call_to_be_sent(
    batched: tuple[Telemetry, _Handed],
) -> None:
    """Spans exported in batches: a finished request's CLIENT and SERVER spans are made, in that order, two
    loop steps after the next upstream call starts (the step that sends it, and aiohttp's body write)."""
    telemetry, processor = batched
    _one_request(telemetry)
    await asyncio.sleep(0)
    assert processor.handed == []
    attempt(start(telemetry))
    await asyncio.sleep(0)
    assert processor.handed == []
    await asyncio.sleep(0)
    assert processor.handed == FIRST


async def test_a_finished_trace_with_no_upstream_call_after_it_ends_after_the_fallback(
    batched: tuple[Telemetry, _Handed],
) -> None:
    """Spans exported in batches and no upstream call after the request: its spans are made once the
    fallback delay is over, in order."""
    telemetry, processor = batched
    _one_request(telemetry)
    await asyncio.sleep(0)
    assert processor.handed == []
    await asyncio.sleep(FALLBACK_S * 2)
    assert processor.handed == FIRST


async def test_metrics_text_counts_what_finished_traces_hold(batched: tuple[Telemetry, _Handed]) -> None:
    """``/metrics`` read right after a request (its work held) counts that request."""
    telemetry, processor = batched
    _one_request(telemetry)
    labels = {"route": "default", "served_model": "gpt-4o", "outcome": "ok", "status_class": "2xx"}
    assert value(telemetry, "llm_sidecar_requests_total", **labels) == 1
    assert processor.handed == FIRST


async def test_shutdown_exports_the_spans_finished_traces_hold() -> None:
    """Shutdown right after a request (its spans held) exports them."""
    exporter = InMemorySpanExporter()
    config = TelemetryConfig()
    telemetry = Telemetry(
        config,
        service_version="test",
        tracing=lambda resource, on_drop: Tracing.new(
            "parentbased_always_on", 1.0, resource, [CountedBatchSpanProcessor(exporter, config.batch, on_drop)]
        ),
    )
    _one_request(telemetry)
    await telemetry.shutdown()
    assert [(span.name, span.kind.name) for span in exporter.get_finished_spans()] == FIRST


async def test_held_work_runs_in_the_context_it_was_held_from() -> None:
    """Held work sees the context of its ``hold`` (a log line's or an exemplar's span), not the runner's."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
    held, seen = HeldWork(batched=True), []
    request_id.set("first")
    held.hold(lambda: seen.append(request_id.get()))
    request_id.set("second")
    held.run()
    assert seen == ["first"]
