"""Added latency at one connection, alternating: direct (nginx), the featureless aiohttp proxy, the sidecar.

proxy_bench.py measures p50 at 1 connection with one wrk run per target after another; on a busy shared
machine a burst of noise lands on one target's run. Here one client sends the benchmark's chat request
to each target in turn, one request at a time on a kept-alive connection, ``--requests`` times, so every
target sees the same moments: medians and 90th percentiles, and each proxy's median minus direct.

    python bench/added_latency.py [--requests 3000]

Needs `apt-get install nginx-light`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from listening import read_port
from measuring import REQUEST, tools_present
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import sidecar_policy, start_minimal, start_sidecar


async def alternate(urls: dict[str, str], n: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in urls}
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for i in range(n + 50):
            for name, url in urls.items():
                started = time.perf_counter()
                async with session.post(url, data=REQUEST, headers=headers) as response:
                    await response.read()
                if i >= 50:  # the first rounds warm connections and caches
                    samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    if not tools_present("nginx"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="added-latency-"))
    nginx, upstream = nginx_on_free_port(workdir)
    procs: list[subprocess.Popen[bytes]] = [nginx]
    try:
        procs.append(start_minimal(upstream, workdir / "minimal.ports"))
        minimal_port = read_port(workdir / "minimal.ports")
        procs.append(start_sidecar(sidecar_policy(workdir, upstream, "chain"), workdir / "sidecar.ports", {})[0])
        port = read_port(workdir / "sidecar.ports")
        urls = {
            "direct (nginx)": f"http://127.0.0.1:{upstream}/v1/chat/completions",
            "minimal aiohttp proxy": f"http://127.0.0.1:{minimal_port}/v1/chat/completions",
            "sidecar": f"http://127.0.0.1:{port}/v1/chat/completions",
        }
        samples = asyncio.run(alternate(urls, args.requests))
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    direct = statistics.median(samples["direct (nginx)"])
    print(
        f"Command: `python bench/added_latency.py --requests {args.requests}` ({time.strftime('%Y-%m-%d %H:%M')})\n\n"
        "| target | p50 (ms) | p90 (ms) | added p50 (ms) |\n|---|---|---|---|"
    )
    for name, values in samples.items():
        p50 = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {name} | {p50:.3f} | {p90:.3f} | {p50 - direct:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
