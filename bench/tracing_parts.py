"""Where tracing's cost goes: req/s of the sidecar with tracing cut short at each stage, in one run.

Variants, all with the same chain policy and nginx as the upstream and OTLP collector:

- ``off``: no exporter (the default);
- ``unsampled``: tracing configured, the sampler says no (``always_off``): trace context is still
  made and propagated upstream, nothing is recorded;
- ``sampled-10%``: one request in ten traced and exported (``parentbased_traceidratio``, 0.1: the
  documented setting for busy sidecars);
- ``records``: every request recorded as span records, which are dropped when they end (the batch
  processor's ``on_end`` does nothing): the request path's own cost;
- ``no-encoding``: as ``on``, but each span is "encoded" to empty bytes: what queueing, the export
  thread and the collector cost beside encoding;
- ``on``: every request traced and exported (what ``proxy_bench.py`` calls ``sidecar-tracing``).

The stages are cut by a ``sitecustomize`` module written to a temporary directory and put on the
sidecars' ``PYTHONPATH`` (benchmark only: it replaces ``BoundedBatchSpanProcessor.on_end`` or
the ``span`` a ``SpanEncoder`` is given). wrk loads each sidecar in turn for ``--seconds`` at 32 connections, for
``--rounds`` rounds (in an order that changes every round: ``proxy_bench.in_turn``); printed: each
round's req/s as a ratio to ``off`` in the same round, and the median ratio per variant.

    python bench/tracing_parts.py [--seconds 5] [--rounds 8] [--variants off,unsampled,records,no-encoding,on]
    python bench/tracing_parts.py --instructions     # valgrind instruction counts instead (little noise)

Needs `apt-get install nginx-light wrk` (and valgrind for ``--instructions``, counted as
``instructions.py`` counts: 1,200 minus 200 sequential requests, divided by 1,000).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructions import count
from proxy_bench import (
    chat_script,
    free_port,
    in_turn,
    sidecar_command,
    sidecar_policy,
    start_nginx,
    start_sidecar,
    tools_present,
    wrk,
)

SHIM = """
import os
cut = os.environ.get("SIDECAR_BENCH_CUT", "")
if cut == "records":
    from sidecar.telemetry import batch
    batch.BoundedBatchSpanProcessor.on_end = lambda self, record: None
elif cut == "no-encoding":
    from sidecar.telemetry import otlp_encode
    encoder_init = otlp_encode.SpanEncoder.__init__
    def nothing_encoder_init(self, **options):
        encoder_init(self, **options)
        self.span = lambda record: (record.tracer, b"")
    otlp_encode.SpanEncoder.__init__ = nothing_encoder_init
"""


def variants(workdir: Path, collector: str, chosen: list[str]) -> dict[str, dict[str, str]]:
    """The environment of each chosen variant, in the order given (``off`` must be first: the others'
    numbers are given relative to it)."""
    shim = workdir / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    traced = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "PYTHONPATH": str(shim)}
    every = {
        "off": {"PYTHONPATH": str(shim)},
        "unsampled": {**traced, "OTEL_TRACES_SAMPLER": "always_off"},
        "sampled-10%": {**traced, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
        "records": {**traced, "SIDECAR_BENCH_CUT": "records"},
        "no-encoding": {**traced, "SIDECAR_BENCH_CUT": "no-encoding"},
        "on": traced,
    }
    if chosen[0] != "off" or not set(chosen) <= every.keys():
        raise SystemExit(f"--variants: off first, then any of {', '.join(every)}")
    return {name: every[name] for name in chosen}


def instruction_counts(chosen: list[str]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-tracing-parts-"))
    upstream = free_port()
    nginx = start_nginx(workdir, upstream)
    try:
        time.sleep(0.3)
        print(
            f"Command: `python bench/tracing_parts.py --instructions --variants {','.join(chosen)}` "
            f"({time.strftime('%Y-%m-%d %H:%M')})\n"
        )
        print("| variant | instructions per request | over off |")
        print("|---|---|---|")
        off = 0.0
        for name, env in variants(workdir, f"http://127.0.0.1:{upstream}", chosen).items():
            port = free_port()
            command, full_env = sidecar_command(sidecar_policy(workdir, upstream, "chain"), port, env)
            per = (
                count(command, port, "/readyz", 1200, full_env, workdir)
                - count(command, port, "/readyz", 200, full_env, workdir)
            ) / 1000
            off = off or per
            print(f"| {name} | {per:,.0f} | {per - off:+,.0f} |", flush=True)
    finally:
        nginx.terminate()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--variants", default="off,unsampled,records,no-encoding,on", help="which, off first")
    args = parser.parse_args()
    chosen = args.variants.split(",")
    if not tools_present("nginx", "valgrind" if args.instructions else "wrk"):
        return 2
    if args.instructions:
        return instruction_counts(chosen)
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-tracing-parts-"))
    script = chat_script(workdir)
    upstream = free_port()
    procs: list[subprocess.Popen[bytes]] = [start_nginx(workdir, upstream)]
    try:
        time.sleep(0.3)
        ports: dict[str, int] = {}
        for name, env in variants(workdir, f"http://127.0.0.1:{upstream}", chosen).items():
            port = free_port()
            proc, _ = start_sidecar(sidecar_policy(workdir, upstream, "chain"), port, env)
            procs.append(proc)
            ports[name] = port
            wrk(f"http://127.0.0.1:{port}/v1/chat/completions", 32, 2, script)  # warm up
        print(
            f"Command: `python bench/tracing_parts.py --seconds {args.seconds} --rounds {args.rounds} "
            f"--variants {args.variants}` "
            f"({time.strftime('%Y-%m-%d %H:%M')})\n"
        )
        ratios: dict[str, list[float]] = {name: [] for name in ports}
        for round_number in range(1, args.rounds + 1):
            rps = {
                name: wrk(f"http://127.0.0.1:{port}/v1/chat/completions", 32, args.seconds, script)["rps"]
                for name, port in in_turn(list(ports.items()), round_number - 1)
            }
            for name in ports:
                ratios[name].append(rps[name] / rps["off"])
            print(f"round {round_number}: " + ", ".join(f"{name} {rps[name]:,.0f}" for name in ports), flush=True)
        print("\n| variant | median req/s ratio to off, same round | fewer req/s |")
        print("|---|---|---|")
        for name, values in ratios.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.3f} (rounds {min(values):.2f}-{max(values):.2f}) | {1 - median:.1%} |")
    finally:
        for proc in reversed(procs):  # the sidecars first, while their collector still answers
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
