"""The response cache on the request path, through the real sidecar (issue 21), in one run.

    python bench/cache_path.py [--requests 3000] [--seconds 5] [--rounds 2] [--entries 10000]

Upstream: nginx answering every POST with a fixed chat.completion (bench/proxy_bench.py). Targets, all
running side by side: nginx direct, the featureless aiohttp proxy (bench/minimal_proxy.py), a sidecar
with a memory cache and a sidecar with a Redis cache (a ``redis-server`` this script starts on a free
port). Each sidecar's policy has a route that does not cache (``plain``) and one that does
(``cached``, ``cacheable: always``).

- **Latency at one connection** (``--requests`` rounds; each round one request to every probe in turn
  on kept-alive connections, so that the shared machine's noise falls on all alike): p50 and p90 of
  nginx direct, the featureless proxy, the sidecar's plain route, a memory hit, a Redis hit; and a
  miss (a body made unique by a counter, so every request is looked up, missed, called upstream and
  stored) against the plain route given the same unique bodies. In the same turns, the Redis hit's own
  ``GET`` sent by this client straight to the ``redis-server`` (asyncio streams, the entry's key, the
  same value's bytes back): the round trip's floor in this pattern, where each process sleeps between
  its turns (the Redis hit's wall time by phase: docs/benchmarks.md, "Wave 54 `cache55`").
- **CPU per request** of the memory sidecar (/proc: user + system), ``--requests`` in a row per probe
  and run, probes in turn: the route without cache and a miss (unique bodies), and a hit.
- **Throughput** (wrk, one thread, 32 connections, ``--seconds`` per run, ``--rounds`` rounds in turn):
  req/s of the featureless proxy, of the sidecar's plain route and of a memory hit.
- **Memory**: two fresh sidecars, one whose route caches in memory and one whose route does not, each
  sent ``--entries`` unique requests answered by a 2 KB completion (a second nginx); the difference
  of their VmRSS against the memory store's byte bound and what it counts as held.

Targets (issue 21): hit p50 at most the featureless proxy's added latency + 0.05 ms and at least 2x its
req/s; a miss at most +0.02 ms over the plain route; a Redis hit at most +0.3 ms over a memory hit; RSS
growth of 10,000 2 KB entries under the byte bound + 20%. Needs nginx, wrk and redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
from listening import read_port, start_redis, stop_all
from measuring import REQUEST, cpu_s, in_turn, rss_mb, tools_present, wait_http, wrk
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import sidecar_on_port_zero, start_minimal

CACHED_REQUEST = REQUEST.replace('"bench-model"', '"cached-model"')
MAX_BYTES = 24 * 1024 * 1024
READY_S = 120.0  # a sidecar starting on a busy shared machine


def policy(workdir: Path, name: str, upstream: int, store: str) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(
        f"""version: 1
providers:
  nginx: {{kind: openai, base_url: "http://127.0.0.1:{upstream}/v1"}}
