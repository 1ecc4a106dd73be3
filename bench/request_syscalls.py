"""A request's system calls and event-loop wake-ups in a real sidecar, counted by ``strace -c``.

A function profile (bench/request_profile.py) says where the Python work goes, not how often the event
loop sleeps and wakes: a hit from Redis must wait for at least one round trip (the ``GET``: one more
wake-up than a memory hit), and anything else that yields to the loop (a pool's condition, a task, a
second command) shows as more ``epoll_wait`` calls per request. This starts a sidecar of one of
request_profile.py's cases (untraced, as the image runs it), warms it with ``--warm`` requests, then
attaches ``strace -f -c`` to all its threads twice for the same wall time: once while it serves
``--requests`` sequential requests on one kept-alive connection, once idle (its timers). The difference
over ``--requests`` is one request's system calls, by name, and the polls that returned events (the
loop woken by I/O; the other polls return at once with none, the loop having callbacks ready).

``--connections N`` loads it with wrk at N connections for ``--seconds`` instead (as proxy_bench.py does:
the per-request counts are over wrk's requests), and adds the process's CPU a request in user and kernel
time (``/proc/<pid>/stat`` utime and stime over a second, untraced wrk run of as long): under load the
loop batches, so the wake-ups a request are fewer than at one connection, and what strace cannot show
(the kernel's share of the CPU) is read there.

    python bench/request_syscalls.py [--case plain|hit|redis-hit|miss|minimal] [--warm 100] [--requests 400]
        [--connections N --seconds S] [--code DIR]

Needs nginx, strace (wrk for ``--connections``; redis-server for ``redis-hit``). Results:
docs/benchmarks.md, wave 33 ``redis33``, wave 46 ``plain47`` (32 connections).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructions import sender
from listening import start_redis, stop_all, wait_port
from measuring import chat_script, tools_present, wait_http
from nginx_upstream import nginx_on_free_port
from request_profile import target_of

ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")
POLLED = re.compile(r"epoll_p?wait.*\)\s+=\s+(\d+)$")  # a poll's result: how many events it returned
WOKEN = "epoll_pwait, events"  # the table's row of the polls that returned events (the loop woken by I/O)


def traced(pid: int, out: Path, work: object) -> tuple[dict[str, int], float]:
    """System calls by name of every thread of ``pid`` while ``work()`` runs (and ``WOKEN``: the polls
    that returned events), and how long it ran."""
    strace = subprocess.Popen(
        ["strace", "-f", "-C", "-o", str(out), "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert strace.stderr is not None
    time.sleep(1.0)  # attached to every thread (strace says so on stderr, buffered: a pause is simpler)
    started = time.monotonic()
    work()  # type: ignore[operator]
    took = time.monotonic() - started
    strace.send_signal(signal.SIGINT)
    strace.wait(timeout=60)
    counts: dict[str, int] = {WOKEN: 0}
    for line in out.read_text().splitlines():
        match = ROW.match(line)
        if match and match[2] != "total":
            counts[match[2]] = int(match[1])
        polled = POLLED.search(line)
        if polled and int(polled[1]) > 0:
            counts[WOKEN] += 1
    return counts, took


def loaded(url: str, connections: int, seconds: int, script: Path) -> int:
    """Requests wrk completed at ``connections`` for ``seconds`` (any answer but 200 raises)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(out)
    return int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]


def cpu_ticks(pid: int) -> tuple[int, int]:
    """The process's user and kernel CPU so far, all threads, in clock ticks (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=("plain", "hit", "redis-hit", "miss", "minimal"), default="hit")
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--connections", type=int, default=0, help="load with wrk at this many connections")
    parser.add_argument("--seconds", type=int, default=3, help="wrk's time, traced and untraced (--connections)")
    parser.add_argument("--code", help="a directory holding the sidecar package (a snapshot)")
    args = parser.parse_args()
    if not tools_present("nginx", "strace", *(["wrk"] if args.connections else [])):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="request-syscalls-"))
    nginx, upstream = nginx_on_free_port(workdir)
    redis = start_redis(workdir) if args.case == "redis-hit" else None
    servers = [nginx, *(redis or ())[:1]]
    try:
        command, (env, ports, ready, body, timeout) = target_of(
            args.case, workdir, upstream, 300, redis[1] if redis else None
        )
        if args.code:
            env["PYTHONPATH"] = os.pathsep.join([args.code, *filter(None, [env.get("PYTHONPATH")])])
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(proc)
        port = wait_port(ports, proc, timeout=timeout)
        wait_http(f"http://127.0.0.1:{port}{ready}", timeout=timeout)
        connection, send = sender(port, body)
        send(args.warm)
        cpu = ""
        if args.connections:
            url, script, done = f"http://127.0.0.1:{port}/v1/chat/completions", chat_script(workdir), []
            loaded(url, args.connections, 1, script)  # warm at that load
            before, began = cpu_ticks(proc.pid), time.monotonic()
            untraced = loaded(url, args.connections, args.seconds, script)
            after, wall = cpu_ticks(proc.pid), time.monotonic() - began
            tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
            user, system = ((a - b) * tick_us / untraced for a, b in zip(after, before, strict=True))
            cpu = (
                f"; untraced: {untraced} requests in {wall:.1f} s, {untraced / wall:.0f} req/s, CPU a request "
                f"{user:.1f} us user + {system:.1f} us kernel ({system / (user + system):.0%} kernel)"
            )
            busy, took = traced(
                proc.pid, workdir / "busy.txt", lambda: done.append(loaded(url, args.connections, args.seconds, script))
            )
            args.requests = done[0]
        else:
            busy, took = traced(proc.pid, workdir / "busy.txt", lambda: send(args.requests))
        idle, _ = traced(proc.pid, workdir / "idle.txt", lambda: time.sleep(took))
        connection.close()
    finally:
        stop_all(servers, timeout=60)
    per = {name: (busy.get(name, 0) - idle.get(name, 0)) / args.requests for name in busy.keys() | idle.keys()}
    load = f"--connections {args.connections} --seconds {args.seconds}" if args.connections else "--requests"
    print(
        f"Command: `python bench/request_syscalls.py --case {args.case} --warm {args.warm} {load}` (code "
        f"{args.code or 'this checkout'}, {time.strftime('%Y-%m-%d %H:%M')} UTC, load {os.getloadavg()[0]:.1f}; "
        f"{args.requests} requests in {took:.1f} s traced busy, as long idle{cpu})\n"
    )
    print("| system call | per request | busy window | idle window |\n|---|---|---|---|")
    for name in sorted(per, key=lambda n: -abs(per[n])):
        if abs(per[name]) >= 0.01:
            print(f"| {name} | {per[name]:.2f} | {busy.get(name, 0)} | {idle.get(name, 0)} |")
    calls = [name for name in per if name != WOKEN]
    print(
        f"| all system calls | {sum(per[n] for n in calls):.2f} | {sum(busy.get(n, 0) for n in calls)} | "
        f"{sum(idle.get(n, 0) for n in calls)} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
