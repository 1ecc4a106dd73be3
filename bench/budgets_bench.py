"""What budgets add to one request: admission + settlement, local and on Redis over loopback.

    python bench/budgets_bench.py [--requests N] [--redis-server PATH]

Measured in one run, on the real objects (sidecar.budgets.Ledger), sequentially (one request at a time,
so the times are the added latency of one request, not a throughput):

1. local store: a ledger with no limits (the baseline: what the call itself costs), then with five limits
   of every kind (USD per day by x-team, tokens per minute by app, requests per minute global, USD per
   month per key, a provider's tokens-per-minute quota); the added CPU per admission + settlement.
2. Redis: a redis-server started on a free loopback port; the same five limits on a ``redis://`` store;
   script calls per request (Redis INFO commandstats), and p50 / p99 of admission + settlement.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from listening import start_redis

from sidecar.budgets import BudgetRequest, Ledger, compile_budgets, open_ledger
from sidecar.policy.spec import ModelSpec, PriceSpec
from sidecar.translate import Usage

MODELS = {
    "gpt": ModelSpec(provider="openai", model="gpt-4o", price=PriceSpec(input_per_mtok=2.5, output_per_mtok=10)),
}
FIVE_LIMITS: list[dict[str, Any]] = [
    {
        "name": "team-day",
        "measure": "usd",
        "amount": 1e6,
        "window": "day",
        "scope": {"by": "header", "header": "x-team"},
    },
    {"name": "app-tpm", "measure": "tokens", "amount": 1e9, "window": "minute", "scope": {"by": "app"}},
    {"name": "rpm", "measure": "requests", "amount": 1e9, "window": "minute"},
    {"name": "key-month", "measure": "usd", "amount": 1e6, "window": "month", "scope": {"by": "key"}},
    {
        "name": "openai-tpm",
        "measure": "tokens",
        "amount": 1e9,
        "window": "minute",
        "scope": {"by": "provider", "values": ["openai"], "others": "exempt"},
    },
]
REQUEST = BudgetRequest(
    input_tokens=500, max_output_tokens=300, app="web", headers={"x-team": "search"}, key_hash="0123456789abcdef"
)
USAGE = Usage(input_tokens=500, output_tokens=120)


def ledger_for(limits: list[dict[str, Any]], store: str = "local") -> Ledger:
    budgets = compile_budgets(
        {"store": {"url": store, "timeout_ms": 1000}, "limits": limits}, models=MODELS, providers=["openai"]
    )
    return open_ledger(budgets)


async def cpu_per_request(ledger: Ledger, n: int) -> float:
    """CPU microseconds (process time: time slices lost to other processes excluded) per admission +
    settlement, best of five rounds (the machine is shared)."""
    chain = [ledger.budgets.target("gpt")]
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(n):
            admission = await ledger.admit(REQUEST, chain)
            await admission.settle(USAGE)
        rounds.append((time.process_time() - started) / n * 1e6)
    return min(rounds)


async def latencies(ledger: Ledger, n: int) -> tuple[list[float], list[float]]:
    """Milliseconds of each admission and of each settlement."""
    chain = [ledger.budgets.target("gpt")]
    admits, settles = [], []
    for _ in range(n):
        started = time.perf_counter()
        admission = await ledger.admit(REQUEST, chain)
        admitted = time.perf_counter()
        await admission.settle(USAGE)
        admits.append((admitted - started) * 1e3)
        settles.append((time.perf_counter() - admitted) * 1e3)
    return admits, settles


def script_calls(port: int) -> int:
    with redis.Redis(port=port) as client:
        stats = client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))


async def main(requests: int, redis_binary: str | None) -> None:
    baseline = await cpu_per_request(ledger_for([]), requests)
    five = await cpu_per_request(ledger_for(FIVE_LIMITS), requests)
    print(
        f"local, no limits:   {baseline:6.2f} us per admission + settlement ({requests} requests, best of 5, CPU time)"
    )
    print(f"local, five limits: {five:6.2f} us per admission + settlement")
    print(f"added by five local limits: {five - baseline:.2f} us = {(five - baseline) / 1000:.4f} ms per request")
    if not redis_binary:
        print("redis-server not found: Redis part skipped")
        return
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start_redis(Path(workdir))
        try:
            url = f"redis://127.0.0.1:{port}/0"
            shared = ledger_for(FIVE_LIMITS, url)
            local = ledger_for(FIVE_LIMITS)
            await latencies(shared, 200)  # warm up: connections, scripts loaded
            before = script_calls(port)
            n = min(requests, 5000)
            admits, settles = await latencies(shared, n)
            calls = (script_calls(port) - before) / n
            local_admits, local_settles = await latencies(local, n)
            await shared.close()
            print(f"redis: {calls:.2f} script calls per request (one admission + one settlement), {n} requests")
            for name, redis_ms, local_ms in (
                ("admission", admits, local_admits),
                ("settlement", settles, local_settles),
            ):
                p50, p99 = statistics.median(redis_ms), statistics.quantiles(redis_ms, n=100)[98]
                added = p50 - statistics.median(local_ms)
                local_p99 = statistics.quantiles(local_ms, n=100)[98]
                print(f"{name:>10} on redis: p50 {p50:.3f} ms, p99 {p99:.3f} ms; added over local: p50 {added:.3f} ms")
                print(f"{name:>10} on local: p99 {local_p99:.3f} ms (same run)")
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.redis_server))
