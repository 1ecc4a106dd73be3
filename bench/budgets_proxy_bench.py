"""Budgets through the real sidecar: what five active limits cost a request, local and on Redis, in one run.

    python bench/budgets_proxy_bench.py [--seconds 5] [--rounds 4] [--requests 400] [--unoptimised]

Three ``llm-sidecar run`` processes side by side in front of one nginx upstream (a fixed chat answer):
``none`` (the bench policy, no budgets), ``local`` (five limits of every kind, local store) and
``redis`` (the same five on a redis-server this script starts on a free loopback port). The five limits:
USD per day by the ``x-team`` header, tokens per minute by app, requests per minute global, USD per
month per caller key, the provider's tokens-per-minute quota (amounts too large to refuse anything).

Measured, in interleaved rounds whose order changes (``measuring.in_turn``), medians reported:

1. req/s at 32 connections (wrk, one thread), per variant, and each variant's ratio to ``none``;
2. p50 latency of one request at a time (aiohttp, the variants alternating request by request), and
   what ``local`` and ``redis`` add to ``none``: ``--requests`` per variant in each of ``--rounds`` rounds,
   the median of the rounds' differences reported (one round's difference moves by about 0.01 ms);
3. Redis script calls per request (``INFO commandstats``: EVALSHA/EVAL calls over a counted number of
   sequential requests): the admission, which carries the settlements of the answers before it (a
   settlement no admission carries within 20 ms is sent alone, so a little above 1.00).

The sidecars start as the image runs them (``python -OO -P -m sidecar run`` from compiled bytecode;
``--unoptimised``: ``python -m sidecar run``). Needs nginx, wrk and redis-server. Compare ratios within
one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from listening import read_port, start_redis, stop_all
from measuring import REQUEST, chat_script, cpu_s, in_turn, wrk
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import compile_bytecode, sidecar_policy, start_sidecar, started_as

LIMITS = """
budgets:
  STORE
  limits:
    - {name: team-day, measure: usd, amount: 1000000, window: day, scope: {by: header, header: x-team}}
    - {name: app-tpm, measure: tokens, amount: 1000000000, window: minute, scope: {by: app}}
    - {name: rpm, measure: requests, amount: 1000000000, window: minute}
    - {name: key-month, measure: usd, amount: 1000000, window: month, scope: {by: key}}
    - {name: nginx-tpm, measure: tokens, amount: 1000000000, window: minute, scope: {by: provider, values: [nginx]}}
"""


def script_calls(port: int) -> int:
    stats = redis.Redis(port=port).info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


async def sequential_p50(urls: dict[str, str], n: int) -> dict[str, float]:
    """Median ms of one non-streamed chat request, the variants alternating request by request."""
    import aiohttp

    samples: dict[str, list[float]] = {name: [] for name in urls}
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench", "x-team": "search"}
    async with aiohttp.ClientSession() as session:
        for i in range(n):
            for name in in_turn(list(urls), i):
                started = time.perf_counter()
                async with session.post(urls[name], data=REQUEST, headers=headers) as response:
                    await response.read()
                    assert response.status == 200, await response.text()
                samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--unoptimised", action="store_true", help="python -m sidecar run, not -OO (the image)")
    args = parser.parse_args()
    optimised = not args.unoptimised
    print(started_as(optimised), flush=True)
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nginx, upstream = nginx_on_free_port(work)
        running: list[subprocess.Popen[bytes]] = [nginx]
        try:
            redis_proc, redis_port = start_redis(work)
            running.append(redis_proc)
            base = sidecar_policy(work, upstream, "single").read_text()
            policies = {
                "none": base,
                "local": base + LIMITS.replace("STORE", "store: local"),
                "redis": base + LIMITS.replace("STORE", f"store: redis://127.0.0.1:{redis_port}/0"),
            }
            urls: dict[str, str] = {}
            pids: dict[str, int] = {}
            for name, text in policies.items():
                path = work / f"budgets-{name}.yaml"
                path.write_text(text)
                proc, _ = start_sidecar(
                    path, work / f"{name}.ports", {"SIDECAR_LOG_LEVEL": "warning"}, optimised=optimised
                )
                port = read_port(work / f"{name}.ports")
                running.append(proc)
                pids[name] = proc.pid
                urls[name] = f"http://127.0.0.1:{port}/v1/chat/completions"
            script = chat_script(work)
            for url in urls.values():  # warm-up: connections, Redis scripts loaded
                wrk(url, 4, 1, script)
            before = script_calls(redis_port)
            counted = asyncio.run(sequential_p50({"redis": urls["redis"]}, 200))
            time.sleep(0.5)  # the last settlements
            calls_per_request = (script_calls(redis_port) - before) / 200
            rps: dict[str, list[float]] = {name: [] for name in urls}
            cpu_us: dict[str, list[float]] = {name: [] for name in urls}
            for round_number in range(args.rounds):
                for name in in_turn(list(urls), round_number):
                    cpu_before = cpu_s(pids[name])
                    result = wrk(urls[name], 32, args.seconds, script)
                    cpu_us[name].append((cpu_s(pids[name]) - cpu_before) * 1e6 / (result["rps"] * args.seconds))
                    if result["errors"]:
                        print(f"{name}: {result['errors']:.0f} non-2xx answers", file=sys.stderr)
                    rps[name].append(result["rps"])
            p50_rounds = [asyncio.run(sequential_p50(urls, args.requests)) for _ in range(args.rounds)]
        finally:
            stop_all(running, timeout=10)
    median_rps = {name: statistics.median(values) for name, values in rps.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu_us.items()}
    p50 = {name: statistics.median(p[name] for p in p50_rounds) for name in urls}
    added = {name: [p[name] - p["none"] for p in p50_rounds] for name in urls}
    print(f"redis p50 (warm-up round, alone): {counted['redis']:.3f} ms")
    print(f"redis script calls per request: {calls_per_request:.2f} (the admission, carrying earlier settlements)")
    print("variant  req/s  rounds  ratio  | sidecar CPU us/request  ratio  | p50 ms (sequential)  added [rounds]")
    for name in urls:
        print(
            f"{name:7}  {median_rps[name]:6.0f}  {[round(v) for v in rps[name]]}  "
            f"{median_rps[name] / median_rps['none']:.3f}  | {median_cpu[name]:6.1f}  "
            f"{median_cpu[name] / median_cpu['none']:.3f}  | {p50[name]:.3f}  {statistics.median(added[name]):+.3f} "
            f"[{', '.join(f'{value:+.3f}' for value in added[name])}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
