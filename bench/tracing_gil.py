"""The GIL between the event loop and the span export thread, by switch interval: what the loop waits while
the export thread encodes.

The OTLP exporter's thread (the SDK's ``BatchSpanProcessor`` worker) encodes a batch of spans in
Python and protobuf's upb, holding the GIL. The event loop gives the GIL up at every turn (uvloop runs
libuv without it and takes it back for each callback), and a thread that wants the GIL back waits until
the holder gives it up, at most ``sys.getswitchinterval()`` (5 ms by default) before CPython makes it.
This bench measures that wait, in one process, for each interval given:

- the export thread encodes batches of ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``'s default (128) spans of a
  traced request (``telemetry_cost.one_request``'s two spans, as ``CountedBatchSpanProcessor`` hands
  them over: ``tracing.lean_for_export``) with the SDK's encoder, and serialises them, busy ``--duty`` of
  the time (it sleeps between batches; 1.0: back to back);
- the event loop (uvloop) plays a proxy at one connection: it sends a byte to an echo in another process
  (on another CPU with ``--pin``, as wrk and nginx are in ``tracing_cost.py --pin``), waits for it
  without the GIL (the loop's poll), then runs an untraced request's telemetry (``one_request``, no
  exporter) as a request's own work; one such round trip after another, each timed.

Printed per interval: round trips per second, their median, 99th percentile and maximum, the share over
1 ms, and the export thread's batches per second; first a run without the export thread. Wall time on
a shared machine: read the intervals against each other within one run, with the load.

    python bench/tracing_gil.py [--seconds 3] [--duty 0.3] [--intervals 0.0005,0.005,0.05] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BATCH = 128


def _batch() -> list[object]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from telemetry_cost import one_request

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.tracing import Tracing, lean_for_export

    spans = InMemorySpanExporter()
    traced = Telemetry(
        TelemetryConfig(), service_version="b", tracing=lambda resource, _: Tracing.for_tests(spans, resource)
    )
    for _ in range(BATCH // 2):
        one_request(traced)
    batch = list(spans.get_finished_spans())
    for span in batch:
        lean_for_export(span)
    return batch


def _exporter(batch: list[object], duty: float, stop: threading.Event, done: list[int]) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    while not stop.is_set():
        started = time.perf_counter()
        encode_spans(batch).SerializeToString()  # type: ignore[arg-type]
        done[0] += 1
        if duty < 1.0:
            stop.wait((time.perf_counter() - started) * (1 - duty) / duty)


_ECHO = "import os, sys\nfd = int(sys.argv[1])\nwhile b := os.read(fd, 1):\n    os.write(fd, b)\n"


def _round_trips(step: Callable[[], None], seconds: float, echo_cpu: int | None) -> list[float]:
    """Each round trip's time: a byte to the echo process and back through the loop, then ``step``."""
    import uvloop

    ours, theirs = socket.socketpair()
    command = [sys.executable, "-c", _ECHO, str(theirs.fileno())]
    if echo_cpu is not None:
        command = ["taskset", "-c", str(echo_cpu), *command]
    echo = subprocess.Popen(command, pass_fds=(theirs.fileno(),))
    theirs.close()
    ours.setblocking(False)
    times: list[float] = []

    async def trips() -> None:
        loop = asyncio.get_running_loop()
        end = time.perf_counter() + seconds
        while (started := time.perf_counter()) < end:
            await loop.sock_sendall(ours, b"x")
            await loop.sock_recv(ours, 1)
            step()
            times.append(time.perf_counter() - started)

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(trips())
    finally:
        loop.close()
        ours.close()
        echo.wait(timeout=10)
    return times


def _row(name: str, times: list[float], seconds: float, batches: int | None) -> str:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99)]
    late = sum(1 for one in times if one > 0.001) / len(times)
    exported = "" if batches is None else f"{batches / seconds:,.0f}"
    return (
        f"| {name} | {len(times) / seconds:,.0f} | {statistics.median(times) * 1e3:.3f} | {p99 * 1e3:.3f} "
        f"| {max(times) * 1e3:.2f} | {late:.2%} | {exported} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--duty", type=float, default=0.3, help="share of the time the export thread encodes")
    parser.add_argument("--intervals", default="0.0005,0.005,0.05", help="sys.setswitchinterval values, seconds")
    parser.add_argument("--pin", action="store_true", help="this process on CPU 0, the echo on CPU 1")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    if args.pin:
        os.sched_setaffinity(0, {0})
    echo_cpu = 1 if args.pin else None
    from telemetry_cost import one_request

    from sidecar.telemetry import Telemetry

    untraced = Telemetry.from_env({}, service_version="bench")
    batch = _batch()
    print(
        f"Command: `python bench/tracing_gil.py --seconds {args.seconds} --duty {args.duty} "
        f"--intervals {args.intervals}{' --pin' if args.pin else ''}` ({time.strftime('%Y-%m-%d %H:%M')})\n"
    )
    print("| switch interval | round trips/s | p50 (ms) | p99 (ms) | max (ms) | over 1 ms | export batches/s |")
    print("|---|---|---|---|---|---|---|")
    step = lambda: one_request(untraced)  # noqa: E731
    print(_row("no export thread", _round_trips(step, args.seconds, echo_cpu), args.seconds, None), flush=True)
    default = sys.getswitchinterval()
    for interval in (float(value) for value in args.intervals.split(",")):
        sys.setswitchinterval(interval)
        stop, done = threading.Event(), [0]
        worker = threading.Thread(target=_exporter, args=(batch, args.duty, stop, done))
        worker.start()
        try:
            times = _round_trips(step, args.seconds, echo_cpu)
        finally:
            stop.set()
            worker.join()
            sys.setswitchinterval(default)
        print(_row(f"{interval * 1e3:g} ms", times, args.seconds, done[0]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
