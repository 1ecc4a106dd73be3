"""What telemetry costs per request on the calling thread: ``python bench/telemetry_cost.py``.

Prints best-of-5 microseconds per call of the facade, driven as the pipeline drives it (a request with
its route, one upstream attempt with two request parameters, ``inject``, usage and cost; each request
in an event-loop step of its own on uvloop, so the work ``finish`` leaves until the step is over is
counted, less the cost of an empty step), for: no
exporter (metrics only); tracing configured but the sampler says no; the app's trace not sampled
(``traceparent`` flag 00, the default parent-based sampler follows it); one request in ten traced
(``parentbased_traceidratio``, 0.1); every request traced (the default sampler, no ``traceparent``)
into the SDK's batch processor whose exporter does nothing (the request path and the batch processor); the same with
the console exporter (the export thread's work shares the GIL, so it is counted); the metrics push on
as well (histogram observations also recorded by the OTel SDK). Then one stream chunk, a ``/metrics``
render, and the SDK's OTLP encoding of one of these spans (what the OTLP exporter's thread does).
"""

from __future__ import annotations

import asyncio
import io
import timeit
from collections.abc import Callable, Sequence
from time import perf_counter

import uvloop
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.telemetry import AttemptTrace, RequestTrace, Telemetry, Usage
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.tracing import CountedBatchSpanProcessor, Tracing
from sidecar.translate.common import RequestParams

HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-x"}
USAGE = Usage(input_tokens=120, output_tokens=40)


class Null(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


APP_UNSAMPLED = {**HEADERS, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}


def start_trace(telemetry: Telemetry, *, stream: bool = False, headers: dict[str, str] = HEADERS) -> RequestTrace:
    """A chat request's trace started, as the pipeline starts it."""
    return telemetry.start_request(
        method="POST",
        path="/v1/chat/completions",
        headers=headers,
        dialect="openai",
        operation="chat",
        requested_model="gpt-4o",
        stream=stream,
    )


def start_attempt(trace: RequestTrace) -> AttemptTrace:
    """One upstream attempt's trace started under ``trace``."""
    return trace.attempt(
        target="openai/gpt-4o",
        provider="openai",
        provider_name="openai",
        request_model="gpt-4o",
        server_address="api.openai.com",
        server_port=443,
        resend_count=0,
        breaker_state="closed",
        request_params=RequestParams(max_tokens=256, temperature=0.2) if trace.span is not None else None,
    )


def one_request(telemetry: Telemetry, headers: dict[str, str] = HEADERS) -> None:
    """A whole request's telemetry, as the pipeline drives it: started, routed, one attempt, finished."""
    trace = start_trace(telemetry, headers=headers)
    with trace:
        trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
        call = start_attempt(trace)
        call.inject({})
        call.finish(
            status=200,
            error_type=None,
            response_model="gpt-4o-2024-08-06",
            response_id="chatcmpl-1",
            finish_reasons=["stop"],
            usage=USAGE,
        )
    trace.finish(
        status=200,
        outcome="ok",
        route="default",
        served_model="gpt-4o",
        provider="openai",
        attempts=1,
        fallback_reason=None,
        usage=USAGE,
        cost_usd=0.0004,
        error_type=None,
        streamed=False,
    )


def _best_us(function: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


async def _steps(function: Callable[[], object], number: int) -> float:
    """Seconds for ``number`` calls, each in an event-loop step of its own as the server makes them, so
    that the work ``finish`` leaves until the step is over (``core.HeldWork``, not batched) is done and counted."""
    started = perf_counter()
    for _ in range(number):
        function()
        await asyncio.sleep(0)
    return perf_counter() - started


def _best_us_in_loop(function: Callable[[], object], number: int = 20_000) -> float:
    """Best of 5 microseconds per call on uvloop, less the cost of an empty step."""
    loop = uvloop.new_event_loop()
    try:
        empty = min(loop.run_until_complete(_steps(_nothing, number)) for _ in range(5))
        spent = min(loop.run_until_complete(_steps(function, number)) for _ in range(5))
    finally:
        loop.close()
    return (spent - empty) / number * 1e6


def _nothing() -> None:
    pass


def null_traced(sampler_name: str, ratio: float = 1.0) -> Telemetry:
    """Spans into the SDK's batch processor (as configured by default) whose exporter does nothing."""
    config = TelemetryConfig()

    def tracing(resource: Resource, on_drop: Callable[[int], None]) -> Tracing:
        return Tracing.new(sampler_name, ratio, resource, [CountedBatchSpanProcessor(Null(), config.batch, on_drop)])

    return Telemetry(config, service_version="bench", tracing=tracing)


def main() -> None:
    console = io.StringIO()
    setups: dict[str, tuple[Telemetry, dict[str, str]]] = {
        "no exporter (default): metrics only": (Telemetry.from_env({}, service_version="bench"), HEADERS),
        "traced, sampler says no": (null_traced("always_off"), HEADERS),
        "traced, app trace not sampled (flag 00)": (null_traced("parentbased_always_on"), APP_UNSAMPLED),
        "traced at 10%, exporter does nothing": (null_traced("parentbased_traceidratio", 0.1), HEADERS),
        "traced (default sampler), exporter does nothing": (null_traced("parentbased_always_on"), HEADERS),
        "traced (default sampler), console export": (
            Telemetry.from_env({"OTEL_TRACES_EXPORTER": "console"}, service_version="bench", console=console),
            HEADERS,
        ),
        "no tracing, metrics pushed too": (
            Telemetry.from_env({"OTEL_METRICS_EXPORTER": "console"}, service_version="bench", console=console),
            HEADERS,
        ),
    }
    print(f"{'setup':48} {'request, 1 attempt':>20}")
    for name, (telemetry, headers) in setups.items():

        def request(telemetry: Telemetry = telemetry, headers: dict[str, str] = headers) -> None:
            one_request(telemetry, headers)

        print(f"{name:48} {_best_us_in_loop(request):17.2f} us")
        console.seek(0)
        console.truncate()
    telemetry = setups["no exporter (default): metrics only"][0]
    call = start_attempt(start_trace(telemetry, stream=True))
    call.first_chunk()
    print(f"{'one stream chunk (chunk())':48} {_best_us(call.chunk, 200_000):17.2f} us")
    print(f"{'GET /metrics render (after the above)':48} {_best_us(telemetry.metrics_text, 200):17.2f} us")
    spans = InMemorySpanExporter()
    config = TelemetryConfig()
    traced = Telemetry(config, service_version="b", tracing=lambda resource, _: Tracing.for_tests(spans, resource))
    for _ in range(256):
        one_request(traced)
    finished = spans.get_finished_spans()  # 512 spans: one full export batch
    encode = _best_us(lambda: encode_spans(finished).SerializeToString(), 20) / len(finished)
    print(f"{'OTLP encoding per span (the SDK encoder)':48} {encode:17.2f} us")


if __name__ == "__main__":
    main()
