"""CPU instructions of the telemetry facade per request, and of the SDK pieces it stands on, by valgrind.

Where bench/instructions.py counts a whole proxied request, this counts the telemetry calls alone, so
that what tracing adds can be split between the sidecar's own code and the OpenTelemetry SDK's. Each
case runs this script again under ``valgrind --tool=cachegrind --cache-sim=no`` (every thread
counted) twice, with ``--few`` and ``--many`` repetitions; the difference of the totals divided by the
difference of the counts is one repetition's cost, start-up cancelled out.

    python bench/tracing_instructions.py [--few 1000] [--many 3000] [--cases off,unsampled,...] [--baseline REF]

``--baseline REF``: every case again with the ``sidecar`` package of git revision ``REF`` (extracted and
compiled to bytecode, ``sidecar_under_test.checkout``) first on ``PYTHONPATH``, in the same run: the
bench's own code (this script, ``telemetry_cost.py``) is this checkout's for both.

Cases (``request-*``: one request with one upstream attempt driven through the facade as the pipeline
drives it, ``bench/telemetry_cost.py``'s ``one_request``, each in an event-loop step of its own on uvloop so
that what ``finish`` leaves to ``core.HeldWork`` is counted (where held, it runs at the next request's
attempt); spans go to the SDK's batch processor with an exporter that does nothing, so the export thread's
OTLP encoding is not in these):

- ``request-off``: no exporter (metrics only); ``request-unsampled``: ``parentbased_traceidratio`` at
  0, every request left out by the sampler; ``request-app-unsampled``: the app's ``traceparent`` marked
  not sampled (flag 00), the default sampler; ``request-app-sampled``: the same marked sampled (flag 01),
  every request recorded, continuing the app's trace; ``request-invalid-unsampled``: an invalid ``traceparent``
  (an all-zero trace id) under ``parentbased_traceidratio`` at 0, a new trace the sampler leaves out;
  ``request-10%``: ratio 0.1; ``request-all``: the default sampler, every request recorded;
  ``request-all-on-loop``: the same, its spans ended into a span processor that does nothing (no batch
  processor: its worker thread, counted with ``request-all``, moves that count by thousands of instructions
  from one run to the next; this one is the event loop's work alone: not batched, so what a request leaves
  runs once its loop step is over); ``request-all-held``: the same into a ``CountedBatchSpanProcessor`` whose
  ``on_end`` does nothing (batched: what a request leaves is held until the next request's attempt is sent,
  ``core.HeldWork``; its worker thread finds nothing to export). ``request-off-until-answer``,
  ``request-all-until-answer``: the same requests without their two ``finish`` calls, i.e. the facade's work
  before the answer is written
  (``finish`` adds a few timings and one loop callback before it; the rest, ending the spans and the
  metric updates, follows the answer: ``sidecar/telemetry/core.py``). Their spans are never ended.
- SDK pieces, one call each: ``sdk-start-unsampled`` (``Tracer.start_span`` of a root span the sampler
  drops; ``start-root-unsampled``: what the sidecar calls instead, ``Tracing.start_root``: the sampler
  asked first, then only the ``traceparent`` text; ``dropped-root``: what the sidecar calls first for
  a ratio sampler since wave 21, ``Tracing.dropped_root``, the decision on the trace id alone),
  ``sdk-inject`` (the W3C propagator writing
  ``traceparent``), ``sdk-context`` (``set_span_in_context``), ``sdk-encode-span`` (the SDK's OTLP
  encoder, per span of a 512-span batch of these requests' spans, serialised: the export thread's work);
  ``export-encode-span``: the same spans as ``CountedBatchSpanProcessor`` hands them to its exporter
  (``tracing.lean_for_export``: plain attribute dicts, events and links as tuples);
  ``export-gzip-span``: that batch's serialised request gzipped, per span, as the SDK's OTLP/HTTP
  client does with ``OTEL_EXPORTER_OTLP_COMPRESSION=gzip`` (``gzip.GzipFile``, its default level 9:
  ``_OTLPHTTPClient._compress`` in ``opentelemetry.exporter.otlp.common.http``, 0.66b2): what turning
  compression on adds to the export thread; ``export-message-span``: ``encode_spans`` alone (the
  protobuf messages built, not serialised); ``export-post-span``: the export thread's whole work, the
  OTLP/HTTP exporter the sidecar builds (``export.span_exporter``) encoding, serialising and posting
  the batch in the sidecar's default batches of 128 to a sink in another process; ``export-post512-span``:
  the same in one batch of 512. The protobuf runtime is the one the environment selects
  (``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION``, passed on to the counted runs: ``upb`` by default,
  ``python`` for protobuf's pure-Python one).
- ``sdk-request-spans``: the two spans of a ``request-all`` request (names, kinds, parent, attributes
  with sequences as lists, as the sidecar passes them) made by the SDK alone, per request: the SERVER
  span started with the attributes the sidecar starts it with and given the others at its end, the
  CLIENT span in one ``start_span`` with explicit times, into the SDK's own ``BatchSpanProcessor`` (the
  sidecar's batch settings) with an exporter that does nothing. ``request-all`` less ``request-off``
  less this is the sidecar's own part of a sampled request's work on the event loop.
  ``sdk-request-spans-at-end``: the same two spans with the SERVER span made at its end, as the sidecar makes
  it since wave 45 (``sidecar/telemetry/server_span.py``): the ids drawn first, a non-recording span of them the
  CLIENT span's parent, then one ``start_span`` with every attribute and the start time, and ``end``.
- ``server-span``: a new trace's SERVER span as the sidecar makes it (``Tracing.start_root``: a ``ServerSpan``
  since wave 45), put in a context, its ids read, given the attributes a request learns and ended, into a
  span processor that does nothing; ``sdk-server-span``: the same span in the SDK's one ``start_span`` with
  every attribute and its start time, and ``end``. The difference is ``ServerSpan``'s own cost.

Needs ``apt-get install valgrind``. Instructions are not time; they are what the shared machine's load
does not blur.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from instructions import instruction_total

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.tracing import Tracing

BENCH = Path(__file__).resolve().parent
CASES = (
    "request-off",
    "request-unsampled",
    "request-app-unsampled",
    "request-app-sampled",
    "request-invalid-unsampled",
    "request-10%",
    "request-all",
    "request-all-on-loop",
    "request-all-held",
    "request-off-until-answer",
    "request-all-until-answer",
    "sdk-start-unsampled",
    "start-root-unsampled",
    "dropped-root",
    "sdk-inject",
    "sdk-context",
    "sdk-encode-span",
    "export-encode-span",
    "export-gzip-span",
    "export-message-span",
    "export-post-span",
    "export-post512-span",
    "sdk-request-spans",
    "sdk-request-spans-at-end",
    "server-span",
    "sdk-server-span",
)
# A traceparent the W3C rules refuse (an all-zero trace id): a new trace, as without one.
INVALID_TRACEPARENT = f"00-{'0' * 32}-00f067aa0ba902b7-01"
_SPANS_PER_ENCODE = 512
_VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def _request_case(case: str) -> Callable[[int], None]:
    import uvloop
    from telemetry_cost import APP_UNSAMPLED, HEADERS, null_traced, one_request, start_attempt, start_trace

    from sidecar.telemetry import Telemetry

    def until_answer(telemetry: Telemetry, headers: dict[str, str]) -> None:
        trace = start_trace(telemetry, headers=headers)
        with trace:
            trace.route_decided(route="default", targets=["openai/gpt-4o", "anthropic/claude"])
            start_attempt(trace).inject({})

    invalid = {**HEADERS, "traceparent": INVALID_TRACEPARENT}
    sampled = {**HEADERS, "traceparent": APP_UNSAMPLED["traceparent"].removesuffix("-00") + "-01"}
    headers = {
        "request-app-unsampled": APP_UNSAMPLED,
        "request-app-sampled": sampled,
        "request-invalid-unsampled": invalid,
    }.get(case, HEADERS)
    body = until_answer if case.endswith("-until-answer") else one_request
    case = case.removesuffix("-until-answer")
    telemetry = {
        "request-off": lambda: Telemetry.from_env({}, service_version="bench"),
        "request-unsampled": lambda: null_traced("parentbased_traceidratio", 0.0),
        "request-app-unsampled": lambda: null_traced("parentbased_always_on"),
        "request-app-sampled": lambda: null_traced("parentbased_always_on"),
        "request-invalid-unsampled": lambda: null_traced("parentbased_traceidratio", 0.0),
        "request-10%": lambda: null_traced("parentbased_traceidratio", 0.1),
        "request-all": lambda: null_traced("parentbased_always_on"),
        "request-all-on-loop": _on_loop_traced,
        "request-all-held": _held_traced,
    }[case]()

    async def steps(n: int) -> None:
        for _ in range(n):
            body(telemetry, headers)
            await asyncio.sleep(0)

    def run(n: int) -> None:
        loop = uvloop.new_event_loop()
        loop.run_until_complete(steps(n))
        loop.close()

    return run


def _on_loop_traced() -> Telemetry:
    """``request-all-on-loop``: the default sampler, spans ended into a processor that does nothing."""
    from opentelemetry.sdk.trace import SpanProcessor

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.tracing import Tracing

    def tracing(resource: Resource, _: object) -> Tracing:
        return Tracing.new("parentbased_always_on", 1.0, resource, [SpanProcessor()])

    return Telemetry(TelemetryConfig(), service_version="b", tracing=tracing)


def _held_traced() -> Telemetry:
    """``request-all-held``: the default sampler, spans ended into a batch processor that keeps none."""
    from telemetry_cost import Null

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.tracing import CountedBatchSpanProcessor, Tracing

    class Keeping(CountedBatchSpanProcessor):
        def on_end(self, span: object) -> None:
            pass

    config = TelemetryConfig()

    def tracing(resource: Resource, on_drop: Callable[[int], None]) -> Tracing:
        return Tracing.new("parentbased_always_on", 1.0, resource, [Keeping(Null(), config.batch, on_drop)])

    return Telemetry(config, service_version="b", tracing=tracing)


def _sdk_case(case: str) -> Callable[[int], None]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.trace import SpanKind, set_span_in_context
    from telemetry_cost import null_traced

    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.propagation import ROOT, inject

    if case in ("server-span", "sdk-server-span"):
        return _server_span(sdk=case.startswith("sdk-"))
    if case in ("export-post-span", "export-post512-span"):
        return _posted(512 if case == "export-post512-span" else TelemetryConfig().batch.max_export_batch_size)
    if case in ("sdk-request-spans", "sdk-request-spans-at-end"):
        return _sdk_request_spans(at_end=case.endswith("-at-end"))
    if case in ("sdk-encode-span", "export-encode-span", "export-gzip-span", "export-message-span"):
        batch = _request_spans(lean=case != "sdk-encode-span")
        if case == "export-gzip-span":
            return _gzip(encode_spans(batch).SerializeToString())
        if case == "export-message-span":

            def messages(n: int) -> None:
                for _ in range(n // _SPANS_PER_ENCODE):
                    encode_spans(batch)

            return messages

        def encode(n: int) -> None:
            for _ in range(n // _SPANS_PER_ENCODE):
                encode_spans(batch).SerializeToString()

        return encode
    traced = null_traced("parentbased_traceidratio", 0.0)
    tracer, tracing = traced._core.tracer, traced._tracing
    assert tracer is not None and tracing is not None
    attributes = {"http.request.method": "POST", "http.route": "/v1/chat/completions", "sidecar.dialect": "openai"}
    span = tracer.start_span("POST /v1/chat/completions", ROOT, SpanKind.SERVER, attributes)
    context = set_span_in_context(span)

    def start(n: int) -> None:
        for _ in range(n):
            tracer.start_span("POST /v1/chat/completions", ROOT, SpanKind.SERVER, attributes)

    def start_root(n: int) -> None:
        for _ in range(n):
            tracing.start_root("POST /v1/chat/completions", SpanKind.SERVER, attributes)

    def dropped_root(n: int) -> None:
        for _ in range(n):
            tracing.dropped_root()

    def propagate(n: int) -> None:
        for _ in range(n):
            inject(context, {})

    def in_context(n: int) -> None:
        for _ in range(n):
            set_span_in_context(span)

    cases = {"sdk-start-unsampled": start, "start-root-unsampled": start_root, "dropped-root": dropped_root}
    return {**cases, "sdk-inject": propagate, "sdk-context": in_context}[case]


def _request_spans(*, lean: bool) -> Sequence[ReadableSpan]:
    """``_SPANS_PER_ENCODE`` spans of the facade's traced requests (``one_request``), as the batch processor
    hands them to its exporter (``lean_for_export``) if ``lean``, else as the SDK ends them."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from telemetry_cost import one_request

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.tracing import Tracing, lean_for_export

    spans = InMemorySpanExporter()
    traced = Telemetry(
        TelemetryConfig(), service_version="b", tracing=lambda resource, _: Tracing.for_tests(spans, resource)
    )
    for _ in range(_SPANS_PER_ENCODE // 2):
        one_request(traced)
    batch = spans.get_finished_spans()
    if lean:
        for span in batch:
            lean_for_export(span)
    return batch


def _posted(batch_size: int) -> Callable[[int], None]:
    """``export-post-span``/``export-post512-span``: the export thread's whole work on a batch of the
    requests' spans, as ``CountedBatchSpanProcessor`` hands them (``lean_for_export``), in batches of the
    sidecar's default size (128) or of 512: the OTLP/HTTP exporter ``export.span_exporter`` builds (the
    SDK's, on the lean transport) encodes, serialises and posts each to a sink in another process (a
    stdlib HTTP server answering 200, not counted: valgrind does not follow it)."""
    import atexit

    from sidecar.telemetry.config import OtlpTarget
    from sidecar.telemetry.export import span_exporter

    sink = subprocess.Popen([sys.executable, str(BENCH / "tracing_memory.py"), "--sink"], stdout=subprocess.PIPE)
    atexit.register(sink.terminate)
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    batch = _request_spans(lean=True)
    target = OtlpTarget(
        protocol="http/protobuf", endpoint=f"http://127.0.0.1:{port}/v1/traces", headers={}, timeout_s=10
    )
    exporter = span_exporter("otlp", target, sys.stderr)
    exporter.export(batch[:1])  # the connection opened

    def post(n: int) -> None:
        for _ in range(n // _SPANS_PER_ENCODE):
            for start in range(0, len(batch), batch_size):
                exporter.export(batch[start : start + batch_size])

    return post


def _gzip(body: bytes) -> Callable[[int], None]:
    """``export-gzip-span``: ``body`` (a serialised batch of ``_SPANS_PER_ENCODE`` spans) compressed as the
    SDK's OTLP/HTTP client compresses it, once per batch."""
    import gzip
    import io

    def compress(n: int) -> None:
        for _ in range(n // _SPANS_PER_ENCODE):
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="w") as gz:
                gz.write(body)

    return compress


def _server_span(*, sdk: bool) -> Callable[[int], None]:
    """``server-span`` and ``sdk-server-span`` (module docstring): a SERVER span of ``request-all``'s
    attributes, those a request starts with and those it learns."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import SpanKind, set_span_in_context

    from sidecar.telemetry.propagation import ROOT
    from sidecar.telemetry.tracing import Tracing

    tracing = Tracing.new("parentbased_always_on", 1.0, Resource({"service.name": "b"}), [SpanProcessor()])
    tracer = tracing.tracer
    name = "POST /v1/chat/completions"
    at_start = {"http.request.method": "POST", "http.route": "/v1/chat/completions", "sidecar.dialect": "openai"}
    learnt = {
        "sidecar.request.model": "gpt-4o",
        "sidecar.route": "default",
        "sidecar.route.targets": ["openai/gpt-4o", "anthropic/claude"],
        "http.response.status_code": 200,
        "sidecar.outcome": "ok",
        "sidecar.served_model": "gpt-4o",
        "sidecar.cost_usd": 0.0004,
    }

    def sidecar_span(n: int) -> None:
        for _ in range(n):
            span = tracing.start_root(name, SpanKind.SERVER, dict(at_start))
            assert not isinstance(span, dict)
            set_span_in_context(span)
            span.get_span_context()
            span.set_attributes(dict(learnt))
            span.end()

    def sdk_span(n: int) -> None:
        for _ in range(n):
            span = tracer.start_span(name, ROOT, SpanKind.SERVER, {**at_start, **learnt}, start_time=1)
            set_span_in_context(span)
            span.get_span_context()
            span.end()

    return sdk_span if sdk else sidecar_span


def _sdk_request_spans(*, at_end: bool = False) -> Callable[[int], None]:
    """``sdk-request-spans`` (module docstring): the spans of one traced request, captured, then made again
    by ``Tracer.start_span`` alone per repetition. ``at_end`` (``sdk-request-spans-at-end``): the SERVER
    span made at its end instead, in one ``start_span`` with all its attributes and its start time, on ids
    drawn at the start (a non-recording span of those ids the CLIENT span's parent), as the CLIENT span is
    made."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context
    from telemetry_cost import Null, one_request

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.propagation import ROOT
    from sidecar.telemetry.resource import process_resource
    from sidecar.telemetry.tracing import Tracing

    captured = InMemorySpanExporter()
    config = TelemetryConfig()
    traced = Telemetry(config, service_version="b", tracing=lambda resource, _: Tracing.for_tests(captured, resource))
    one_request(traced)
    spans = {span.kind: span for span in captured.get_finished_spans()}

    def as_passed(attributes: object) -> dict[str, object]:  # sequences as the sidecar passes them: lists
        return {key: list(value) if type(value) is tuple else value for key, value in dict(attributes).items()}  # type: ignore[call-overload]

    server, client = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    started_with = ("http.request.method", "http.route", "sidecar.dialect", "sidecar.request.model")
    server_attributes = as_passed(server.attributes)
    at_start = {key: server_attributes.pop(key) for key in started_with}
    client_attributes = as_passed(client.attributes)
    batch = config.batch
    processor = BatchSpanProcessor(
        Null(),
        max_queue_size=batch.max_queue_size,
        schedule_delay_millis=batch.schedule_delay_s * 1000,
        max_export_batch_size=batch.max_export_batch_size,
    )
    tracing = Tracing.new("parentbased_always_on", 1.0, process_resource(config, "b"), [processor])
    tracer = tracing.tracer
    start, end = client.start_time, client.end_time

    def spans_of_a_request(n: int) -> None:
        for _ in range(n):
            span = tracer.start_span(server.name, ROOT, SpanKind.SERVER, at_start)
            parent = set_span_in_context(span)
            tracer.start_span(client.name, parent, SpanKind.CLIENT, client_attributes, start_time=start).end(end)
            span.set_attributes(server_attributes)
            span.end(end)

    ids = tracing.ids
    all_server_attributes = {**at_start, **server_attributes}
    flags = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)

    def spans_made_at_end(n: int) -> None:
        for _ in range(n):
            trace_id, span_id = ids.generate_trace_id(), ids.generate_span_id()
            parent = set_span_in_context(NonRecordingSpan(SpanContext(trace_id, span_id, False, flags)))
            tracer.start_span(client.name, parent, SpanKind.CLIENT, client_attributes, start_time=start).end(end)
            ids.decided, ids.decided_span = trace_id, span_id
            tracer.start_span(server.name, ROOT, SpanKind.SERVER, all_server_attributes, start_time=start).end(end)

    return spans_made_at_end if at_end else spans_of_a_request


def _instructions(case: str, n: int, code: Path | None = None) -> int:
    """Total instructions of this script running ``case`` ``n`` times under valgrind (``code``: the
    directory holding the ``sidecar`` package to run, first on the path; None: this checkout's)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(code), env.get("PYTHONPATH"))))
    out = subprocess.run(
        [*_VALGRIND, sys.executable, __file__, "--run", case, "--n", str(n)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return instruction_total(out.stderr, f"{case}: valgrind's output")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=1000)
    parser.add_argument("--many", type=int, default=3000)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--baseline", help="also count every case with this git revision's package")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # inside valgrind: run one case
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    if args.run:
        (_request_case if args.run.startswith("request-") else _sdk_case)(args.run)(args.n)
        return 0
    codes: list[Path | None] = [None]
    if args.baseline:
        from sidecar_under_test import checkout

        codes.append(checkout(args.baseline, Path(tempfile.mkdtemp(prefix="tracing-instructions-"))))
    baseline = f" --baseline {args.baseline}" if args.baseline else ""
    print(
        f"Command: `python bench/tracing_instructions.py --few {args.few} --many {args.many} --cases {args.cases}"
        f"{baseline}`"
    )
    if args.baseline:
        print(f"\n| case | instructions per call | {args.baseline} | change |\n|---|---|---|---|")
    else:
        print("\n| case | instructions per call |\n|---|---|")
    for case in args.cases.split(","):
        # The encoder: one batch against three (a batch is some 200 million instructions).
        encode = case.startswith("export-") or case == "sdk-encode-span"
        few, many = (_SPANS_PER_ENCODE, 3 * _SPANS_PER_ENCODE) if encode else (args.few, args.many)
        counts = [(_instructions(case, many, code) - _instructions(case, few, code)) / (many - few) for code in codes]
        cells = " | ".join(f"{count:,.0f}" for count in counts)
        change = f" | {counts[0] - counts[1]:+,.0f}" if len(counts) > 1 else ""
        print(f"| {case} | {cells}{change} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
