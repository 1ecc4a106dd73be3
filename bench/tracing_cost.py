"""What tracing costs the proxy, in one run: req/s, CPU per request on the event loop, p50 at one connection
and peak memory, tracing off against on at 10% and at the default sampling (every request).

Variants, all with the same chain policy and nginx as the upstream and the OTLP collector (which
discards each export in C, so that a collector's CPU is not taken from the sidecars):

- ``off``: no exporter (the default);
- ``10%`` (any ``N%``): traces exported over OTLP/HTTP, ``parentbased_traceidratio`` at N/100;
- ``default``: traces exported, the default sampler ``parentbased_always_on``: wrk sends no
  ``traceparent``, so every request is traced (the same as 100%);
- ``unsampled`` (only when named): tracing configured, the sampler says no: the trace context is made
  and passed upstream, nothing is recorded;
- ``app-unsampled`` (only when named): the default sampler, and wrk sends a ``traceparent`` whose
  sampled flag is off (an app that samples its own traces and left this one out): the sidecar
  follows the app, records nothing and passes the app's context upstream;
- ``otlp-metrics`` (only when named): no traces, the metrics pushed over OTLP as well.

The tracing variants keep metrics on ``/metrics`` only (``OTEL_METRICS_EXPORTER=prometheus``), so they
measure tracing alone. With ``--baseline DIR`` every variant also runs from another checkout (its
``.venv/bin/python``, e.g. the code before a change; one with ``--ports-file``, 92b4fef or later: every
sidecar listens on port 0), named ``base:VARIANT``; all sidecars run at once
and are measured in interleaved rounds (in an order that changes every round, a variant's two
checkouts next to each other), so the shared machine's noise falls on all alike. Per round and
sidecar: req/s at 32 connections (wrk, ``--seconds``) with the CPU time each thread used meanwhile
(/proc) and the event loop's thread's time asleep (neither on a CPU nor waiting for one,
``/proc/PID/task/PID/schedstat``) and its voluntary switches: at 32 connections the loop always has work,
so what it sleeps beyond ``off`` it waits for the GIL (the export thread's); then p50 at one connection.
Printed: medians, and the ratio of
each to ``off`` of the same checkout within each round (median over rounds); peak RSS (VmHWM) at the end.

    python bench/tracing_cost.py [--seconds 5] [--rounds 6] [--variants off,10%,default] [--baseline DIR] [--pin]

``--pin`` puts every sidecar (all its threads) on CPU 0 and nginx and wrk on CPU 1. Unpinned, the
scheduler's placement of each process on this 2-core machine differs from one sidecar to the next and
stays: in one run two sidecars running the same untraced code had p50s of 0.17 and 0.30 ms at one
connection, more than the differences measured.

Needs `apt-get install nginx-light wrk`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from listening import port_zero, start_with_ports_file
from measuring import chat_script, in_turn, peak_rss_mb, tools_present, wrk
from measuring import wait_http as wait_ready
from nginx_upstream import nginx_running
from sidecar_under_test import sidecar_policy
from thread_cpu import TICKS_PER_S, thread_cpu

_TRACES = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "SINK", "OTEL_METRICS_EXPORTER": "prometheus"}
VARIANTS: dict[str, dict[str, str]] = {
    "off": {},
    "unsampled": {**_TRACES, "OTEL_TRACES_SAMPLER": "always_off"},
    "default": _TRACES,
    "app-unsampled": _TRACES,
    # OTEL_TRACES_EXPORTER=none: an endpoint alone would turn traces on too (docs/observability.md).
    "otlp-metrics": {
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "SINK",
    },
}
# Request headers of a variant, beside those of the chat request.
APP_HEADERS: dict[str, dict[str, str]] = {
    "app-unsampled": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
}


@dataclass
class Sidecar:
    name: str
    checkout: str  # "" for this one, "base" for --baseline
    variant: str
    proc: subprocess.Popen[bytes]
    port: int
    script: Path
    rps: list[float] = field(default_factory=list)
    loop_us: list[float] = field(default_factory=list)  # CPU per request of the event loop's thread
    on_cpu_us: list[float] = field(default_factory=list)  # the same by schedstat (ns, not 10 ms ticks)
    total_us: list[float] = field(default_factory=list)  # of every thread
    asleep_us: list[float] = field(
        default_factory=list
    )  # per request, the event loop's thread neither ran nor waited to
    sleeps: list[float] = field(default_factory=list)  # per request, the times it went to sleep (voluntary switches)
    p50: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


def variant_env(variant: str) -> dict[str, str]:
    if variant.endswith("%") and variant not in VARIANTS:
        ratio = str(float(variant.removesuffix("%")) / 100)
        return {**_TRACES, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": ratio}
    return VARIANTS[variant]


def start(
    python: str, cwd: Path, policy: Path, ports: Path, env_extra: dict[str, str], sink: str, cpu: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """A sidecar from ``python``'s checkout on port 0 (the port it got read from ``ports``); on CPU ``cpu``
    alone (all its threads) if given. The process and its port."""
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "info"}
    env.update({k: (sink if v == "SINK" else v) for k, v in env_extra.items()})
    command = [python, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    proc, port = start_with_ports_file(command, ports, 30, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=30)
    return proc, port


def variant_script(workdir: Path, variant: str) -> Path:
    """The wrk script of a variant: the chat request, with the variant's extra headers."""
    script = chat_script(workdir)
    headers = APP_HEADERS.get(variant)
    if not headers:
        return script
    extra = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items())
    own = workdir / f"post-{variant}.lua"
    own.write_text(script.read_text() + extra)
    return own


