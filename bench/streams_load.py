"""Many concurrent slow streams through one sidecar, on its default settings: are they all served?

Starts a fake provider (``llm-sidecar fake-provider``) that streams its reply slowly (``--tokens-per-s``),
and a sidecar with a one-target route to it and no settings but the policy (plus ``--env`` ones). Then
opens ``--streams`` streamed chat calls at once (an aiohttp client, no connection limit), reads each to its
end, and reports: how many ended with ``[DONE]``, the statuses, the slowest and median call, and the
sidecar's resident memory (peak, and after the streams closed).

    python bench/streams_load.py [--streams 2000] [--seconds 5] [--env SIDECAR_UPSTREAM_CONNECTIONS=4096]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from listening import port_zero, start_with_ports_file
from measuring import peak_rss_mb, rss_mb, wait_http

WORDS = 10  # the fake provider streams one word per token


async def one_stream(session: aiohttp.ClientSession, url: str) -> tuple[int, bool, float]:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.monotonic()
    try:
        async with session.post(url, json=body) as response:
            data = await response.read()
            return response.status, data.rstrip().endswith(b"data: [DONE]"), time.monotonic() - started
    except aiohttp.ClientError:
        return 0, False, time.monotonic() - started


async def load(url: str, streams: int, pid: int) -> tuple[list[tuple[int, bool, float]], float]:
    connector = aiohttp.TCPConnector(limit=0)
    peak = 0.0
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        tasks = [asyncio.create_task(one_stream(session, url)) for _ in range(streams)]
        while not all(task.done() for task in tasks):
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.25)
        return [task.result() for task in tasks], peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each stream lasts upstream")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the sidecar")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="streams-load-"))
    reply = " ".join(["word"] * WORDS)
    fake, fake_port = start_with_ports_file(
        [sys.executable, "-m", "sidecar", "fake-provider", *port_zero(workdir / "fake.ports"), "--reply", reply,
         "--tokens-per-s", str(WORDS / args.seconds)], workdir / "fake.ports",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    policy = workdir / "policy.yaml"
    policy.write_text(
        f"version: 1\nproviders:\n  fake: {{dialect: fake, base_url: 'http://127.0.0.1:{fake_port}', speaks: openai}}\n"
        "models:\n  m: {provider: fake, model: m}\n"
    )
    extra = dict(item.split("=", 1) for item in args.env)
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "warning", **extra}
    sidecar, port = start_with_ports_file(
        [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(workdir / "sidecar.ports")],
        workdir / "sidecar.ports", env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        idle = rss_mb(sidecar.pid)
        began = time.monotonic()
        results, peak = asyncio.run(load(f"http://127.0.0.1:{port}/v1/chat/completions", args.streams, sidecar.pid))
        wall = time.monotonic() - began
        time.sleep(1)
        after = rss_mb(sidecar.pid)
        hwm = peak_rss_mb(sidecar.pid)
    finally:
        for proc in (sidecar, fake):
            proc.terminate()
            proc.wait(timeout=30)
    statuses = collections.Counter(status for status, _, _ in results)
    done = sum(1 for _, ok, _ in results if ok)
    durations = sorted(d for _, _, d in results)
    settings = " ".join(args.env) or "defaults"
    print(
        f"Command: `python bench/streams_load.py --streams {args.streams} --seconds {args.seconds}"
        + "".join(f" --env {e}" for e in args.env)
        + f"` ({time.strftime('%Y-%m-%d %H:%M')}, sidecar settings: {settings})\n\n"
        f"{done} of {args.streams} streams ended with [DONE]; statuses {dict(sorted(statuses.items()))}; "
        f"call time median {statistics.median(durations):.2f} s, slowest {durations[-1]:.2f} s, "
        f"all {wall:.1f} s. Sidecar RSS: {idle:.0f} MB idle, {peak:.0f} MB peak sampled "
        f"({hwm:.0f} MB VmHWM), {after:.0f} MB after."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
