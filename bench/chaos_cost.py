"""Part ``cost`` of ``chaos_bench.py``: the price of one fallback. A fails per request through the
``x-fake-fault`` header (503, reset, malformed JSON, a stall, and stream variants) behind a breaker that
cannot open; each sample is paired with a direct call to B.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from chaos_stack import FIRST_BYTE_S, NO_BREAKER, Fake, Procs, Result, fake_post, send, start_sidecar, write_policy
from chaos_tables import md_table, ms, pct, yes_no


@dataclass
class CostCase:
    label: str
    fault: str  # x-fake-fault value (names server A)
    stream: bool
    samples: int
    results: list[Result] = field(default_factory=list)  # through the sidecar, A faulted
    direct_b: list[Result] = field(default_factory=list)
    direct_a: list[Result] = field(default_factory=list)  # the failed attempt alone
    clean: list[Result] = field(default_factory=list)  # through the sidecar, no fault (A answers)


async def cost_part(
    session: aiohttp.ClientSession,
    procs: Procs,
    fakes: dict[str, Fake],
    workdir: Path,
    samples: int,
    stalls: int,
) -> list[CostCase]:
    for fake in fakes.values():
        await fake_post(session, fake, "/_fake/reset", {})
        await fake_post(session, fake, "/_fake/config", {"fault": None, "fault_rate": 0})
    policy = workdir / "cost.yaml"
    write_policy(policy, {name: fake.url for name, fake in fakes.items()}, NO_BREAKER)
    sidecar, _ = await start_sidecar(procs, session, policy, "cost")
    cases = [
        CostCase("503 at once", "A:status=503", False, samples),
        CostCase("connection reset", "A:reset", False, samples),
        CostCase("200 with malformed JSON", "A:malformed", False, samples),
        CostCase(f"stall 30 s (first_byte_s {FIRST_BYTE_S:g})", "A:stall=30", False, stalls),
        CostCase("stream: 503 at once", "A:status=503", True, samples),
        CostCase("stream: error event before content", "A:error-event=0", True, samples),
        CostCase("stream: connection cut before content", "A:cut=1", True, samples),
        CostCase(f"stream: stall 30 s (first_byte_s {FIRST_BYTE_S:g})", "A:stall=30", True, stalls),
    ]
    try:
        for _ in range(50):  # warm up connections and code paths
            await send(session, sidecar.url)
            await send(session, fakes["B"].url)
        for case in cases:
            stall = "stall" in case.fault
            for _ in range(case.samples):
                case.direct_b.append(await send(session, fakes["B"].url, stream=case.stream))
                if not stall:
                    case.direct_a.append(await send(session, fakes["A"].url, stream=case.stream, fault=case.fault))
                case.results.append(await send(session, sidecar.url, stream=case.stream, fault=case.fault))
                case.clean.append(await send(session, sidecar.url, stream=case.stream))
    finally:
        procs.stop(sidecar.proc)
    return cases


def cost_report(cases: list[CostCase]) -> tuple[str, list[list[str]]]:
    rows = []
    verdicts = []
    for case in cases:
        ok = [r for r in case.results if r.ok and r.model == "b"]
        lat = [r.latency for r in case.results if r.ok]
        b = [r.latency for r in case.direct_b]
        a = [r.latency for r in case.direct_a]
        paired = [r.latency - d.latency for r, d in zip(case.results, case.direct_b, strict=True)]
        clean = [r.latency - d.latency for r, d in zip(case.clean, case.direct_b, strict=True)]
        attempts = [r.attempts or 0 for r in case.results]
        rows.append(
            [
                case.label + (" (stream)" if case.stream and "stream" not in case.label else ""),
                len(case.results),
                f"{len(ok)}/{len(case.results)}",
                f"{statistics.fmean(attempts):.2f}",
                f"{ms(pct(a, 50))}" if a else "-",
                f"{ms(pct(b, 50))} / {ms(pct(b, 99))}",
                f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))}",
                f"{ms(pct(paired, 50))} / {ms(pct(paired, 99))}",
                f"{ms(pct(clean, 50))}",
            ]
        )
        stall = "stall" in case.fault
        cost = pct(paired, 50)
        if stall:
            target = f"one first-byte timeout: cost < 1.5 x {FIRST_BYTE_S:g} s"
            met = len(ok) == len(case.results) and pct(paired, 99) < 1.5 * FIRST_BYTE_S
        else:
            target = "fallback costs <= 50 ms over a direct call to B"
            met = len(ok) == len(case.results) and pct(paired, 99) <= 0.05
        verdicts.append([target, case.label, f"p50 {ms(cost)} ms, p99 {ms(pct(paired, 99))} ms", yes_no(met)])
    table = md_table(
        [
            "A fails with",
            "samples",
            "served by B",
            "attempts/req",
            "A's failure alone, p50 ms",
            "direct B p50 / p99 ms",
            "via sidecar p50 / p99 ms",
            "fallback cost p50 / p99 ms",
            "no fault: sidecar - direct p50 ms",
        ],
        rows,
    )
    return table, verdicts
