"""Part ``chaos`` of ``chaos_bench.py``: route ``[a, b, c]`` with A down (every call reset, or its port
closed), B failing 30% with 503 and C healthy; each request is paired with a direct call to C. Reports the
success rate, the attempts per request, the calls A received over time and the latency added.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from chaos_stack import (
    BREAKER,
    CHAT,
    BreakerSample,
    Fake,
    Procs,
    Result,
    fake_get,
    fake_post,
    openings,
    poll_status,
    send,
    start_sidecar,
    write_policy,
)
from chaos_tables import md_table, ms, pct, percent, yes_no
from listening import refused_port


@dataclass
class ChaosRun:
    variant: str
    concurrency: int
    rate: float | None
    breaker_cfg: dict[str, Any]
    results: list[Result]
    direct: list[Result]
    duration: float
    a_calls: list[float]  # seconds from the run's start (from the fake's log, or /status openings)
    a_calls_source: str
    a_total: int
    breaker: dict[str, list[BreakerSample]]
    t0: float
    attempts_from_fakes: int | None

    @property
    def load(self) -> str:
        if self.rate:
            return f"paced {self.rate:g} req/s, <= {self.concurrency} in flight"
        return f"{self.concurrency} worker{'s' if self.concurrency > 1 else ''}, unpaced"

    @property
    def label(self) -> str:
        text = f"A {self.variant}, {self.load}"
        if self.breaker_cfg is not BREAKER:
            cfg = self.breaker_cfg
            text += f", breaker window {cfg['window_size']} / minimum {cfg['minimum_calls']}"
        return text

    def b_open_share(self) -> float:
        samples = self.breaker.get("B/model-b", [])
        return sum(s.state != "closed" for s in samples) / len(samples) if samples else float("nan")


async def chaos_run(
    session: aiohttp.ClientSession,
    procs: Procs,
    fakes: dict[str, Fake],
    workdir: Path,
    variant: str,
    concurrency: int,
    n: int,
    time_limit: float,
    rate: float | None = None,
    breaker_cfg: dict[str, Any] = BREAKER,
) -> ChaosRun:
    """``n`` requests (each paired with a direct call to C) by ``concurrency`` workers, as fast as
    they go, or paced at ``rate`` requests per second with at most ``concurrency`` in flight."""
    for fake in fakes.values():
        await fake_post(session, fake, "/_fake/reset", {})
    urls = {name: fake.url for name, fake in fakes.items()}
    held = contextlib.ExitStack()
    if variant == "closed":  # nothing listens there: connection refused
        urls["A"] = f"http://127.0.0.1:{held.enter_context(refused_port())}"
    label = f"chaos-{variant}-{concurrency}" + (f"-paced{rate:g}" if rate else "")
    label += "" if breaker_cfg is BREAKER else f"-window{breaker_cfg['window_size']}"
    policy = workdir / f"{label}.yaml"
    write_policy(policy, urls, breaker_cfg)
    sidecar, _ = await start_sidecar(procs, session, policy, label)
    results: list[Result] = []
    direct: list[Result] = []
    breaker: dict[str, list[BreakerSample]] = {}
    stop = asyncio.Event()
    next_index = 0
    t0 = time.monotonic()
    wall0 = time.time()
    deadline = t0 + time_limit

    async def pair() -> None:
        results.append(await send(session, sidecar.url))
        direct.append(await send(session, fakes["C"].url))

    async def worker() -> None:
        nonlocal next_index
        while next_index < n and time.monotonic() < deadline:
            next_index += 1
            await pair()

    async def paced() -> None:
        assert rate
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def one() -> None:
            async with slots:
                await pair()

        for i in range(n):
            at = t0 + i / rate
            if at >= deadline:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)

    poller = asyncio.create_task(poll_status(session, sidecar, stop, breaker))
    try:
        if rate:
            await paced()
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        duration = time.monotonic() - t0
        await asyncio.sleep(0.15)  # one more /status sample
    finally:
        stop.set()
        await poller
        procs.stop(sidecar.proc)
        held.close()
    stats = {name: (await fake_get(session, fake, "/_fake/stats"))["requests"] for name, fake in fakes.items()}
    sidecar_calls_c = stats["C"] - len(direct)
    total_attempts = sum(r.attempts or 0 for r in results)
    if variant == "closed":
        a_total = total_attempts - stats["B"] - sidecar_calls_c
        a_calls = [t - t0 for t, _ in openings(breaker.get("A/model-a", []))]
        source = "breaker openings in /status (each re-opening is one failed probe)"
        from_fakes = None
    else:
        records = await fake_get(session, fakes["A"], f"/_fake/requests?path={CHAT}")
        a_calls = [r["time"] - wall0 for r in records]
        a_total = stats["A"]
        source = "fake A's request log"
        from_fakes = stats["A"] + stats["B"] + sidecar_calls_c
    return ChaosRun(
        variant,
        concurrency,
        rate,
        breaker_cfg,
        results,
        direct,
        duration,
        a_calls,
        source,
        a_total,
        breaker,
        t0,
        from_fakes,
    )


def describe_a_calls(run: ChaosRun) -> str:
    """A's calls before its breaker opened, then the probe times and the intervals between them."""
    opened = openings(run.breaker.get("A/model-a", []))
    if not opened:
        return f"{run.a_total} calls; the breaker never opened"
    first_open = opened[0][0] - run.t0
    if run.variant == "closed":
        before = run.a_total - (len(opened) - 1)
        probes = run.a_calls[1:]
    else:
        before = sum(1 for t in run.a_calls if t <= first_open + 0.05)
        probes = [t for t in run.a_calls if t > first_open + 0.05]
    gaps = [b - a for a, b in zip([first_open, *probes], probes, strict=False)]
    text = f"{before} calls by {first_open:.3f} s (breaker opened at {first_open:.3f} s)"
    if probes:
        text += "; then 1 probe at " + ", ".join(f"{t:.2f}" for t in probes) + " s"
        text += " (intervals " + ", ".join(f"{g:.2f}" for g in gaps) + " s"
        periods = [min(BREAKER["open_max_s"], BREAKER["open_s"] * 2**k) for k in range(len(gaps))]
        text += "; open periods configured: " + ", ".join(f"{p:g}" for p in periods) + " s)"
    return text


