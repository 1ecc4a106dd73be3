"""Added latency at one connection, alternating: direct (nginx), the featureless aiohttp proxy, the sidecar.

proxy_bench.py measures p50 at 1 connection with one wrk run per target after another; on a busy shared
machine a burst of noise lands on one target's run. Here one client sends the benchmark's chat request
to each target in turn (in a new shuffled order each round), one request at a time on a kept-alive
connection, ``--requests`` times, so every target sees the same moments: medians and 90th percentiles,
and each proxy's median minus direct.

    python bench/added_latency.py [--requests 3000] [--baseline REF] [--cache-hit]

``--baseline REF`` adds the sidecar as it was at the git revision REF (its ``sidecar/`` package run from a
``git archive`` of it, as ``proxy_bench.py --baseline`` does), in the same alternation: this tree against
REF at the same moments, and the line "this tree - REF" says the difference of their medians.
``--cache-hit`` adds each sidecar (this tree's, REF's) once more with the bench route cached in memory
(``cache: {enabled: true, cacheable: always}``): the same request every time, so after the first every
answer is a memory cache hit.

Needs `apt-get install nginx-light`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from listening import read_port, stop_all
from measuring import REQUEST, tools_present
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import checkout, sidecar_policy, start_minimal, start_sidecar

CACHED_ROUTE = "  - name: bench\n    cache: {enabled: true, cacheable: always, ttl_s: 3600}\n"


async def alternate(urls: dict[str, str], n: int) -> dict[str, list[float]]:
    """``n`` rounds (after 50 to warm up), each target once per round, in an order shuffled each round
    (seeded): a target's work left after its answer (its access line, since after22) lands on the
    request of whichever target comes next, on a machine with few cores; a fixed order would charge it
    to the same neighbour every round."""
    samples: dict[str, list[float]] = {name: [] for name in urls}
    headers = {"content-type": "application/json"}
    order = list(urls.items())
    shuffle = random.Random(0).shuffle
    async with aiohttp.ClientSession() as session:
        for i in range(n + 50):
            shuffle(order)
            for name, url in order:
                started = time.perf_counter()
                async with session.post(url, data=REQUEST, headers=headers) as response:
                    await response.read()
                if i >= 50:  # the first rounds warm connections and caches
                    samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def cached_policy(workdir: Path, upstream: int) -> Path:
    """The bench's chain policy with its bench route cached in memory (every request the same: hits)."""
    chain = sidecar_policy(workdir, upstream, "chain")
    path = workdir / "policy-cache-hit.yaml"
    path.write_text(chain.read_text().replace("  - name: bench\n", CACHED_ROUTE, 1))
    return path


def start_sidecars(
    workdir: Path, upstream: int, name: str, code: Path | None, cache_hit: bool, procs: list[subprocess.Popen[bytes]]
) -> dict[str, str]:
    """The sidecar from ``code`` (None: this tree) named ``name``, and its cached twin with ``cache_hit``:
    their URLs by name (the processes appended to ``procs``)."""
    policies = {name: sidecar_policy(workdir, upstream, "chain")}
    if cache_hit:
        policies[f"{name} cache hit"] = cached_policy(workdir, upstream)
    urls = {}
    for index, (label, policy) in enumerate(policies.items()):
        ports = workdir / f"{name.replace('@', '-')}-{index}.ports"
        procs.append(start_sidecar(policy, ports, {}, code)[0])
        urls[label] = f"http://127.0.0.1:{read_port(ports)}/v1/chat/completions"
    return urls


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision (e.g. main)")
    parser.add_argument("--cache-hit", action="store_true", help="also each sidecar answering from its memory cache")
    args = parser.parse_args()
    if not tools_present("nginx"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="added-latency-"))
    nginx, upstream = nginx_on_free_port(workdir)
    procs: list[subprocess.Popen[bytes]] = [nginx]
    try:
        procs.append(start_minimal(upstream, workdir / "minimal.ports"))
        minimal_port = read_port(workdir / "minimal.ports")
        urls = {
            "direct (nginx)": f"http://127.0.0.1:{upstream}/v1/chat/completions",
            "minimal aiohttp proxy": f"http://127.0.0.1:{minimal_port}/v1/chat/completions",
        }
        urls |= start_sidecars(workdir, upstream, "sidecar", None, args.cache_hit, procs)
        if args.baseline:
            code = checkout(args.baseline, workdir)
            urls |= start_sidecars(workdir, upstream, f"sidecar@{args.baseline}", code, args.cache_hit, procs)
        samples = asyncio.run(alternate(urls, args.requests))
    finally:
        stop_all(procs)
    options = f"{f' --baseline {args.baseline}' if args.baseline else ''}{' --cache-hit' if args.cache_hit else ''}"
    print(
        f"Command: `python bench/added_latency.py --requests {args.requests}{options}` "
        f"({time.strftime('%Y-%m-%d %H:%M')})\n\n"
        "| target | p50 (ms) | p90 (ms) | added p50 (ms) |\n|---|---|---|---|"
    )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    direct = medians["direct (nginx)"]
    for name, values in samples.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {name} | {medians[name]:.3f} | {p90:.3f} | {medians[name] - direct:+.3f} |")
    if args.baseline:
        print()
        for suffix in ("", " cache hit") if args.cache_hit else ("",):
            ours, theirs = medians[f"sidecar{suffix}"], medians[f"sidecar@{args.baseline}{suffix}"]
            print(f"this tree - {args.baseline}{suffix}: {ours - theirs:+.3f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