models:
  bench-model: {{provider: nginx, model: bench-upstream, price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
routes:
  - {{name: plain, match: {{model: bench-model}}, target: bench-model}}
  - {{name: cached, match: {{model: cached-model}}, target: bench-model, cache: {{enabled: true, cacheable: always}}}}
cache: {store}
"""
    )
    return path


def unique(request: str, counter: Callable[[], int]) -> Callable[[], str]:
    """Bodies of ``request`` made unique by a counter in the user's text (the same length each)."""
    return lambda: request.replace("in one short sentence", f"in one short sentence {counter():08d}")


class RedisGet:
    """The Redis hit's ``GET``, sent by this client straight to ``redis-server`` on a kept connection: the
    key is the one entry Redis holds (found once it is there: the Redis sidecar's first hit stored it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.command = b""
        self.got = 0  # the bytes of the last reply

    async def __call__(self) -> None:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        if not self.command:
            writer.write(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
            count = int((await reader.readuntil(b"\r\n"))[1:-2])
            keys = [
                (await reader.readexactly(int((await reader.readuntil(b"\r\n"))[1:-2]) + 2))[:-2] for _ in range(count)
            ]
            if len(keys) != 1:
                return
            self.command = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(keys[0]), keys[0])
        writer.write(self.command)
        size = int((await reader.readuntil(b"\r\n"))[1:-2])
        self.got = len(await reader.readexactly(size + 2)) - 2 if size >= 0 else 0

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def alternate(
    probes: dict[str, tuple[str, Callable[[], str]]],
    n: int,
    served: dict[str, Counter[str]] | None = None,
    direct: dict[str, RedisGet] | None = None,
) -> dict[str, list[float]]:
    """Latency samples (ms) per probe; ``served`` counts each probe's ``x-sidecar-cache`` answers; ``direct``:
    calls timed in the same turns (a Redis ``GET`` straight to the server)."""
    direct = direct or {}
    samples: dict[str, list[float]] = {name: [] for name in [*probes, *direct]}
    headers = {"content-type": "application/json"}
    names = [*probes, *direct]
    sessions = {name: aiohttp.ClientSession() for name in probes}  # a kept-alive connection each
    try:
        for i in range(n + 100):
            for name in in_turn(names, i):
                if name in direct:
                    started = time.perf_counter()
                    await direct[name]()
                    if i >= 100:
                        samples[name].append((time.perf_counter() - started) * 1000)
                    continue
                url, body = probes[name]
                data = body()
                started = time.perf_counter()
                async with sessions[name].post(url, data=data, headers=headers) as response:
                    await response.read()
                    assert response.status == 200, (name, response.status)
                if served is not None:
                    served.setdefault(name, Counter())[response.headers.get("x-sidecar-cache", "-")] += 1
                if i >= 100:  # the first rounds warm connections (and the cache for the hits)
                    samples[name].append((time.perf_counter() - started) * 1000)
    finally:
        for session in sessions.values():
            await session.close()
        for call in direct.values():
            await call.close()
    return samples


async def cpu_per_request(
    pid: int, url: str, probes: dict[str, Callable[[], str]], n: int, rounds: int
) -> dict[str, list[float]]:
    """The sidecar's CPU microseconds per request for each probe: ``n`` requests in a row on one
    connection, probes in turn over ``rounds`` rounds (CPU time counts no waiting: it shows what the
    cache adds even when the machine's load moves latencies by more than that)."""
    out: dict[str, list[float]] = {name: [] for name in probes}
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for round_number in range(rounds * 2):
            for name in in_turn(list(probes), round_number):
                body = probes[name]
                before = cpu_s(pid)
                for _ in range(n):
                    async with session.post(url, data=body(), headers=headers) as response:
                        await response.read()
                await asyncio.sleep(0.05)  # the last request's deferred work (the entry, its write) included
                out[name].append((cpu_s(pid) - before) / n * 1e6)
    return out


async def fill(url: str, n: int, body: Callable[[], str], concurrency: int = 16) -> None:
    headers = {"content-type": "application/json"}
    queue = iter(range(n))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for _ in queue:
                async with session.post(url, data=body(), headers=headers) as response:
                    await response.read()
                    assert response.status == 200, response.status

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def metric(port: int, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return float("nan")


def answer_2k() -> str:
    text = ("The sidecar answers repeated requests from its cache without calling a provider. " * 30)[:2000]
    return json.dumps(
        {
            "id": "chatcmpl-2k",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "bench-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 31, "completion_tokens": 400, "total_tokens": 431},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    if not tools_present("nginx", "wrk") or not shutil.which("redis-server"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="cache-path-"))
    nginx, upstream = nginx_on_free_port(workdir)
    procs: list[subprocess.Popen[bytes]] = [nginx]
    lines = [
        f"Command: `python bench/cache_path.py --requests {args.requests} --seconds {args.seconds} "
        f"--rounds {args.rounds} --entries {args.entries}` ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
    ]
    try:
        redis, redis_port = start_redis(workdir)
        procs.append(redis)
        procs.append(start_minimal(upstream, workdir / "minimal.ports"))
        minimal_port = read_port(workdir / "minimal.ports")
        memory = policy(workdir, "memory", upstream, "{memory: {max_entries: 100000}}")
        sidecar, memory_port = sidecar_on_port_zero(memory, workdir / "memory.ports", {}, ready_timeout_s=READY_S)
        procs.append(sidecar)
        in_redis = policy(
            workdir, "redis", upstream, f"{{redis: {{url: 'redis://127.0.0.1:{redis_port}/0', timeout_s: 1}}}}"
        )
        sidecar, redis_sidecar_port = sidecar_on_port_zero(
            in_redis, workdir / "redis.ports", {}, ready_timeout_s=READY_S
        )
        procs.append(sidecar)
        counter = iter(range(10**9))
        count = counter.__next__
        plain, minimal = (f"http://127.0.0.1:{p}/v1/chat/completions" for p in (memory_port, minimal_port))
        fixed, hit = (lambda: REQUEST), (lambda: CACHED_REQUEST)
        probes = {
            "nginx direct": (f"http://127.0.0.1:{upstream}/v1/chat/completions", fixed),
            "featureless proxy": (minimal, fixed),
            "sidecar, route without cache": (plain, fixed),
            "sidecar, memory hit": (plain, hit),
            "sidecar, Redis hit": (f"http://127.0.0.1:{redis_sidecar_port}/v1/chat/completions", hit),
            "sidecar, route without cache, unique bodies": (plain, unique(REQUEST, count)),
            "sidecar, memory miss (unique bodies)": (plain, unique(CACHED_REQUEST, count)),
        }
        served: dict[str, Counter[str]] = {}
        redis_get = RedisGet(redis_port)
        samples = asyncio.run(
            alternate(probes, args.requests, served, {"Redis GET, straight to redis-server": redis_get})
        )
        memory_pid = procs[3].pid
        cpu_probes = {
            "route without cache, unique bodies": unique(REQUEST, count),
            "memory miss, unique bodies": unique(CACHED_REQUEST, count),
            "memory hit": hit,
        }
        cpu = asyncio.run(cpu_per_request(memory_pid, plain, cpu_probes, args.requests, args.rounds))
        p50 = {name: statistics.median(values) for name, values in samples.items()}
        direct = p50["nginx direct"]
        lines += ["| probe (1 connection) | p50 (ms) | p90 (ms) | added p50 over nginx (ms) |", "|---|---|---|---|"]
        for name, values in samples.items():
            p90 = statistics.quantiles(values, n=10)[-1]
            lines.append(f"| {name} | {p50[name]:.3f} | {p90:.3f} | {p50[name] - direct:+.3f} |")
        lines += ["", "x-sidecar-cache of the answers: " + "; ".join(f"{k}: {dict(v)}" for k, v in served.items())]
        lines += [f"Redis GET straight to redis-server: a {redis_get.got:,}-byte value (the Redis hit's entry)"]

        lines += [
            "",
            f"| sidecar CPU per request ({args.requests} in a row per run, {args.rounds * 2} runs) | us, median run |"
            " us, runs |",
            "|---|---|---|",
        ]
        for name, values in cpu.items():
            runs_text = ", ".join(f"{v:.0f}" for v in values)
            lines.append(f"| {name} | {statistics.median(values):.0f} | {runs_text} |")
        script_dir = workdir / "wrk"
        script_dir.mkdir()
        scripts = {}
        for name, body in (("fixed", REQUEST), ("hit", CACHED_REQUEST)):
            scripts[name] = script_dir / f"{name}.lua"
            scripts[name].write_text(
                f'wrk.method = "POST"\nwrk.body = [[{body}]]\nwrk.headers["Content-Type"] = "application/json"\n'
            )
        runs = {
            "featureless proxy": (minimal, "fixed"),
            "sidecar, route without cache": (plain, "fixed"),
            "sidecar, memory hit": (plain, "hit"),
        }
        rps: dict[str, list[float]] = {name: [] for name in runs}
        for round_number in range(args.rounds * 2):
            for name in in_turn(list(runs), round_number):
                url, script = runs[name]
                rps[name].append(wrk(url, 32, args.seconds, scripts[script])["rps"])
        lines += ["", "| target (wrk, 32 connections) | req/s (median of runs) |", "|---|---|"]
        for name, values in rps.items():
            lines.append(f"| {name} | {statistics.median(values):,.0f} |")
        minimal_added = p50["featureless proxy"] - direct
        hit_vs_proxy = p50["sidecar, memory hit"] - p50["featureless proxy"]
        rps_ratio = statistics.median(rps["sidecar, memory hit"]) / statistics.median(rps["featureless proxy"])
        miss = p50["sidecar, memory miss (unique bodies)"] - p50["sidecar, route without cache, unique bodies"]
        redis_vs_memory = p50["sidecar, Redis hit"] - p50["sidecar, memory hit"]
        miss_cpu = statistics.median(cpu["memory miss, unique bodies"]) - statistics.median(
            cpu["route without cache, unique bodies"]
        )
        lines += [
            "",
            f"- memory hit p50 - featureless proxy p50: {hit_vs_proxy:+.3f} ms "
            f"(the proxy adds {minimal_added:.3f} ms over nginx; target: hit <= proxy + 0.05 ms)",
            f"- memory hit req/s / featureless proxy req/s: {rps_ratio:.2f}x (target >= 2x)",
            f"- miss - route without cache (same unique bodies): {miss:+.3f} ms (target <= +0.02 ms)",
            f"- Redis hit - memory hit: {redis_vs_memory:+.3f} ms (target <= +0.3 ms); its GET straight to "
            f"redis-server from this client, in the same turns: {p50['Redis GET, straight to redis-server']:.3f} ms",
            f"- CPU of a miss over the route without cache: {miss_cpu:+.1f} us per request",
        ]
    finally:
        stop_all(procs)
    lines += ["", *memory_case(workdir, args.entries)]
    print("\n".join(lines))
    return 0


def memory_case(workdir: Path, entries: int) -> list[str]:
    """RSS of a sidecar holding ``entries`` 2 KB answers against one that caches nothing, same traffic."""
    big = workdir / "big"
    big.mkdir()
    nginx, upstream = nginx_on_free_port(big)
    (big / "www/chat.json").write_text(answer_2k())  # nginx reads the file per request
    procs = [nginx]
    try:
        store = f"{{memory: {{max_entries: {entries}, max_bytes: {MAX_BYTES}}}}}"
        cached, cached_port = sidecar_on_port_zero(
            policy(big, "rss-cached", upstream, store), big / "cached.ports", {}, ready_timeout_s=READY_S
        )
        plain, plain_port = sidecar_on_port_zero(
            policy(big, "rss-plain", upstream, store), big / "plain.ports", {}, ready_timeout_s=READY_S
        )
        procs += [cached, plain]
        counter = iter(range(10**9))
        before = {"cached": rss_mb(cached.pid), "plain": rss_mb(plain.pid)}
        url = "http://127.0.0.1:{}/v1/chat/completions"
        asyncio.run(fill(url.format(cached_port), entries, unique(CACHED_REQUEST, counter.__next__)))
        asyncio.run(fill(url.format(plain_port), entries, unique(REQUEST, counter.__next__)))
        wait_http(f"http://127.0.0.1:{cached_port}/readyz", timeout=READY_S)
        after = {"cached": rss_mb(cached.pid), "plain": rss_mb(plain.pid)}
        held = metric(cached_port, "llm_sidecar_cache_bytes") / 2**20
        count = metric(cached_port, "llm_sidecar_cache_entries")
    finally:
        stop_all(procs)
    grown = {name: after[name] - before[name] for name in after}
    extra = grown["cached"] - grown["plain"]
    bound = MAX_BYTES / 2**20
    rows = [
        f"| {label} | {before[name]:.1f} | {after[name]:.1f} | {grown[name]:.1f} |"
        for name, label in (("cached", "sidecar, route caching in memory"), ("plain", "sidecar, route without cache"))
    ]
    return [
        f"| {entries:,} unique requests, 2 KB answers | VmRSS before (MiB) | after (MiB) | grown (MiB) |",
        "|---|---|---|---|",
        *rows,
        "",
        f"- entries held {count:,.0f}, bytes counted {held:.1f} MiB; byte bound {bound:.0f} MiB",
        f"- RSS the cache added (grown with cache - grown without): {extra:.1f} MiB = {extra / held:.2f} of the "
        f"bytes counted, {extra / bound:.2f} of the bound (target: under the bound + 20%, {bound * 1.2:.1f} MiB)",
    ]


if __name__ == "__main__":
    sys.exit(main())
