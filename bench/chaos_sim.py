"""Part ``sim`` of ``chaos_bench.py``: availability. Each provider is taken down in bursts of 0.5-2 s on
its own random schedule (``schedule``) under a steady paced load; direct probes measure what a client
without the sidecar sees, and ``overlap`` how long two or three providers were down at once.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from chaos_stack import BREAKER, FIRST_BYTE_S, Fake, Procs, Result, fake_post, send, start_sidecar, write_policy
from chaos_tables import md_table, ms, pct, percent, yes_no

BURST_KINDS = ("status=503", "reset", "stall=30")


@dataclass
class Burst:
    start: float  # planned, seconds from the run's start
    end: float
    kind: str
    on: float = 0.0  # actual, after the fake acknowledged
    off: float = 0.0


def schedule(rng: random.Random, seconds: float, share: float) -> list[Burst]:
    """Bursts of 0.5-2 s adding up to ``share`` of the run, at random non-overlapping places.

    Stratified rather than a renewal process, so that every provider really is down for its share
    of a short run (a renewal process would often give a provider no burst at all)."""
    total = share * seconds
    lengths: list[float] = []
    while total - sum(lengths) > 1e-9:
        length = min(rng.uniform(0.5, 2.0), total - sum(lengths))
        if length < 0.5 and lengths:
            lengths[-1] += length
        else:
            lengths.append(length)
    rng.shuffle(lengths)
    margin = 1.0
    free = seconds - 2 * margin - sum(lengths)
    cuts = sorted(rng.uniform(0, free) for _ in lengths)
    bursts = []
    used = 0.0
    for cut, length in zip(cuts, lengths, strict=True):
        start = margin + cut + used
        bursts.append(Burst(start, start + length, rng.choice(BURST_KINDS)))
        used += length
    return bursts


def overlap(intervals: list[list[tuple[float, float]]], need: int, horizon: float) -> float:
    """Seconds during which at least ``need`` of the interval lists are 'down' at once."""
    events = []
    for down in intervals:
        for a, b in down:
            events += [(max(0.0, a), 1), (min(horizon, b), -1)]
    events.sort()
    depth = 0
    last = 0.0
    total = 0.0
    for t, step in events:
        if depth >= need:
            total += t - last
        depth += step
        last = t
    return total


@dataclass
class SimRun:
    name: str
    seconds: float
    share: float
    rate: float
    results: list[Result]
    probes: dict[str, list[Result]]
    bursts: dict[str, list[Burst]]
    t0: float


async def sim_part(
    session: aiohttp.ClientSession,
    procs: Procs,
    fakes: dict[str, Fake],
    workdir: Path,
    name: str,
    seconds: float,
    share: float,
    rate: float,
    stream_share: float,
    probe_rate: float,
    seed: int,
    breaker_cfg: dict[str, Any] = BREAKER,
) -> SimRun:
    for fake in fakes.values():
        await fake_post(session, fake, "/_fake/reset", {})
        # a little model time, so that requests are in flight when a burst starts
        await fake_post(
            session,
            fake,
            "/_fake/config",
            {"fault": None, "fault_rate": 0, "ttft_ms": 30, "tokens_per_s": 300},
        )
    policy = workdir / f"sim-{name.replace(' ', '').replace(',', '-')}.yaml"
    write_policy(policy, {n: fake.url for n, fake in fakes.items()}, breaker_cfg)
    sidecar, _ = await start_sidecar(procs, session, policy, policy.stem)
    rng = random.Random(seed)
    # the same schedule for the same seed, length and share, whatever the sidecar's settings
    bursts = {n: schedule(random.Random(f"{seed}-{seconds}-{share}-{n}"), seconds, share) for n in fakes}
    results: list[Result] = []
    probes: dict[str, list[Result]] = {n: [] for n in fakes}
    inflight = asyncio.Semaphore(512)
    t0 = time.monotonic()
    end = t0 + seconds

    async def toggler(fake: Fake) -> None:
        for burst in bursts[fake.name]:
            await asyncio.sleep(max(0.0, t0 + burst.start - time.monotonic()))
            await fake_post(session, fake, "/_fake/config", {"fault": burst.kind, "fault_rate": 1})
            burst.on = time.monotonic() - t0
            await asyncio.sleep(max(0.0, t0 + burst.end - time.monotonic()))
            await fake_post(session, fake, "/_fake/config", {"fault": None, "fault_rate": 0})
            burst.off = time.monotonic() - t0

    async def probe(fake: Fake) -> None:
        probes[fake.name].append(await send(session, fake.url, timeout=FIRST_BYTE_S + 0.5))

    async def prober(fake: Fake) -> None:
        """Probes on a fixed clock (a stalled probe does not delay the next one)."""
        started: list[asyncio.Task[None]] = []
        for i in range(int(seconds * probe_rate)):
            await asyncio.sleep(max(0.0, t0 + i / probe_rate - time.monotonic()))
            started.append(asyncio.create_task(probe(fake)))
        await asyncio.gather(*started)

    async def one(stream: bool) -> None:
        async with inflight:
            results.append(await send(session, sidecar.url, stream=stream))

    tasks: set[asyncio.Task[None]] = set()
    helpers = [asyncio.create_task(toggler(f)) for f in fakes.values()]
    helpers += [asyncio.create_task(prober(f)) for f in fakes.values()]
    try:
        for i in range(int(seconds * rate)):
            at = t0 + i / rate
            if at >= end:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            task = asyncio.create_task(one(rng.random() < stream_share))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.wait_for(asyncio.gather(*helpers, *tasks), timeout=60)
    finally:
        for task in [*helpers, *tasks]:
            task.cancel()
        for fake in fakes.values():
            await fake_post(session, fake, "/_fake/config", {"fault": None, "fault_rate": 0})
        procs.stop(sidecar.proc)
    return SimRun(name, seconds, share, rate, results, probes, bursts, t0)


def failure_class(r: Result) -> str:
    if r.status == 503 and "every target" in r.error:
        return "503: every target failed or was skipped"
    if r.error.startswith("error event"):
        return "stream ended with an error event"
    if r.error == "no [DONE]":
        return "stream cut without [DONE]"
    return r.error[:40] or "?"


def _called(r: Result) -> str:
    if r.attempts is None:
        return "?"
    return "none (every target skipped by its breaker)" if r.attempts == 0 else str(r.attempts)


def sim_report(run: SimRun) -> tuple[str, list[list[str]]]:
    n = len(run.results)
    ok = sum(r.ok for r in run.results)
    streams = [r for r in run.results if r.stream]
    downs = {name: [(b.on, b.off) for b in bursts if b.off > b.on] for name, bursts in run.bursts.items()}
    share = {name: sum(b - a for a, b in down) / run.seconds for name, down in downs.items()}
    all_down = overlap(list(downs.values()), 3, run.seconds)
    two_down = overlap(list(downs.values()), 2, run.seconds)
    bound = 1.0
    for s in share.values():
        bound *= s
    lat = [r.latency for r in run.results if r.ok]
    provider_rows = []
    for name, bursts in run.bursts.items():
        probe = run.probes[name]
        kinds = ", ".join(f"{b.kind} {b.off - b.on:.2f} s at {b.on:.1f} s" for b in bursts)
        provider_rows.append(
            [
                name,
                len(bursts),
                percent(share[name], 1, 3),
                f"{percent(sum(p.ok for p in probe), len(probe), 3)} of {len(probe)}",
                kinds,
            ]
        )
    summary = md_table(
        [
            "requests",
            "of which streamed",
            "failed",
            "availability through the chain",
            "streams failed",
            "attempts/req",
            "p50 / p99 ms",
            "time >= 2 down",
            "time all 3 down",
            "failing only then would give",
            "1 - product of shares",
        ],
        [
            [
                n,
                len(streams),
                n - ok,
                percent(ok, n, 4),
                sum(not r.ok for r in streams),
                f"{statistics.fmean([r.attempts or 0 for r in run.results]):.3f}",
                f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))}",
                f"{two_down:.2f} s",
                f"{all_down:.3f} s",
                f"{100 * (1 - all_down / run.seconds):.4f}%",
                f"{100 * (1 - bound):.4f}%",
            ]
        ],
    )
    providers = md_table(
        [
            "provider",
            "bursts",
            "down (share of run)",
            "direct-probe availability",
            "bursts (kind, length, start)",
        ],
        provider_rows,
    )
    failures = [r for r in run.results if not r.ok]
    lines = [summary, "", providers]
    if failures:

        def down_at(t: float) -> list[str]:
            return [name for name, d in downs.items() if any(a - 0.05 <= t <= b + 0.05 for a, b in d)]

        groups: dict[tuple[int, str, str], int] = {}
        for r in failures:
            key = (len(down_at(r.started - run.t0)), failure_class(r), _called(r))
            groups[key] = groups.get(key, 0) + 1
        lines += ["", "Failed requests by what was down when each started (0.05 s tolerance):", ""]
        lines.append(
            md_table(
                ["providers down", "failure", "upstream calls", "requests"],
                [[k[0], k[1], k[2], v] for k, v in sorted(groups.items(), key=lambda kv: -kv[1])],
            )
        )
        lines += ["", "The first failed requests:", ""]
        rows = []
        for r in failures[:10]:
            t = r.started - run.t0
            rows.append(
                [
                    f"{t:.2f}",
                    "stream" if r.stream else "plain",
                    r.status,
                    r.attempts,
                    r.reason,
                    r.error[:60].replace("|", "/"),
                    ",".join(down_at(t)) or "none",
                ]
            )
        lines.append(md_table(["t s", "kind", "status", "attempts", "fallback reason", "error", "down"], rows))
    verdict = [
        f"availability >= 99.99% ({run.name}: each provider down {100 * run.share:g}%)",
        f"{n} requests",
        percent(ok, n, 4),
        yes_no(ok / n >= 0.9999) if n else "n/a",
    ]
    return "\n".join(lines), [verdict]
