"""The response cache's own costs, measured in one run so that the numbers compare (docs/benchmarks.md).

    python bench/cache_bench.py [--rounds 7] [--ops 20000] [--entries 10000]

- **Per operation** (median of ``--rounds`` rounds of ``--ops`` operations, microseconds): the key of a
  typical 2 KB chat request (``RouteCache.key``); a memory lookup hit and a store of a 2 KB answer
  (``ResponseCache.lookup`` / ``store``; in memory entries are kept as objects, on Redis encoded and
  decoded), a hit's whole body from its kept template, the same on Redis over loopback (a
  ``redis-server`` this script starts on a free port; a hit's body from the one stored with the entry,
  and rendered); per stream event, assembling a streamed answer's deltas and replaying an entry as
  each dialect's events; and a streamed hit, encoded per hit against written from the stream kept.
- **Memory** (a fresh child process per case, VmRSS from /proc): a memory store bounded at
  ``--bound-mib`` MiB filled with ``--entries`` 2 KB answers, and the same store offered three times as
  many (so it evicts), against the bound (target: RSS growth under the bound + 20%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from listening import start_redis

from sidecar.cache import (
    CacheStoreSpec,
    ResponseCache,
    RouteCacheSpec,
    StreamAssembler,
    compile_route_cache,
    entry_from_response,
)
from sidecar.cache.entry import Entry, TextPiece, encode, footprint
from sidecar.cache.replay import replay_body, replay_deltas, replay_stream, word_pieces
from sidecar.dialects import Dialect, Operation
from sidecar.dialects.registry import DIALECTS
from sidecar.policy import load_policy_bytes
from sidecar.translate import parse_chat_response
from sidecar.translate.common import FinishReason, Usage

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=3600)
WORDS = ["the", "sidecar", "answers", "repeated", "requests", "from", "its", "cache", "without", "calling", "a"]


def answer_text(seed: int, size: int = 2000) -> str:
    words: list[str] = []
    n = seed
    while sum(len(w) + 1 for w in words) < size:
        words.append(WORDS[n % len(WORDS)])
        n = (n * 1103515245 + 12345) % 2**31
    return " ".join(words)[:size]


def whole_entry(seed: int) -> Entry:
    text = answer_text(seed)
    return Entry(
        (TextPiece(text),), FinishReason.STOP, None, Usage(600, 450), "gpt-4o", "gpt", "openai", time.time(), 0.004
    )


def streamed_entry(seed: int) -> Entry:
    text = answer_text(seed)
    cuts = tuple(len(p) for p in word_pieces(text))
    return Entry(
        (TextPiece(text, cuts),),
        FinishReason.STOP,
        None,
        Usage(600, 450),
        "gpt-4o",
        "gpt",
        "openai",
        time.time(),
        0.004,
    )


def typical_request() -> dict[str, Any]:
    return {
        "model": "gpt",
        "messages": [
            {"role": "system", "content": "You classify support tickets into one of eight queues. " * 18},
            {"role": "user", "content": "Ticket: my invoice shows a charge I do not recognise. " * 18},
        ],
        "temperature": 0,
        "max_tokens": 300,
        "stream": True,
    }


Timing = tuple[float, float]  # microseconds per call: (fastest round, median round)


def _summary(results: list[float]) -> Timing:
    """The fastest round (the least disturbed by the shared machine) and the median round."""
    return min(results), statistics.median(results)


async def per_op(rounds: int, ops: int, call: Callable[[int], Awaitable[Any]]) -> Timing:
    results = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for i in range(ops):
            await call(i)
        results.append((time.perf_counter_ns() - started) / ops / 1000)
    return _summary(results)


def per_op_sync(rounds: int, ops: int, call: Callable[[int], Any]) -> Timing:
    results = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for i in range(ops):
            call(i)
        results.append((time.perf_counter_ns() - started) / ops / 1000)
    return _summary(results)


async def speed(rounds: int, ops: int) -> dict[str, Timing | int]:
    out: dict[str, Timing | int] = {}
    policy = load_policy_bytes(
        b"providers: {p: {dialect: openai, base_url: 'https://x/v1', api_key: {env: K}}}\n"
        b"models: {gpt: {provider: p, model: gpt-4o}}\nroutes: [{name: r, target: gpt}]\n",
        "bench.yaml",
    )
    plan = compile_route_cache(policy.routes[0], SETTINGS)
    assert plan is not None
    body = typical_request()
    raw = json.dumps(body).encode()
    out["request body bytes"] = len(raw)

    def key(i: int) -> Any:
        return plan.key(
            dialect=Dialect.OPENAI, operation=Operation.CHAT, model="gpt", body=body, raw=raw,
            deployment_app="app", app="app", caller_key=None,
        )  # fmt: skip

    out["key of a typical request"] = per_op_sync(rounds, ops, key)

    memory = ResponseCache.from_spec(CacheStoreSpec())
    entry = whole_entry(1)
    keys = [f"v1:{i:064x}" for i in range(ops)]
    for k in keys:
        await memory.store(k, entry, SETTINGS)
    out["entry bytes (2 KB answer, whole), encoded for Redis"] = len(encode(entry))
    out["entry bytes (2 KB answer, whole), counted in memory (footprint)"] = footprint(entry)
    out["memory store (put), 2 KB answer"] = await per_op(rounds, ops, lambda i: memory.store(keys[i], entry, SETTINGS))
    out["memory lookup hit, 2 KB answer"] = await per_op(rounds, ops, lambda i: memory.lookup(keys[i], SETTINGS))
    out["a hit's whole openai body from its kept template (ResponseCache.answer)"] = per_op_sync(
        rounds, ops, lambda i: memory.answer(keys[i], entry, Dialect.OPENAI, "body")
    )
    out["memory lookup miss"] = await per_op(rounds, ops, lambda i: memory.lookup("v1:absent", SETTINGS))
    backend = memory.storage.backend
    out["memory backend read, direct (MemoryStore's path)"] = per_op_sync(rounds, ops, lambda i: backend.read(keys[i]))
    out["memory backend get, through aiocache's API"] = await per_op(rounds, ops, lambda i: backend.get(keys[i]))

    with tempfile.TemporaryDirectory() as directory:
        process, port = start_redis(Path(directory))
        try:
            # A loose timeout: a busy machine must not turn a slow first connect into a skipped store.
            url = f"redis://127.0.0.1:{port}/0"
            spec = CacheStoreSpec.model_validate({"redis": {"url": url, "timeout_s": 2, "connect_timeout_s": 2}})
            redis = ResponseCache.from_spec(spec)
            redis_ops = max(ops // 10, 100)
            for k in keys[:redis_ops]:
                await redis.store(k, entry, SETTINGS, Dialect.OPENAI)
            out["redis store (put), 2 KB answer, with its openai body"] = await per_op(
                rounds, redis_ops, lambda i: redis.store(keys[i], entry, SETTINGS, Dialect.OPENAI)
            )
            out["redis lookup hit, 2 KB answer"] = await per_op(
                rounds, redis_ops, lambda i: redis.lookup(keys[i], SETTINGS)
            )
            found = await redis.lookup(keys[0], SETTINGS)
            assert found.entry is not None and found.body is not None
            out["a redis hit's whole openai body, from the body stored with it"] = per_op_sync(
                rounds, ops, lambda i: redis.answer(keys[0], entry, Dialect.OPENAI, "body", found.body)
            )
            out["a redis hit's whole openai body, rendered (a value without one)"] = per_op_sync(
                rounds, ops, lambda i: redis.answer(keys[0], entry, Dialect.OPENAI, "body")
            )
            assert redis.stats.errors == 0
            await redis.close()
        finally:
            process.kill()
            process.wait()

    body_out = replay_body(entry, Dialect.OPENAI, model="gpt-4o")
    out["replay as a whole openai body, 2 KB answer"] = per_op_sync(
        rounds, ops, lambda i: replay_body(entry, Dialect.OPENAI, model="gpt-4o")
    )

    def to_entry(_: int) -> Any:
        response = parse_chat_response(body_out, Dialect.OPENAI)
        return entry_from_response(response, model="m", target="t", provider="p", stored_at=0.0, cost_usd=None)

    out["whole openai answer -> entry (parse included)"] = per_op_sync(rounds, ops, to_entry)

    streamed = streamed_entry(2)
    deltas = replay_deltas(streamed)
    out["stream deltas of a 2 KB answer"] = len(deltas)

    def assemble(_: int) -> Any:
        assembler = StreamAssembler(Dialect.OPENAI, 1 << 20)
        for d in deltas:
            assembler.feed(d)
        return assembler.entry(ended_cleanly=True, model="m", target="t", provider="p", stored_at=0, cost_usd=None)

    fastest, median = per_op_sync(rounds, max(ops // 100, 20), assemble)
    out["assemble, per delta"] = (fastest / len(deltas), median / len(deltas))
    for dialect in DIALECTS:

        def replay(_: int, dialect: Dialect = dialect) -> Any:
            return b"".join(e.encode() for e in replay_stream(streamed, dialect, model="m", include_usage=True))

        fastest, median = per_op_sync(rounds, max(ops // 100, 20), replay)
        out[f"replay as {dialect.value} events, per delta"] = (fastest / len(deltas), median / len(deltas))
        out[f"a streamed {dialect.value} hit, encoded per hit (before)"] = (fastest, median)
        memory.store_in_memory("v1:streamed", streamed, SETTINGS)

        def kept(_: int, dialect: Dialect = dialect) -> Any:
            return memory.answer("v1:streamed", streamed, dialect, "stream_usage")

        out[f"a streamed {dialect.value} hit, from the stream kept (ResponseCache.answer)"] = per_op_sync(
            rounds, max(ops // 100, 20), kept
        )
    return out


def rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


async def memory_child(entries: int, bound_mib: int) -> dict[str, float]:
    """Run in a fresh process: fill a memory store bounded at ``bound_mib`` with ``entries`` answers."""
    spec = CacheStoreSpec.model_validate({"memory": {"max_entries": 10_000_000, "max_bytes": bound_mib << 20}})
    cache = ResponseCache.from_spec(spec)
    await cache.store("v1:warm", whole_entry(0), SETTINGS)
    before = rss_kib()
    for i in range(entries):
        await cache.store(f"v1:{i:064x}", whole_entry(i), SETTINGS)
    after = rss_kib()
    snap = cache.snapshot()
    return {
        "rss_growth_mib": (after - before) / 1024,
        "accounted_mib": snap["bytes"] / (1 << 20),
        "entries": snap["entries"],
        "evictions": snap["evictions"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--bound-mib", type=int, default=24)
    parser.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(asyncio.run(memory_child(*args.memory_child))))
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# cache_bench {time.strftime('%Y-%m-%d %H:%M')} commit {commit}, rounds={args.rounds}, ops={args.ops}")
    print("| measure | us, fastest round | us, median round |")
    for name, value in asyncio.run(speed(args.rounds, args.ops)).items():
        cells = f"{value[0]:,.2f} | {value[1]:,.2f}" if isinstance(value, tuple) else f"{value} |"
        print(f"| {name} | {cells} |")
    for entries in (args.entries, args.entries * 3):
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(entries), str(args.bound_mib)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        result = json.loads(child.stdout)
        ratio = result["rss_growth_mib"] / args.bound_mib
        print(
            f"| memory store bounded at {args.bound_mib} MiB, {entries:,} answers offered | "
            f"{result['entries']:,.0f} held, {result['evictions']:,.0f} evicted, "
            f"{result['accounted_mib']:.1f} MiB accounted, RSS +{result['rss_growth_mib']:.1f} MiB "
            f"({ratio:.2f} of the bound) |"
        )


if __name__ == "__main__":
    main()
