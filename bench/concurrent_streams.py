"""Many concurrent streams to one target: do the sidecar's default upstream limits hold them?

nginx (the upstream, C; ``nginx_upstream.start_nginx``) serves a 20-event OpenAI stream to every POST,
paced with ``limit_rate`` so that each stream lasts about ``--stream-seconds``; the sidecar runs with
its default settings (the route's bulkhead raised to ``--streams``, so that only the upstream connection
limits are measured); aiohttp opens ``--streams`` streams at once and reads each to its end. Reported:
how many streams ended complete (``data: [DONE]``), the median and longest stream, the upstream
connections the sidecar had open at the peak (``ss``), and its peak RSS. ``--settings`` runs again with
other ``SIDECAR_*`` values (e.g. ``SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST=100``, aiohttp's default) for
comparison.

    python bench/concurrent_streams.py [--streams 2000] [--stream-seconds 5]
        [--settings SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST=100]

Needs `apt-get install nginx-light` and a file-descriptor limit above twice ``--streams``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from measuring import peak_rss_mb, tools_present
from nginx_upstream import nginx_running, sse_body
from sidecar_under_test import sidecar_on_port_zero


def upstream_connections(pid: int, upstream_port: int) -> int:
    out = subprocess.run(["ss", "-tnp", "state", "established"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line and f"127.0.0.1:{upstream_port} " in line)


async def one_stream(session: aiohttp.ClientSession, url: str) -> tuple[bool, float]:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    started = time.perf_counter()
    try:
        async with session.post(url, json=body) as response:
            data = await response.read()
        return response.status == 200 and data.rstrip().endswith(b"data: [DONE]"), time.perf_counter() - started
    except aiohttp.ClientError:
        return False, time.perf_counter() - started


async def load(url: str, streams: int, pid: int, upstream_port: int) -> tuple[list[tuple[bool, float]], int]:
    peak = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        calls = [asyncio.create_task(one_stream(session, url)) for _ in range(streams)]
        while not all(call.done() for call in calls):
            peak = max(peak, await asyncio.to_thread(upstream_connections, pid, upstream_port))
            await asyncio.sleep(0.5)
        return [call.result() for call in calls], peak


def run(workdir: Path, upstream_port: int, streams: int, env: dict[str, str]) -> str:
    policy = workdir / "policy.yaml"
    policy.write_text(
        "version: 1\n"
        f"defaults: {{bulkhead: {{max_concurrent: {streams}}}}}\n"
        "providers:\n"
        f"  nginx: {{dialect: openai, base_url: 'http://127.0.0.1:{upstream_port}/stream/v1'}}\n"
        "models:\n  m: {provider: nginx, model: up}\n"
    )
    proc, port = sidecar_on_port_zero(policy, workdir / "sidecar.ports", {"SIDECAR_LOG_LEVEL": "warning", **env})
    try:
        results, peak = asyncio.run(
            load(f"http://127.0.0.1:{port}/v1/chat/completions", streams, proc.pid, upstream_port)
        )
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    complete = sum(ok for ok, _ in results)
    seconds = [s for _, s in results]
    settings = ", ".join(f"{k}={v}" for k, v in env.items()) or "defaults"
    return (
        f"| {settings} | {complete:,} of {streams:,} | {statistics.median(seconds):.2f} s | {max(seconds):.2f} s "
        f"| {peak:,} | {rss:.0f} MB |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--stream-seconds", type=float, default=5.0)
    parser.add_argument("--settings", action="append", default=[], help="NAME=VALUE: another run with it")
    args = parser.parse_args()
    if not tools_present("nginx"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-streams-"))
    lines = [
        f"Command: `python bench/concurrent_streams.py --streams {args.streams} --stream-seconds "
        f"{args.stream_seconds}{''.join(f' --settings {s}' for s in args.settings)}` "
        f"({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| sidecar settings | streams complete | median stream | longest stream | upstream connections at peak "
        "| peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    with nginx_running(workdir, stream_rate=max(1, int(len(sse_body()) / args.stream_seconds))) as upstream_port:
        for env in [{}, *(dict([s.split("=", 1)]) for s in args.settings)]:
            lines.append(run(workdir, upstream_port, args.streams, env))
            print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
