"""Proxy overhead benchmark: direct to a fixed upstream vs through the sidecar, in one run.

Upstream: nginx serving a fixed 400-byte chat.completion body to any POST (and a fixed SSE stream).
Load: wrk (one thread) with a 330-byte OpenAI chat request. Measured per target: req/s at 32
connections, p50/p99 at 1 connection; for the sidecar also startup time (spawn -> /readyz 200) and
peak RSS (VmHWM) after the load; for streams, time to first byte direct vs through the sidecar.
All targets run side by side and are measured in interleaved rounds (the median is reported), in an
order that changes from round to round (``in_turn``), so noise from the shared machine and a target's
place in a round fall on every target alike.

    python bench/proxy_bench.py [--seconds 5] [--rounds 3] [--baseline REF] [--out FILE]
        [--variants sidecar,sidecar-single-target,sidecar-tracing,sidecar-tracing-10%,sidecar-routing-20]

``--baseline REF`` adds the sidecar as it was at the git revision REF (its ``sidecar/`` package run from a
temporary copy, with REF's Dockerfile ENV), measured in the same rounds as the others: a before/after
comparison in one run.

Every sidecar is started the way the image starts it: ``python -OO -P -m sidecar run`` (optimised) with
the Dockerfile's ENV (``sidecar_under_test.image_env``), its bytecode compiled first (plain and -OO, as
the image's build does), so no start compiles from source.
``--unoptimised`` starts ``python -m sidecar run`` instead (the form before the image ran -OO); the variant
``sidecar-unoptimised`` adds that form next to the optimised ``sidecar`` in the same rounds.

Needs `apt-get install nginx-light wrk`. Results are comparable only within one run (the machine is
shared): read the ratios.

What the other benchmarks share with this one lives beside it: ``nginx_upstream`` (the fixed upstream),
``measuring`` (the chat request, wrk, the rounds' order, RSS) and ``sidecar_under_test`` (the policy, the
variants, the command line, another revision, the minimal proxy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from listening import read_port, stop_all
from measuring import alternating_medians, chat_script, in_turn, peak_rss_mb, request_2k, tools_present, wrk
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import (
    checkout,
    compile_bytecode,
    sidecar_policy,
    start_minimal,
    start_sidecar,
    started_as,
    variant_env,
)


@dataclass
class Target:
    name: str
    url: str
    note: str = ""
    proc: subprocess.Popen[bytes] | None = None
    at32: list[dict[str, float]] = field(default_factory=list)
    at1: list[dict[str, float]] = field(default_factory=list)

    def median(self, runs: str, key: str) -> float:
        return statistics.median(run[key] for run in getattr(self, runs))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all targets (median kept)")
    parser.add_argument("--variants", default="sidecar")
    parser.add_argument("--ttfb-requests", type=int, default=200)
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision (e.g. main)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--unoptimised", action="store_true", help="python -m sidecar run, not -OO (the image)")
    args = parser.parse_args()
    if not tools_present("nginx", "wrk"):
        return 2
    optimised = not args.unoptimised
    print(started_as(optimised), flush=True)
    compile_bytecode()
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-bench-"))
    script = chat_script(workdir)
    nginx, upstream_port = nginx_on_free_port(workdir)
    procs: list[subprocess.Popen[bytes]] = [nginx]
    extra: list[str] = []
    try:
        targets = [Target("direct (nginx)", f"http://127.0.0.1:{upstream_port}/v1/chat/completions")]
        minimal = start_minimal(upstream_port, workdir / "minimal.ports")
        minimal_port = read_port(workdir / "minimal.ports")
        procs.append(minimal)
        targets.append(
            Target("minimal aiohttp proxy", f"http://127.0.0.1:{minimal_port}/v1/chat/completions", "", minimal)
        )
        # Every target runs at once (idle ones cost nothing) and is measured round-robin, so a burst of
        # noise from the shared machine hits all of them alike instead of one target's only run.
        for name in args.variants.split(","):
            policy_variant, env_extra = variant_env(name, upstream_port)
            ports = workdir / f"{name}.ports"
            policy = sidecar_policy(workdir, upstream_port, policy_variant)
            unoptimised = name.endswith("-unoptimised")
            proc, startup = start_sidecar(policy, ports, env_extra, optimised=optimised and not unoptimised)
            port = read_port(ports)
            procs.append(proc)
            targets.append(Target(name, f"http://127.0.0.1:{port}/v1/chat/completions", f"start {startup:.2f} s", proc))
        if args.baseline:
            ports = workdir / "baseline.ports"
            code = checkout(args.baseline, workdir)
            policy = sidecar_policy(workdir, upstream_port, "chain")
            proc, startup = start_sidecar(policy, ports, {}, code, optimised=optimised, image=args.baseline)
            port = read_port(ports)
            procs.append(proc)
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            targets.append(Target(f"sidecar@{args.baseline}", url, f"start {startup:.2f} s", proc))
        for round_number in range(args.rounds):
            for target in in_turn(targets, round_number):
                target.at32.append(wrk(target.url, 32, args.seconds, script))
        for round_number in range(args.rounds):
            for target in in_turn(targets, round_number):
                target.at1.append(wrk(target.url, 1, args.seconds, script))
        for target in targets:
            if target.proc is not None:
                rss = f"{peak_rss_mb(target.proc.pid):.0f} MB"
                target.note = f"{rss}, {target.note}" if target.note else rss
        sidecar = next((t for t in targets if t.name == "sidecar"), None)
        for traced in (t for t in targets if t.name.startswith("sidecar-tracing")):
            if sidecar is None:
                break
            # Each round measures the two one after the other: their ratio within a round cancels most of
            # the machine's drift, which the medians of each target over all rounds do not.
            ratios = sorted(t["rps"] / s["rps"] for t, s in zip(traced.at32, sidecar.at32, strict=True))
            extra.append(
                f"Tracing cost ({traced.name}), req/s at 32 connections traced / untraced within each round: "
                f"median {statistics.median(ratios):.3f} ({1 - statistics.median(ratios):.1%} fewer), rounds "
                + ", ".join(f"{r:.2f}" for r in ratios)
                + "."
            )
        if sidecar is not None:
            port = int(sidecar.url.split(":")[2].split("/")[0])
            extra.extend(translation_overhead(workdir, port, args.seconds, args.ttfb_requests))
            first_bytes = asyncio.run(
                alternating_medians(
                    {
                        "direct": (f"http://127.0.0.1:{upstream_port}/stream/v1/chat/completions", "bench-model", True),
                        "sidecar": (sidecar.url, "stream-model", True),
                    },
                    args.ttfb_requests,
                )
            )
            stream_direct, stream_side = first_bytes["direct"], first_bytes["sidecar"]
            extra.append(
                f"Streaming time to first byte (median of {args.ttfb_requests} requests each, alternating): "
                f"direct {stream_direct:.3f} ms, through the sidecar {stream_side:.3f} ms "
                f"(+{stream_side - stream_direct:.3f} ms)."
            )
    finally:
        stop_all(procs)  # sidecars before nginx, the sink they flush their last export to
    direct, floor = targets[0], targets[1]
    base32, base1 = direct.median("at32", "rps"), direct.median("at1", "p50")
    floor32 = floor.median("at32", "rps")
    lines = [
        f"Command: `python bench/proxy_bench.py --seconds {args.seconds} --rounds {args.rounds} "
        f"--variants {args.variants}{f' --baseline {args.baseline}' if args.baseline else ''}"
        f"{' --unoptimised' if args.unoptimised else ''}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; "
        f"medians of {args.rounds} interleaved rounds, req/s range in brackets)",
        "",
        started_as(optimised),
        "",
        "| target | req/s @32 | vs direct | vs minimal proxy | p50 @1 (ms) | added p50 (ms) | p99 @1 (ms) "
        "| non-2xx | memory, startup |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for target in targets:
        rps = target.median("at32", "rps")
        spread = [run["rps"] for run in target.at32]
        p50 = target.median("at1", "p50")
        errors = sum(int(run["errors"]) for run in target.at32 + target.at1)
        lines.append(
            f"| {target.name} | {rps:,.0f} [{min(spread):,.0f}-{max(spread):,.0f}] | {rps / base32:.2f} | "
            f"{rps / floor32:.2f} | {p50:.3f} | {p50 - base1:+.3f} | {target.median('at1', 'p99'):.3f} | "
            f"{errors} | {target.note} |"
        )
    lines += ["", *extra]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


def translation_overhead(workdir: Path, port: int, seconds: int, n: int) -> list[str]:
    """p50 at 1 connection for a 2 KB chat, passthrough vs translated; stream time per event."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    results = {}
    for model in ("bench-model", "translated-model"):
        script = workdir / f"post-{model}.lua"
        body = request_2k().replace("MODEL", model)
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = [[{body}]]\nwrk.headers["Content-Type"] = "application/json"\n'
        )
        results[model] = wrk(url, 1, seconds, script)
    passthrough, translated = results["bench-model"], results["translated-model"]
    totals = asyncio.run(
        alternating_medians({"pass": (url, "stream-model", False), "translated": (url, "translated-stream", False)}, n)
    )
    stream_pass, stream_translated = totals["pass"], totals["translated"]
    return [
        f"Translation, 2 KB chat request at 1 connection: passthrough p50 {passthrough['p50']:.3f} ms, "
        f"OpenAI caller -> Anthropic upstream p50 {translated['p50']:.3f} ms "
        f"(+{translated['p50'] - passthrough['p50']:.3f} ms; non-2xx: {int(translated['errors'])}).",
        f"Streams of 20 content events (median total of {n}): passthrough {stream_pass:.3f} ms, "
        f"translated Anthropic -> OpenAI {stream_translated:.3f} ms "
        f"(+{(stream_translated - stream_pass) / 20 * 1000:.1f} us per event).",
    ]


if __name__ == "__main__":
    sys.exit(main())
