"""What telemetry costs per request on the event loop: ``python -m tests.telemetry.bench_cost``.

Not a test (timings vary by machine): it prints best-of-5 microseconds per call for the shapes the
pipeline produces, with no exporter, with tracing to an exporter that does nothing (the request-path
cost alone), with each span encoded for OTLP as it ends (what the OTLP/HTTP exporter adds to the
event loop), at 10% sampling, and with the console exporter (export work in the background thread
included, since it shares the GIL); then the OTLP encoding of a 512-span batch of those span records
by the official encoder (after rendering them as ReadableSpans) and by ``otlp_encode``.
docs/observability.md quotes its output.
"""

from __future__ import annotations

import io
import timeit
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SpanExportResult

from sidecar.telemetry import Telemetry, Usage
from sidecar.telemetry.batch import BoundedBatchSpanProcessor
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.otlp_encode import SpanEncoder
from sidecar.telemetry.readable import to_readable
from sidecar.telemetry.spans import LiteTracer, Sampler, SpanRecord
from sidecar.telemetry.tracing import Tracing, build_resource, instrumentation_scope
from sidecar.translate.common import RequestParams

from .helpers import Collect

HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-x"}
USAGE = Usage(input_tokens=120, output_tokens=40)


class _Null:
    def prepare(self, record: SpanRecord) -> SpanRecord:
        return record

    def export(self, spans: Sequence[SpanRecord]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class _EncodeOnly(_Null):
    """What the OTLP/HTTP exporter does on the event loop: encode each span as it ends."""

    def __init__(self) -> None:
        self._encoder = SpanEncoder()

    def prepare(self, record: SpanRecord) -> tuple[LiteTracer, bytes]:  # type: ignore[override]
        return self._encoder.span(record)


def _null_traced(sampler: str, ratio: float, exporter: _Null | None = None) -> Telemetry:
    config = TelemetryConfig()
    processor = BoundedBatchSpanProcessor(exporter or _Null(), config.batch)
    tracer = LiteTracer(build_resource(config, "bench"), instrumentation_scope(), Sampler(sampler, ratio), [processor])
    return Telemetry(config, service_version="bench", tracing=Tracing(tracer, [processor]))


def _start_finish(telemetry: Telemetry) -> None:
    trace = telemetry.start_request(
        method="POST",
        path="/v1/chat/completions",
        headers=HEADERS,
        dialect="openai",
        operation="chat",
        requested_model="gpt-4o",
        stream=False,
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


def _full(telemetry: Telemetry) -> None:
    trace = telemetry.start_request(
        method="POST",
        path="/v1/chat/completions",
        headers=HEADERS,
        dialect="openai",
        operation="chat",
        requested_model="gpt-4o",
        stream=False,
    )
    trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
    call = trace.attempt(
        target="openai/gpt-4o",
        provider="openai",
        provider_name="openai",
        request_model="gpt-4o",
        server_address="api.openai.com",
        server_port=443,
        resend_count=0,
        breaker_state="closed",
        request_params=RequestParams(max_tokens=256, temperature=0.2),
    )
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


def _best_us(function: Callable[[], None], number: int = 20_000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    console = io.StringIO()
    setups = {
        "no exporter (default)": Telemetry.from_env({}, service_version="bench"),
        "traced, exporter that does nothing": _null_traced("parentbased_always_on", 1.0),
        "traced, OTLP encoding, no sending": _null_traced("parentbased_always_on", 1.0, _EncodeOnly()),
        "traced, 10% sampled": _null_traced("parentbased_traceidratio", 0.1),
        "traced, console exporter": Telemetry.from_env(
            {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none"},
            service_version="b",
            console=console,
        ),
    }
    print(f"{'setup':38} {'start+finish':>14} {'+ route, 1 attempt':>20}")
    for name, telemetry in setups.items():
        short = _best_us(lambda t=telemetry: _start_finish(t))
        full = _best_us(lambda t=telemetry: _full(t))
        print(f"{name:38} {short:11.2f} us {full:17.2f} us")
        console.seek(0)
        console.truncate()
    telemetry = setups["no exporter (default)"]
    trace = telemetry.start_request(
        method="POST",
        path="/v1/chat/completions",
        headers={},
        dialect="openai",
        operation="chat",
        requested_model="m",
        stream=True,
    )
    call = trace.attempt(
        target="t",
        provider="p",
        provider_name="openai",
        request_model="m",
        server_address="h",
        server_port=443,
        resend_count=0,
        breaker_state="closed",
    )
    call.first_chunk()
    print(f"{'one stream chunk (chunk())':38} {_best_us(call.chunk, 200_000):11.2f} us")
    print(f"{'GET /metrics render (after the above)':38} {_best_us(telemetry.metrics_text, 200):11.2f} us")
    sink = Collect()
    config = TelemetryConfig()
    tracer = LiteTracer(build_resource(config, "bench"), instrumentation_scope(), Sampler("always_on"), [sink])
    traced = Telemetry(config, service_version="bench", tracing=Tracing(tracer, []))
    for _ in range(256):
        _full(traced)
    records = sink.records  # 512 span records (12 and 14 attributes): one full export batch
    official = _best_us(lambda: encode_spans([to_readable(r) for r in records]).SerializePartialToString(), 20) / len(
        records
    )
    encoder = SpanEncoder()
    ours = _best_us(lambda: encoder.encode(records), 20) / len(records)
    print(f"{'OTLP export encoding per span, official':38} {official:11.2f} us  (to_readable, encode_spans, serialize)")
    print(f"{'OTLP export encoding per span, ours':38} {ours:11.2f} us  ({official / ours:.1f}x less)")


if __name__ == "__main__":
    main()
