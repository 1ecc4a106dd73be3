"""Does the sidecar's footprint slow each instruction? The featureless proxy with the sidecar loaded beside it.

By instructions the sidecar is ~0.59 of bench/minimal_proxy.py at 32 connections, by CPU ~0.49: each of its
instructions takes longer. One candidate is the footprint: the sidecar's modules, policy and app make a
heap and code some ten times the minimal proxy's, which may cost caches and TLB entries on every request.
This runs the minimal proxy's very handler (``minimal_proxy.proxy_app``) in three processes:

- ``minimal``: alone, as proxy_bench.py runs it;
- ``minimal-frozen``: alone, with ``gc.freeze()`` after start (the sidecar freezes its start-up heap, so the
  minimal proxy's full collections walk more than the sidecar's: this separates that from the footprint);
- ``minimal-loaded``: in a process that has also built and started a whole sidecar (the bench policy,
  ``build_state``, ``start_app`` on another port, warmed by requests through it, then ``settle_heap``): its
  imports, policy, app and heap are the sidecar's, only the handler the load reaches is the minimal one;

and the sidecar itself, then loads each in turn (``measuring.in_turn``) with wrk at 32 connections (nginx
behind all, the chat request of proxy_bench.py) and prints req/s, the event loop thread's CPU per request
(user + system, ``/proc/PID/task/TID/stat``) and the process's RSS. If ``minimal-loaded`` runs its
requests as slowly as the sidecar runs each instruction, the footprint is the cost; if it runs as fast as
``minimal-frozen``, it is not.

    python bench/footprint_floor.py [--seconds 4] [--rounds 4]
    python bench/footprint_floor.py serve PORTS_FILE UPSTREAM_BASE_URL [--frozen] [--policy FILE]   (one server)

Needs `apt-get install nginx-light wrk`. Ratios within one round only (shared, noisy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listening import read_port, stop_all, wait_port, write_ports_file
from measuring import chat_script, in_turn, peak_rss_mb, tools_present, wait_http, wrk
from minimal_proxy import proxy_app
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import ROOT, sidecar_on_port_zero, sidecar_policy
from thread_cpu import TICKS_PER_S, thread_cpu


async def serve(ports_file: Path, upstream: str, frozen: bool, policy: str | None) -> None:
    from aiohttp import web

    if policy is not None:  # a whole sidecar built and listening in this process, as ``llm-sidecar run`` does
        from sidecar import __version__
        from sidecar.policy.load import load_policy
        from sidecar.server.app import build_state, start_app
        from sidecar.server.lifecycle import settle_heap
        from sidecar.settings import Settings
        from sidecar.telemetry import Telemetry
        from sidecar.telemetry.logging import configure_logging

        settings = Settings.from_env({**os.environ, "SIDECAR_LOG_LEVEL": "info"}, policy_path=policy)
        log_output = configure_logging(settings.log_level)
        telemetry = Telemetry.from_env(os.environ, service_version=__version__)
        state = build_state(settings, load_policy(policy), telemetry, os.environ, log_output)
        _, server = await start_app(state, "127.0.0.1", 0, connect_stores=False)
        state.listening = True
        sidecar_port = server.port
    runner = web.AppRunner(proxy_app(upstream), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    if policy is not None:
        await _warm(sidecar_port)
        settle_heap()
    elif frozen:
        gc.collect()
        gc.freeze()
    write_ports_file(ports_file, runner.addresses[0][1])
    await asyncio.Event().wait()


async def _warm(port: int) -> None:
    """200 requests through the sidecar's own listener: its lazily made parts exist, as in a served pod."""
    import aiohttp
    from measuring import REQUEST

    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                data=REQUEST,
                headers={"content-type": "application/json", "authorization": "Bearer sk-bench"},
            ) as response:
                await response.read()


def start(workdir: Path, name: str, upstream: int, extra: list[str]) -> subprocess.Popen[bytes]:
    ports = workdir / f"{name}.ports"
    command = [sys.executable, __file__, "serve", str(ports), f"http://127.0.0.1:{upstream}", *extra]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=ROOT / "bench")
    wait_port(ports, proc)
    wait_http(f"http://127.0.0.1:{read_port(ports)}/healthz")
    return proc


def main_thread_us(
    before: dict[int, tuple[int, int, int, int]], after: dict[int, tuple[int, int, int, int]], pid: int, requests: float
) -> tuple[float, float]:
    user = (after[pid][0] - before[pid][0]) / TICKS_PER_S / requests * 1e6
    system = (after[pid][1] - before[pid][1]) / TICKS_PER_S / requests * 1e6
    return user, system


def measure(args: argparse.Namespace) -> int:
    if not tools_present("nginx", "wrk"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-footprint-"))
    script = chat_script(workdir)
    nginx, upstream = nginx_on_free_port(workdir)
    procs = [nginx]
    targets: list[tuple[str, subprocess.Popen[bytes], int]] = []
    try:
        policy = sidecar_policy(workdir, upstream, "chain")
        for name, extra in (
            ("minimal", []),
            ("minimal-frozen", ["--frozen"]),
            ("minimal-loaded", ["--policy", str(policy)]),
        ):
            proc = start(workdir, name, upstream, extra)
            procs.append(proc)
            targets.append((name, proc, read_port(workdir / f"{name}.ports")))
        proc, port = sidecar_on_port_zero(policy, workdir / "sidecar.ports", {})
        procs.append(proc)
        targets.append(("sidecar", proc, port))
        print(
            f"Command: `python bench/footprint_floor.py --seconds {args.seconds} --rounds {args.rounds}` "
            f"({time.strftime('%Y-%m-%d %H:%M')} UTC, load {os.getloadavg()[0]:.2f})\n"
        )
        print("| round | process | req/s @32 | loop thread CPU a request, us (user + system) | RSS MB |")
        print("|---|---|---|---|---|")
        for round_number in range(1, args.rounds + 1):
            for name, proc, port in in_turn(targets, round_number - 1):
                path = "/v1/chat/completions"
                wrk(f"http://127.0.0.1:{port}{path}", 32, 1, script)  # warm
                before = thread_cpu(proc.pid)
                result = wrk(f"http://127.0.0.1:{port}{path}", 32, args.seconds, script)
                after = thread_cpu(proc.pid)
                user, system = main_thread_us(before, after, proc.pid, result["rps"] * args.seconds)
                rss = peak_rss_mb(proc.pid)
                print(f"| {round_number} | {name} | {result['rps']:,.0f} | {user:.1f} + {system:.1f} | {rss:.0f} |")
        print(f"\nload at the end {os.getloadavg()[0]:.2f}")
    finally:
        stop_all(procs)
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        parser = argparse.ArgumentParser()
        parser.add_argument("serve")
        parser.add_argument("ports_file", type=Path)
        parser.add_argument("upstream")
        parser.add_argument("--frozen", action="store_true")
        parser.add_argument("--policy")
        args = parser.parse_args()
        import uvloop

        uvloop.run(serve(args.ports_file, args.upstream, args.frozen, args.policy))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    return measure(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