def loop_sched(pid: int) -> tuple[int, int, int]:
    """The event loop's thread (the main one) so far: ns on a CPU, ns waiting for one (runnable), voluntary
    switches (the times it went to sleep: in the poll with nothing to do, or waiting for the GIL)."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as stat:
        on_cpu, waiting, _ = (int(value) for value in stat.read().split())
    with open(f"/proc/{pid}/task/{pid}/status") as status:
        line = next(line for line in status if line.startswith("voluntary_ctxt_switches:"))
    return on_cpu, waiting, int(line.split()[1])


def measure(sidecar: Sidecar, seconds: int) -> None:
    before = thread_cpu(sidecar.proc.pid)
    sched_before, started = loop_sched(sidecar.proc.pid), time.monotonic_ns()
    result = wrk(sidecar.url, 32, seconds, sidecar.script)
    sched_after, ended = loop_sched(sidecar.proc.pid), time.monotonic_ns()
    after = thread_cpu(sidecar.proc.pid)
    requests = result["rps"] * seconds
    # At 32 connections the loop always has work: asleep, it waits for the GIL (or for the sockets, as off does).
    on_cpu, runnable, switches = (a - b for a, b in zip(sched_after, sched_before, strict=True))
    sidecar.asleep_us.append((ended - started - on_cpu - runnable) / requests / 1e3)
    sidecar.on_cpu_us.append(on_cpu / requests / 1e3)
    sidecar.sleeps.append(switches / requests)

    sidecar.rps.append(result["rps"])
    sidecar.loop_us.append(cpu_us(before, after, sidecar.proc.pid, requests))  # the main thread runs the event loop
    sidecar.total_us.append(sum(cpu_us(before, after, tid, requests) for tid in after))


def cpu_us(
    before: dict[int, tuple[int, int, int, int]], after: dict[int, tuple[int, int, int, int]], tid: int, requests: float
) -> float:
    """Thread ``tid``'s CPU per request (us) between two ``thread_cpu`` readings: its user and system ticks only
    (the reading goes on with the thread's context switches, which summed in counted each switch as a 10 ms tick
    from 099afd22 to trace54: docs/benchmarks.md, "Wave 53 `trace54`")."""
    (user, system, *_), (user_before, system_before, *_) = after[tid], before.get(tid, (0, 0, 0, 0))
    return (user + system - user_before - system_before) / TICKS_PER_S / requests * 1e6


def ratios(values: list[float], reference: list[float]) -> float:
    return statistics.median(v / r for v, r in zip(values, reference, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", default="off,10%,default")
    parser.add_argument("--baseline", type=Path, help="another checkout with its own .venv, run side by side")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="sidecars on CPU 0, nginx and wrk on CPU 1 (every process placed alike: steadier p50)",
    )
    args = parser.parse_args()
    if not tools_present("nginx", "wrk"):
        return 2
    variants = args.variants.split(",")
    if "off" not in variants:
        parser.error("--variants must include off (the reference)")
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-tracing-cost-"))
    if args.pin:
        os.sched_setaffinity(0, {1})  # this script, and so nginx and wrk, which inherit it
    with nginx_running(workdir) as upstream:
        sink = f"http://127.0.0.1:{upstream}"
        checkouts = [("", sys.executable, Path(__file__).resolve().parents[1])]
        if args.baseline:
            checkouts.append(("base", str(args.baseline / ".venv/bin/python"), args.baseline))
        sidecars: list[Sidecar] = []
        try:
            policy = sidecar_policy(workdir, upstream, "chain")
            # Variant-major: a variant's two checkouts sit side by side in every round's order, so that where
            # a sidecar runs within a round (which matters here) weighs alike on both.
            for variant in variants:
                for checkout, python, cwd in checkouts:
                    name = f"{checkout}:{variant}" if checkout else variant
                    ports = workdir / f"{name.replace(':', '-').replace('%', 'pc')}.ports"
                    proc, port = start(
                        python, cwd, policy, ports, variant_env(variant), sink, cpu=0 if args.pin else None
                    )
                    sidecars.append(Sidecar(name, checkout, variant, proc, port, variant_script(workdir, variant)))
            for round_number in range(args.rounds):
                for sidecar in in_turn(sidecars, round_number):
                    measure(sidecar, args.seconds)
            for round_number in range(args.rounds):
                for sidecar in in_turn(sidecars, round_number):
                    sidecar.p50.append(wrk(sidecar.url, 1, args.seconds, sidecar.script)["p50"])
            rss = {sidecar.name: peak_rss_mb(sidecar.proc.pid) for sidecar in sidecars}
        finally:
            for sidecar in sidecars:
                sidecar.proc.terminate()
                sidecar.proc.wait(timeout=30)
    print(
        f"Command: `python bench/tracing_cost.py --seconds {args.seconds} --rounds {args.rounds} "
        f"--variants {args.variants}{' --baseline ' + str(args.baseline) if args.baseline else ''}"
        f"{' --pin' if args.pin else ''}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; medians of {args.rounds} interleaved rounds; "
        "ratios to `off` of the same checkout within each round)\n"
    )
    print(
        "| sidecar | req/s @32 | req/s vs off | event-loop CPU per request (us) | vs off | the same by schedstat (us) "
        "| all threads (us) | loop asleep per request (us) | loop sleeps per request | p50 @1 (ms) "
        "| added p50 vs off (ms) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for sidecar in sidecars:
        off = next(s for s in sidecars if s.checkout == sidecar.checkout and s.variant == "off")
        added = statistics.median(a - b for a, b in zip(sidecar.p50, off.p50, strict=True))
        print(
            f"| {sidecar.name} | {statistics.median(sidecar.rps):,.0f} | {ratios(sidecar.rps, off.rps):.3f} "
            f"| {statistics.median(sidecar.loop_us):.1f} | {ratios(sidecar.loop_us, off.loop_us):.3f} "
            f"| {statistics.median(sidecar.on_cpu_us):.1f} "
            f"| {statistics.median(sidecar.total_us):.1f} | {statistics.median(sidecar.asleep_us):.1f} "
            f"| {statistics.median(sidecar.sleeps):.2f} | {statistics.median(sidecar.p50):.3f} | {added:+.3f} "
            f"| {rss[sidecar.name]:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
