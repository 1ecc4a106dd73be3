"""Where a traced request's instructions go on the live sidecar, by thread: callgrind between two dumps.

``tracing_instructions.py`` counts the telemetry facade alone, in one process (a sampled request's spans
about 475,000 instructions more than an untraced request's, wave 52); ``tracing_cost.py`` times the live
sidecar at 32 connections (its CPU columns showed a sampled request some 1,400 us more of the event loop's
CPU than an untraced one until wave 53 found them counting context switches as ticks: some 115 us). This
counts the live sidecar: each variant's sidecar (``proxy_bench.py``'s policy, nginx as upstream
and OTLP collector, started as the image starts it) runs under ``valgrind --tool=callgrind
--separate-threads=yes``, serves ``--warm`` requests, has its counters dumped (which resets them), serves
``--requests`` more from ``--connections`` kept-alive connections at once (each a client thread sending in
turn) and is dumped again. Per thread of that dump (the event loop is the first; the batch span processor's
export thread, the metrics and log threads follow), its instructions per request; then the loop thread's
self costs by group (``routing_callgrind.GROUPS``) and its largest functions against the first variant.

Variants (``VARIANTS``): ``off``; ``default`` (every request sampled, the default sampler: wrk-like
clients send no ``traceparent``); ``default-held-export``: the same, with the batch processor's schedule
delay and batch size so large that its export thread never exports during the count (the spans stay in its
queue: what the loop pays without the export thread's encoding beside it); ``10%``; ``unsampled``;
``default-batch512``: every request sampled, batches of 512 spans (the standard's default) instead of the
sidecar's 128.

    python bench/tracing_callgrind.py [--warm 200] [--requests 600] [--connections 32]
        [--variants off,default,default-held-export] [--top 25] [--code DIR] [--thread-top 0]

``--thread-top N``: also each other thread's (the export thread's) ``N`` largest C functions, inclusive and
self, per request.

Needs valgrind (callgrind_control) and nginx.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from listening import wait_port  # noqa: E402
from measuring import tools_present, wait_http  # noqa: E402
from nginx_upstream import nginx_running  # noqa: E402
from routing_callgrind import GROUPS, by_function, dumped, grouped, total  # noqa: E402
from routing_callgrind import send as send_in_turn  # noqa: E402
from sidecar_under_test import sidecar_command, sidecar_policy  # noqa: E402

_TRACES = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "SINK", "OTEL_METRICS_EXPORTER": "prometheus"}
_HELD = {  # the export thread never exports while counted: the spans stay in its queue
    "OTEL_BSP_SCHEDULE_DELAY": "3600000",
    "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100000",
}
VARIANTS: dict[str, dict[str, str]] = {
    "off": {},
    "default": _TRACES,
    "default-held-export": {**_TRACES, **_HELD},
    "10%": {**_TRACES, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "unsampled": {**_TRACES, "OTEL_TRACES_SAMPLER": "always_off"},
    "default-batch512": {**_TRACES, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"},
}


def send(port: int, requests: int, connections: int) -> None:
    """``requests`` chat requests from ``connections`` kept-alive connections at once, each
    ``routing_callgrind.send``'s (an answer other than 200 raises)."""
    failures: list[str] = []

    def one(count: int) -> None:
        try:
            send_in_turn(port, count)
        except (OSError, RuntimeError) as exc:
            failures.append(repr(exc))

    share, rest = divmod(requests, connections)
    threads = [threading.Thread(target=one, args=(share + (i < rest),)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])


