"""CPU instructions per proxied request, by thread of the sidecar, traced and untraced, counted by valgrind.

bench/instructions.py counts a whole request, every thread together. This splits the count by thread,
so that what a sampled request costs on the event loop (its spans made by the SDK) is told apart from
what it costs in the batch span processor's worker thread (the SDK's OTLP encoding, the HTTP post) and
in the log pipe's writer. Each variant's sidecar runs under ``valgrind --tool=callgrind
--separate-threads=yes`` (one count per thread) serving ``--few`` and then, in a second run, ``--many``
sequential requests on one kept-alive connection (bench/instructions.py's request and upstream); the
difference of each thread's totals over the difference of the counts is its share of one request.

A thread is named by what it runs (its functions in callgrind's output): ``event loop`` (libuv's
``uv_run``), ``span export`` (protobuf's ``upb`` encoder), ``log pipe`` (``os.write`` of the access
lines), ``other``. The OTLP collector is nginx (bench/nginx_upstream.py), which discards each export in
C: its CPU is not in the sidecar's count, and in bench/tracing_cost.py ``--pin`` puts it on the other
core with wrk.

    python bench/tracing_threads.py [--few 100] [--many 400] [--variants sidecar,sidecar-tracing]
        [--code DIR ...] [--ready-timeout 900]

``--code DIR`` (repeatable): count the ``sidecar`` package of DIR (a ``git archive`` snapshot) instead
of this tree's; each variant's checkouts run at once. Needs `apt-get install valgrind nginx-light`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from instructions import serve
from measuring import tools_present
from nginx_upstream import nginx_running
from sidecar_under_test import ROOT, sidecar_command, sidecar_policy, variant_env

# What names a thread, first match wins: a function callgrind saw it run.
THREAD_KINDS = (("event loop", "uv_run"), ("span export", "upb_Encoder_Encode"), ("log pipe", "os_write"))


def thread_kind(callgrind_output: str) -> str:
    for kind, function in THREAD_KINDS:
        if re.search(rf"^c?fn=\(\d+\) {function}\b", callgrind_output, re.MULTILINE):  # named where first met
            return kind
    return "other"


def thread_totals(prefix: Path) -> dict[str, int]:
    """Instructions by kind of thread, from callgrind's per-thread files ``prefix-NN``."""
    totals: dict[str, int] = defaultdict(int)
    for path in sorted(prefix.parent.glob(f"{prefix.name}-*")):
        text = path.read_text(errors="replace")
        match = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no total in {path}")
        totals[thread_kind(text)] += int(match.group(1))
    return dict(totals)


def count(
    command: list[str], ports: Path, env: dict[str, str], requests: int, out: Path, cwd: Path, ready_timeout_s: float
) -> dict[str, int]:
    """Instructions by kind of thread of ``command`` from start to exit, having served ``requests``
    (``instructions.serve``)."""
    ports.unlink(missing_ok=True)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}", *command],
        # As bench/instructions.py: no periodic metrics push nor policy poll inside the count.
        env={**env, "OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_RELOAD_INTERVAL_S": "3600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )
    serve(proc, ports, "/readyz", requests, ready_timeout_s=ready_timeout_s)
    return thread_totals(out)


def per_request(few: dict[str, int], many: dict[str, int], requests: int) -> dict[str, float]:
    return {kind: (many.get(kind, 0) - few.get(kind, 0)) / requests for kind in sorted(few.keys() | many.keys())}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=400)
    parser.add_argument("--variants", default="sidecar,sidecar-tracing")
    parser.add_argument("--code", type=Path, action="append", default=[], help="another checkout's package")
    parser.add_argument("--ready-timeout", type=float, default=900, help="seconds each start under valgrind may take")
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-tracing-threads-"))
    with nginx_running(workdir) as upstream:
        codes = [(str(code), code) for code in args.code] or [("this tree", ROOT)]
        jobs = []
        for variant in args.variants.split(","):
            policy_variant, env_extra = variant_env(variant, upstream)
            policy = sidecar_policy(workdir, upstream, policy_variant)
            for c, (label, code) in enumerate(codes):
                for n in (args.few, args.many):
                    ports = workdir / f"{variant}-{c}-{n}.ports"
                    command, env = sidecar_command(policy, ports, env_extra)
                    env = {**env, "PYTHONPATH": str(code), "PYTHONHASHSEED": "0"}
                    jobs.append((variant, label, n, command, ports, env, workdir / f"cg-{variant}-{c}-{n}", code))
        with ThreadPoolExecutor(max_workers=len(codes) * 2) as pool:
            counts = list(pool.map(lambda j: count(j[3], j[4], j[5], j[2], j[6], j[7], args.ready_timeout), jobs))
    results = {(j[0], j[1], j[2]): c for j, c in zip(jobs, counts, strict=True)}
    print(
        f"Command: `python bench/tracing_threads.py --few {args.few} --many {args.many} --variants {args.variants}"
        f"{''.join(f' --code {c}' for c in args.code)}` ({time.strftime('%Y-%m-%d %H:%M')} UTC, "
        f"load average {os.getloadavg()[0]:.1f})\n"
    )
    print("| variant | code | thread | instructions per request |\n|---|---|---|---|")
    for variant in args.variants.split(","):
        for label, _ in codes:
            shares = per_request(
                results[variant, label, args.few], results[variant, label, args.many], args.many - args.few
            )
            for kind, share in shares.items():
                print(f"| {variant} | {label} | {kind} | {share:,.0f} |")
            print(f"| {variant} | {label} | all | {sum(shares.values()):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
