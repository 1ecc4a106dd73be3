"""CPU time per request of each sidecar thread under load, user and system apart: where tracing's cost goes.

Starts nginx (the fixed upstream, and the OTLP collector of traced variants) and one sidecar per variant,
then for each round loads every sidecar in turn (in an order that changes every round:
``measuring.in_turn``) with wrk (32 connections, the same chat request as proxy_bench.py) and reads
each thread's CPU time from /proc/PID/task/TID/stat before and after. Prints, per round and sidecar:
req/s and microseconds of user and system CPU per request for every thread that used any (the event
loop's thread first, then e.g. the span export worker), each with its name and its voluntary + involuntary
context switches a request (``/proc/PID/task/TID/status``: a thread woken per request shows ~1 here).

    python bench/thread_cpu.py [--seconds 8] [--rounds 3] [--variants sidecar,sidecar-tracing] [--baseline REF]

``--baseline REF`` adds the sidecar at git revision REF (``sidecar_under_test.checkout``), as one more variant;
the variant ``minimal`` is the featureless aiohttp proxy of proxy_bench.py (the floor).

Needs `apt-get install nginx-light wrk`. The numbers move with the shared machine's load; compare
sidecars within one round.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listening import read_port, stop_all
from measuring import chat_script, in_turn, tools_present, wrk
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import checkout, sidecar_on_port_zero, sidecar_policy, start_minimal, variant_env

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, tuple[int, int, int, int]]:
    """Thread id -> (user, system) CPU ticks so far, and its (voluntary, involuntary) context switches."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        switches = {}
        with open(f"/proc/{pid}/task/{tid}/status") as status:
            for line in status:
                if "ctxt_switches" in line:
                    name, count = line.split(":")
                    switches[name] = int(count)
        times[int(tid)] = (
            int(fields[11]),
            int(fields[12]),
            switches.get("voluntary_ctxt_switches", 0),
            switches.get("nonvoluntary_ctxt_switches", 0),
        )
    return times


def thread_name(pid: int, tid: int) -> str:
    """The thread's name (``comm``), e.g. the log writer's or the export worker's."""
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="sidecar,sidecar-tracing")
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision")
    args = parser.parse_args()
    if not tools_present("nginx", "wrk"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-cpu-"))
    script = chat_script(workdir)
    nginx, upstream = nginx_on_free_port(workdir)
    procs = [nginx]
    sidecars: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name in args.variants.split(","):
            ports = workdir / f"{name}.ports"
            if name == "minimal":  # the featureless aiohttp proxy (bench/minimal_proxy.py), for the floor
                proc = start_minimal(upstream, ports)
                procs.append(proc)
                sidecars[name] = (proc, read_port(ports))
                continue
            policy_variant, env_extra = variant_env(name, upstream)
            proc, port = sidecar_on_port_zero(sidecar_policy(workdir, upstream, policy_variant), ports, env_extra)
            procs.append(proc)
            sidecars[name] = (proc, port)
        if args.baseline:
            code = checkout(args.baseline, workdir)
            policy = sidecar_policy(workdir, upstream, "chain")
            proc, port = sidecar_on_port_zero(policy, workdir / "baseline.ports", {}, code=code)
            procs.append(proc)
            sidecars[f"sidecar@{args.baseline}"] = (proc, port)
        baseline = f" --baseline {args.baseline}" if args.baseline else ""
        print(
            f"Command: `python bench/thread_cpu.py --seconds {args.seconds} --rounds {args.rounds} "
            f"--variants {args.variants}{baseline}` ({time.strftime('%Y-%m-%d %H:%M')})\n"
        )
        print(
            "| round | sidecar | req/s @32 | per thread: CPU a request, us (user + system); "
            "context switches a request (voluntary + involuntary) |"
        )
        print("|---|---|---|---|")
        for round_number in range(1, args.rounds + 1):
            for name, (proc, port) in in_turn(list(sidecars.items()), round_number - 1):
                before = thread_cpu(proc.pid)
                result = wrk(f"http://127.0.0.1:{port}/v1/chat/completions", 32, args.seconds, script)
                after = thread_cpu(proc.pid)
                requests = result["rps"] * args.seconds
                used = []
                for tid in sorted(after):
                    user, system, voluntary, involuntary = (
                        now - then for now, then in zip(after[tid], before.get(tid, (0, 0, 0, 0)), strict=True)
                    )
                    if user or system or voluntary or involuntary:
                        used.append(
                            f"{thread_name(proc.pid, tid)}: {user / TICKS_PER_S / requests * 1e6:.1f} + "
                            f"{system / TICKS_PER_S / requests * 1e6:.1f} us, switches a request "
                            f"{voluntary / requests:.3f} + {involuntary / requests:.3f}"
                        )
                print(f"| {round_number} | {name} | {result['rps']:,.0f} | {'; '.join(used)} |")
    finally:
        stop_all(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