def thread_dumps(out: Path, number: int) -> list[Path]:
    """The per-thread files of dump ``number`` (``--separate-threads=yes``: ``OUT.N-TT``), by thread number."""
    found = sorted(out.parent.glob(f"{out.name}.{number}-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    if not found:
        raise RuntimeError(f"no dump {out}.{number}-*")
    return found


def measure(name: str, workdir: Path, upstream: int, args: argparse.Namespace) -> list[Path]:
    """The per-thread dumps of ``--requests`` requests served by variant ``name`` after ``--warm`` uncounted ones."""
    sink = f"http://127.0.0.1:{upstream}"
    env_extra = {k: (sink if v == "SINK" else v) for k, v in VARIANTS[name].items()}
    ports = workdir / f"{name}.ports"
    command, env = sidecar_command(sidecar_policy(workdir, upstream, "chain"), ports, env_extra)
    if args.code is not None:
        env["PYTHONPATH"] = f"{args.code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    out = workdir / f"callgrind-{name.replace('%', 'pc')}"
    env |= {"OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_RELOAD_INTERVAL_S": "3600"}
    valgrind = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--dump-instr=no"]
    valgrind.append(f"--callgrind-out-file={out}")
    with (workdir / f"{out.name}.txt").open("w") as log:
        proc = subprocess.Popen([*valgrind, *command], env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=args.code)
        try:
            port = wait_port(ports, proc, timeout=args.ready_timeout)
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=args.ready_timeout)
            for number, requests in enumerate((args.warm, args.requests), start=1):  # dump 1 resets the counters
                send(port, requests, args.connections)
                dumped(proc.pid, out, number)
            time.sleep(1)  # every thread's file written
            return thread_dumps(out, 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)


def thread_name(dump: Path) -> str:
    """The dump's thread number (``TT`` of ``OUT.N-TT``)."""
    return dump.name.rsplit("-", 1)[1]


def report(dumps: dict[str, list[Path]], args: argparse.Namespace, when: str) -> None:
    """Per variant and thread, instructions per request; the loop thread's groups and functions against the
    first variant."""
    n = args.requests
    print(
        f"Command: `python bench/tracing_callgrind.py --warm {args.warm} --requests {n} --connections "
        f"{args.connections} --variants {args.variants}" + (f" --code {args.code}" if args.code else "") + f"`{when}\n"
    )
    print("| variant | per thread (instructions per request; the first is the event loop) | all threads |")
    print("|---|---|---|")
    for name, files in dumps.items():
        per = [total(f) / n for f in files]
        threads = ", ".join(f"{thread_name(f)}: {p:,.0f}" for f, p in zip(files, per, strict=True))
        print(f"| {name} | {threads} | {sum(per):,.0f} |")
    print()
    names = list(dumps)
    first = names[0]
    base_self, _ = by_function(dumps[first][0])
    base_groups = grouped(base_self)
    for other in names[1:]:
        more_self, _ = by_function(dumps[other][0])
        more_groups = grouped(more_self)
        print(f"| loop thread, group (self) | {first} | {other} | difference |\n|---|---|---|---|")
        for group, _ in GROUPS:
            b, m = base_groups.get(group, 0) / n, more_groups.get(group, 0) / n
            print(f"| {group} | {b:,.0f} | {m:,.0f} | {m - b:+,.0f} |")
        print()
        diff = {k: (more_self.get(k, 0) - base_self.get(k, 0)) / n for k in base_self.keys() | more_self.keys()}
        print(f"| loop thread, C function (self) | {first} | {other} | difference |\n|---|---|---|---|")
        for fn, delta in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
            print(f"| `{fn}` | {base_self.get(fn, 0) / n:,.0f} | {more_self.get(fn, 0) / n:,.0f} | {delta:+,.0f} |")
        print()
    for name, files in dumps.items():
        for other_thread in files[1:]:
            if total(other_thread) >= n * 1000 and args.thread_top:
                thread_functions(name, other_thread, n, args.thread_top)
    for name, files in dumps.items():
        print(f"dumps {name}: {' '.join(map(str, files))}")


def thread_functions(name: str, dump: Path, n: int, top: int) -> None:
    """A thread other than the loop (the export thread, where it works): its ``top`` largest C functions, by
    inclusive and by self cost, per request."""
    own, inclusive = by_function(dump)
    print(f"| {name}, thread {thread_name(dump)}, C function | inclusive | self |\n|---|---|---|")
    for fn, cost in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| `{fn}` | {cost / n:,.0f} | {own.get(fn, 0) / n:,.0f} |")
    print()
    print(f"| {name}, thread {thread_name(dump)}, C function by self | self |\n|---|---|")
    for fn, cost in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| `{fn}` | {cost / n:,.0f} |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variants", default="off,default,default-held-export")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--thread-top", type=int, default=0)
    parser.add_argument("--ready-timeout", type=float, default=900)
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind", "callgrind_control"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tracing-callgrind-"))
    started = time.strftime("%Y-%m-%d %H:%M")
    with nginx_running(workdir) as upstream:
        dumps = {name: measure(name, workdir, upstream, args) for name in args.variants.split(",")}
    report(dumps, args, f" ({started} to {time.strftime('%H:%M')} UTC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