def chaos_report(runs: list[ChaosRun]) -> tuple[str, list[list[str]]]:
    rows = []
    verdicts: list[list[str]] = []
    for run in runs:
        ok = sum(r.ok for r in run.results)
        n = len(run.results)
        attempts = [r.attempts or 0 for r in run.results]
        opened = openings(run.breaker.get("A/model-a", []))
        steady = [r.attempts or 0 for r in run.results if opened and r.started >= opened[0][0]]
        lat = [r.latency for r in run.results if r.ok]
        dlat = [r.latency for r in run.direct if r.ok]
        served = {m: sum(1 for r in run.results if r.model == m) for m in ("b", "c")}
        b_opens = len(openings(run.breaker.get("B/model-b", [])))
        rows.append(
            [
                "A resets every call" if run.variant == "reset" else "A's port closed",
                run.load
                + (
                    ""
                    if run.breaker_cfg is BREAKER
                    else f"; breaker window {run.breaker_cfg['window_size']}, "
                    f"minimum {run.breaker_cfg['minimum_calls']}"
                ),
                n,
                f"{run.duration:.1f}",
                percent(ok, n),
                f"{statistics.fmean(attempts):.3f}",
                f"{statistics.fmean(steady):.3f}" if steady else "n/a",
                f"{served['b']} / {served['c']}",
                f"{b_opens} ({100 * run.b_open_share():.0f}% of the time)",
                run.a_total,
                f"{ms(pct(dlat, 50))} / {ms(pct(dlat, 99))}",
                f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))}",
                f"{ms(pct(lat, 50) - pct(dlat, 50))} / {ms(pct(lat, 99) - pct(dlat, 99))}",
            ]
        )
        label = run.label
        verdicts.append(["success 100% while a healthy target remains", label, percent(ok, n), yes_no(ok == n)])
        if steady:
            verdicts.append(
                [
                    "attempts/request <= 1.3 after A's breaker opened",
                    label,
                    f"{statistics.fmean(steady):.3f}",
                    yes_no(statistics.fmean(steady) <= 1.3),
                ]
            )
    table = md_table(
        [
            "A down as",
            "load",
            "requests",
            "s",
            "success",
            "attempts/req",
            "attempts/req after A opened",
            "served by B / C",
            "B breaker openings (not closed)",
            "calls to A",
            "direct C p50 / p99 ms",
            "sidecar p50 / p99 ms",
            "added p50 / p99 ms",
        ],
        rows,
    )
    lines = [table, "", "Calls A received over time (seconds from the start of each run):", ""]
    for run in runs:
        check = ""
        if run.attempts_from_fakes is not None:
            total = sum(r.attempts or 0 for r in run.results)
            check = (
                f" Sum of x-sidecar-attempts {total} vs calls counted by the fakes "
                f"{run.attempts_from_fakes} ({'equal' if total == run.attempts_from_fakes else 'DIFFERENT'})."
            )
        lines.append(f"- {run.label} ({run.a_calls_source}): {describe_a_calls(run)}.{check}")
    dist_rows = []
    for run in runs:
        counts: dict[int, int] = {}
        for r in run.results:
            counts[r.attempts or 0] = counts.get(r.attempts or 0, 0) + 1
        dist_rows.append(
            [run.label]
            + [counts.get(k, 0) for k in (1, 2, 3)]
            + [sum(v for k, v in counts.items() if k not in (1, 2, 3))]
        )
    lines += ["", "Attempts per request, distribution:", ""]
    lines.append(md_table(["run", "1", "2", "3", "other"], dist_rows))
    return "\n".join(lines), verdicts
