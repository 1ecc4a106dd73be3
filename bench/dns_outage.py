"""A provider whose name does not resolve, as the only target: how long requests take and how many queue.

    python bench/dns_outage.py [--rate 200] [--seconds 10] [--baseline REF]

The sidecar (started as the image starts it) serves a route whose one target's ``base_url`` is
``http://llm-provider.example.invalid:8080``: every lookup of it fails, most in well under 1 ms, a few
(glibc's resolver retrying a lost answer) after about 5 s. Non-streaming chat requests arrive at
``--rate`` a second for ``--seconds`` (each one answered with an error: the point is how soon); printed:
the latency percentiles, the most requests in flight at once, and the answers' statuses. Before the
name lookup was bounded and a failed one remembered (``sidecar/upstream/resolver.py``), every request
arriving during a slow lookup waited for it (aiohttp merges the lookups of one host) and every request
looked the name up again. ``--baseline REF``: the same with the ``sidecar`` package of git revision REF
first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from listening import read_port
from sidecar_under_test import checkout, start_sidecar

POLICY = """
version: 1
providers:
  gone: {dialect: openai, base_url: "http://llm-provider.example.invalid:8080/v1", api_key: {env: BENCH_KEY}}
models:
  m: {provider: gone, model: up}
routes:
  - {name: only, match: {model: m}, target: m}
"""
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'


async def load(url: str, rate: int, seconds: float) -> dict[str, object]:
    """``rate`` requests a second for ``seconds``; latencies (ms), the most in flight, the statuses."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    in_flight = most = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        started = time.monotonic()
        try:
            async with session.post(url, data=BODY, headers={"content-type": "application/json"}) as response:
                await response.read()
                statuses[response.status] += 1
        except aiohttp.ClientError as exc:
            statuses[type(exc).__name__] += 1
        latencies.append((time.monotonic() - started) * 1000)
        in_flight -= 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": cuts[49], "p99_ms": cuts[98], "max_ms": max(latencies), "most_in_flight": most,
            "statuses": dict(statuses)}  # fmt: skip


def run(code: Path | None, workdir: Path, rate: int, seconds: float) -> dict[str, object]:
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    ports = workdir / "ports.json"
    proc, _ = start_sidecar(policy, ports, {"BENCH_KEY": "k", "SIDECAR_LOG_LEVEL": "warning"}, code)
    try:
        url = f"http://127.0.0.1:{read_port(ports)}/v1/chat/completions"
        return asyncio.run(load(url, rate, seconds))
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline", help="also measure this git revision's package (first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        codes: list[tuple[str, Path | None]] = []
        if args.baseline:
            codes.append((args.baseline, checkout(args.baseline, workdir)))
        codes.append(("this tree", None))
        baseline = f" --baseline {args.baseline}" if args.baseline else ""
        print(f"Command: `python bench/dns_outage.py --rate {args.rate} --seconds {args.seconds:g}{baseline}`")
        print(f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)\n")
        print("| code | p50 ms | p99 ms | max ms | most in flight | statuses |\n|---|---|---|---|---|---|")
        for name, code in codes:
            r = run(code, workdir, args.rate, args.seconds)
            print(
                f"| {name} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['most_in_flight']} "
                f"| {r['statuses']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
