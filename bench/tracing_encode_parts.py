"""CPU instructions of the SDK's OTLP span encoder per span, by what the span holds: the export thread's map.

A sampled request's two spans cost the export thread about 740,000 instructions ("Wave 31 `trace31`"), nearly
all of it the SDK's encoder (``encode_spans`` and the request's serialisation). This bench says what that
scales with: each case encodes a batch of 512 made-up spans (the sidecar's resource and scope; ids, a parent,
times, an unset status) holding one thing more than a bare span, once and three times under ``valgrind
--tool=cachegrind --cache-sim=no``; the difference over 1,024 spans is one span's cost.

    python bench/tracing_encode_parts.py [--cases bare,str,...] [--count 10]

Cases (``--count`` of each, default 10): ``bare`` (no attribute, no event), ``no-parent`` (bare, a root
span); attributes: ``str``, ``int``, ``big-int`` (over 32 bits), ``float``, ``bool``, ``tuple1``/``list1``
(an array of one string, as the SDK's cleaning holds it and as a list), ``tuple2``/``list2`` (two strings);
events of two string attributes: ``event`` (a plain dict) and ``sdk-event`` (the SDK's ``BoundedAttributes``,
as ``Span.add_event`` holds them). A case's cost less ``bare``'s, divided by ``--count``, is one of them.

Needs ``apt-get install valgrind``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CASES = ("bare", "no-parent", "str", "int", "big-int", "float", "bool", "tuple1", "list1", "tuple2", "list2")
EVENTS = ("event", "sdk-event")
_BATCH = 512
_VALUES: dict[str, object] = {
    "str": "openai/gpt-4o",
    "int": 443,
    "big-int": 1 << 40,
    "float": 0.2,
    "bool": True,
    "tuple1": ("stop",),
    "list1": ["stop"],
    "tuple2": ("openai/gpt-4o", "anthropic/claude"),
    "list2": ["openai/gpt-4o", "anthropic/claude"],
}


def _encode(case: str, count: int, batches: int) -> None:
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    from sidecar.telemetry.genai import SCHEMA_URL

    resource = Resource(
        {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.2",
            "service.version": "b",
            "service.name": "llm-sidecar",
        }
    )
    scope = InstrumentationScope("llm-sidecar", "b", SCHEMA_URL)
    value = _VALUES.get(case)
    attributes = {} if value is None else {f"sidecar.attribute.{i}": value for i in range(count)}
    two = {"sidecar.target": "openai/gpt-4o", "sidecar.skip.reason": "breaker_open"}
    events: tuple[Event, ...] = ()
    if case == "event":
        events = tuple(Event("sidecar.target.skipped", dict(two), timestamp=1) for _ in range(count))
    elif case == "sdk-event":
        held = [BoundedAttributes(128, two, immutable=True) for _ in range(count)]
        events = tuple(Event("sidecar.target.skipped", attributes, timestamp=1) for attributes in held)
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    parent = None if case == "no-parent" else SpanContext(trace_id, 0x00F067AA0BA90200, False, TraceFlags(1))
    batch = [
        ReadableSpan(
            name="chat gpt-4o",
            context=SpanContext(trace_id, 0x00F067AA0BA902B7 + i, False, TraceFlags(1)),
            parent=parent,
            resource=resource,
            attributes=dict(attributes),
            events=events,
            links=(),
            kind=SpanKind.CLIENT,
            status=Status(StatusCode.UNSET),
            start_time=1,
            end_time=2,
            instrumentation_scope=scope,
        )
        for i in range(_BATCH)
    ]
    for _ in range(batches):
        encode_spans(batch).SerializeToString()


def _instructions(case: str, count: int, batches: int) -> int:
    from instructions import instruction_total

    out = subprocess.run(
        [
            *("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"),
            *(sys.executable, __file__, "--run", case, "--count", str(count), "--batches", str(batches)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return instruction_total(out.stderr, f"{case}: valgrind's output")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default=",".join((*CASES, *EVENTS)))
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--run", help=argparse.SUPPRESS)  # inside valgrind: encode one case
    parser.add_argument("--batches", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    if args.run:
        _encode(args.run, args.count, args.batches)
        return 0
    print(f"Command: `python bench/tracing_encode_parts.py --cases {args.cases} --count {args.count}`\n")
    print("| case | instructions per span | per attribute or event over `bare` |\n|---|---|---|")
    bare = None
    for case in args.cases.split(","):
        per_span = (_instructions(case, args.count, 3) - _instructions(case, args.count, 1)) / (2 * _BATCH)
        if case == "bare":
            bare = per_span
        each = "" if bare is None or case in ("bare", "no-parent") else f"{(per_span - bare) / args.count:,.0f}"
        print(f"| {case} | {per_span:,.0f} | {each} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
