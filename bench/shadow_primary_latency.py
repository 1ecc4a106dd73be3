"""Does a shadow candidate that stalls, crawls or refuses slow the served request? The primary's latency
through real sidecar processes with shadow off and on, in the same run.

Fake providers (subprocesses): ``primary`` answers at once; ``stalled`` sends nothing for longer than the
route's deadline; ``slow`` answers after 300 ms; ``limited`` answers 429 to every call. One sidecar per
configuration (subprocesses, default settings), each with one route ``bench`` served by ``primary``:

- ``off``:          no shadow block
- ``stalled``:      shadow sample 1.0 to the stalled candidate (``max_concurrent`` default 4)
- ``stalled-1000``: the same with ``max_concurrent: 1000`` (the schema's maximum)
- ``slow``:         shadow sample 1.0 to the slow candidate
- ``limited``:      shadow sample 1.0 to the candidate answering 429

Requests go in rounds, each configuration in turn per round (``--rounds``, ``--requests`` per round, at
``--concurrency``), so the shared machine's noise falls on all alike. Reported per configuration: p50 and
p99 of the client-measured latency and their ratio to ``off``'s (over every round, and over the rounds
after the first), the sidecar's peak RSS, the /status shadow
row's counts, and the calls in flight at the stalled candidate at the end (the bound, two sidecars').

    .venv/bin/python bench/shadow_primary_latency.py --rounds 6 --requests 250 --concurrency 8
    .venv/bin/python bench/shadow_primary_latency.py --rounds 6 --requests 250 --warmup 1100   # slots full first
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from chaos_stack import Fake, Procs, Sidecar, fake_command, fake_get, send, start_sidecar, wait_http
from listening import wait_port
from measuring import peak_rss_mb

CANDIDATES = {
    "stalled": ["--latency-ms", "600000"],
    "slow": ["--latency-ms", "300"],
    "limited": ["--fault", "status=429"],
}
CONFIGS = {
    "off": None,
    "stalled": ("stalled", {}),
    "stalled-1000": ("stalled", {"max_concurrent": 1000}),
    "slow": ("slow", {}),
    "limited": ("limited", {}),
}


def policy(urls: dict[str, str], shadow: tuple[str, dict[str, Any]] | None) -> dict[str, Any]:
    route: dict[str, Any] = {"name": "bench", "target": "primary"}
    if shadow is not None:
        candidate, extra = shadow
        route["shadow"] = {"candidates": [candidate], "sample": 1.0, **extra}
    return {
        "version": 1,
        "defaults": {"resilience": {"deadline_s": 30, "timeouts": {"first_byte_s": 20}}},
        "providers": {name: {"dialect": "fake", "base_url": url} for name, url in urls.items()},
        "models": {name: {"provider": name, "model": f"model-{name}"} for name in urls},
        "routes": [route],
    }


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def burst(session: aiohttp.ClientSession, url: str, requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            result = await send(session, url, timeout=30)
            if not result.ok:
                raise RuntimeError(f"a served request failed: {result.error}")
            latencies.append(result.latency)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="shadow-bench-"))
    procs = Procs(workdir)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            fakes: dict[str, Fake] = {}
            for name, extra in {"primary": [], **CANDIDATES}.items():
                fake = fakes[name] = Fake(name)
                ports = workdir / f"{name}.ports"
                fake.proc = procs.start(name, fake_command(fake, ports, extra))
                fake.port = await asyncio.to_thread(wait_port, ports, fake.proc)
                await wait_http(session, fake.url + "/_fake/stats")
            urls = {name: fake.url for name, fake in fakes.items()}
            sidecars: dict[str, Sidecar] = {}
            for label, shadow in CONFIGS.items():
                path = workdir / f"{label}.json"
                path.write_text(json.dumps(policy(urls, shadow)))
                sidecars[label] = (await start_sidecar(procs, session, path, label))[0]
            latencies: dict[str, list[float]] = {label: [] for label in CONFIGS}
            later: dict[str, list[float]] = {label: [] for label in CONFIGS}  # the rounds after the first
            for sidecar in sidecars.values():  # warm-up, not counted (--warmup 1100 fills 1,000 slots first)
                await burst(session, sidecar.url, args.warmup, args.concurrency)
            for round_number in range(args.rounds):
                for label, sidecar in sidecars.items():
                    measured = await burst(session, sidecar.url, args.requests, args.concurrency)
                    latencies[label] += measured
                    if round_number:
                        later[label] += measured
            stalled_in_flight = (await fake_get(session, fakes["stalled"], "/_fake/stats"))["in_flight"]
            base50, base99 = quantile(latencies["off"], 0.5), quantile(latencies["off"], 0.99)
            print(f"{len(latencies['off'])} requests per configuration, concurrency {args.concurrency}")
            print(
                "| configuration | p50 ms | p99 ms | p50 / off | p99 / off | after round 1: p50 / off, p99 / off"
                " | RSS MB | shadow row |"
            )
            print("|---|---|---|---|---|---|---|---|")
            late50, late99 = quantile(later["off"], 0.5), quantile(later["off"], 0.99)
            for label, sidecar in sidecars.items():
                async with session.get(sidecar.url + "/status") as response:
                    rows = (await response.json())["shadow"]
                counts = {k: rows[0][k] for k in ("compared", "failed", "skipped")} if rows else {}
                p50, p99 = quantile(latencies[label], 0.5), quantile(latencies[label], 0.99)
                after = f"{quantile(later[label], 0.5) / late50:.2f}, {quantile(later[label], 0.99) / late99:.2f}"
                print(
                    f"| {label} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {p50 / base50:.2f} | {p99 / base99:.2f}"
                    f" | {after} | {peak_rss_mb(sidecar.proc.pid):.0f} | {counts} |"
                )
            print(f"calls in flight at the stalled candidate at the end (two sidecars): {stalled_in_flight}")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=50, help="requests to each sidecar before measuring")
    started = time.monotonic()
    asyncio.run(main(parser.parse_args()))
    print(f"took {time.monotonic() - started:.0f} s", file=sys.stderr)
