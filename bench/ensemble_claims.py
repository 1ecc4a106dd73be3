"""The product's ensemble, gate and overhead claims, measured through the real sidecar and fake providers.

    python bench/ensemble_claims.py [--questions 400] [--concurrency 8] [--overhead-requests 300] [--seed 1]

The sidecar runs in this process (``build_state`` / ``start_app``, as ``llm-sidecar run`` does, on
uvloop); each fake provider is its own process (``python -m sidecar.fake_provider``) so that its work
does not share the sidecar's event loop. Every question carries its right answer (``x-fake-truth``,
four labels, task ``classification``) and the fakes answer as their quality profile says, the same way
for the same question and seed (docs/fake-provider.md).

1. **Majority of three** members right 80 %, 75 % and 70 % of the time (answering after 300, 200 and
   100 ms): each member alone, the ensemble with early quorum and waiting for all. Accuracy against the
   binomial expectation (at least two of three right) and the exact one (ties to the first member),
   the cost multiple over the best member (from the access line's ``cost_usd``: every call's tokens),
   mean and p50 latency.
2. **Judge**: the same members, a judge right 90 % of the time over the distinct answers.
3. **Gated cascade**: a cheap model (right 90 %, its JSON broken 30 % of the time) gated by the request's
   JSON schema in front of a premium one, against always the premium one: invalid answers (checked here
   by the same schema) and cost.
4. **Overhead**: three members that each answer after 20 ms, sequential requests. Wall-clock latency
   differences between processes sharing two busy cores are noise, so each request's own spans say how
   long the sidecar spent outside its upstream calls: the SERVER span minus the slowest member's span
   (an ensemble) or minus the call's CLIENT span (one target). The ensemble's added latency over its
   slowest needed member is the difference of the medians; likewise a gated route against an ungated
   one on the same JSON answer. Also CPU per request (this process: client and sidecar).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from listening import port_zero, start_with_ports_file

LABELS = ("billing", "bug", "feature", "other")
PROFILES: dict[str, Any] = {
    "up-a": {"right": 0.80, "prose": 0, "refusal": 0, "invalid_json": 0},
    "up-b": {"right": 0.75, "prose": 0, "refusal": 0, "invalid_json": 0},
    "up-c": {"right": 0.70, "prose": 0, "refusal": 0, "invalid_json": 0},
    "up-judge": {"right": {"judge": 0.90, "*": 0.9}, "prose": 0, "refusal": 0, "invalid_json": 0},
    "up-cheap": {"right": 0.90, "prose": 0, "refusal": 0, "invalid_json": 0.30},
    "up-premium": {"right": 0.97, "prose": 0, "refusal": 0, "invalid_json": 0},
    "up-fast*": {"right": 1.0, "prose": 0, "refusal": 0, "invalid_json": 0},
}
FAKES = {"a": 300, "b": 200, "c": 100, "judge": 50, "cheap": 50, "premium": 150, "fast1": 20, "fast2": 20, "fast3": 20}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": list(LABELS)}},
    "required": ["answer"],
    "additionalProperties": False,
}


def policy_text(ports: dict[str, int]) -> str:
    lines = ["version: 1", "defaults:", "  resilience: {max_attempts_per_target: 1}", "providers:"]
    lines += [
        f"  {name}: {{kind: fake, base_url: 'http://127.0.0.1:{port}', speaks: openai}}" for name, port in ports.items()
    ]
    prices = {
        "a": (2.5, 10),
        "b": (1, 4),
        "c": (0.5, 2),
        "judge": (2.5, 10),
        "cheap": (0.15, 0.6),
        "premium": (2.5, 10),
    }
    lines.append("models:")
    for name in ports:
        price = prices.get(name, (1, 1))
        price_text = f"{{input_per_mtok: {price[0]}, output_per_mtok: {price[1]}}}"
        lines.append(f"  {name}: {{provider: {name}, model: up-{name}, price: {price_text}}}")
    lines += [
        "routes:",
        "  - {name: quorum, match: {model: quorum}, ensemble: {members: [a, b, c]}}",
        "  - {name: all, match: {model: all}, ensemble: {members: [a, b, c], early_quorum: false}}",
        "  - {name: judged, match: {model: judged},"
        " ensemble: {members: [a, b, c], strategy: judge, judge: {target: judge}}}",
        "  - {name: cascade, match: {model: cascade}, target: [cheap, premium], gates: {}}",
        "  - {name: overhead, match: {model: overhead},"
        " ensemble: {members: [fast1, fast2, fast3], early_quorum: false}}",
        "  - {name: gated, match: {model: gated}, target: fast1, gates: {}}",
        "  - {name: ungated, match: {model: ungated}, target: fast1}",
        "  - {name: single, match: {model: single}, target: fast1}",
    ]
    return "\n".join(lines) + "\n"


def truth(n: int, seed: int) -> dict[str, str]:
    label = LABELS[(n * 7 + seed) % len(LABELS)]
    return {"x-fake-truth": f"task=classification;answer={label};choices={'|'.join(LABELS)};id=q{seed}-{n}"}


async def ask(
    session: aiohttp.ClientSession, url: str, model: str, n: int, seed: int, **extra: Any
) -> tuple[str, float, dict[str, str]]:
    body = {"model": model, "messages": [{"role": "user", "content": f"Route ticket {n} to a queue."}], **extra}
    started = time.perf_counter()
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=truth(n, seed)) as response:
        data = await response.json()
        elapsed = time.perf_counter() - started
        headers = {name.lower(): value for name, value in response.headers.items()}
        if response.status != 200:
            return f"<{response.status}>", elapsed, headers
    return data["choices"][0]["message"]["content"] or "", elapsed, headers


async def run_questions(
    url: str, model: str, questions: int, concurrency: int, seed: int, **extra: Any
) -> list[tuple[int, str, float, dict[str, str]]]:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> tuple[int, str, float, dict[str, str]]:
            async with gate:
                return (n, *await ask(session, url, model, n, seed, **extra))

        return list(await asyncio.gather(*(one(n) for n in range(questions))))


def costs(logs: io.BytesIO, route: str) -> list[float]:
    return [
        line.get("cost_usd", 0.0)
        for line in map(orjson.loads, logs.getvalue().splitlines())
        if line.get("event") == "access" and line.get("route") == route
    ]


def right_share(rows: Sequence[tuple[int, str, float, dict[str, str]]], seed: int) -> float:
    return sum(text.strip().lower() == LABELS[(n * 7 + seed) % len(LABELS)] for n, text, _, _ in rows) / len(rows)


def binomial(p: Sequence[float]) -> float:
    a, b, c = p
    return a * b * c + a * b * (1 - c) + a * (1 - b) * c + (1 - a) * b * c


def exact(p: Sequence[float], labels: int) -> float:
    """At least two right, or only the first member right while the two wrong ones differ (a tie it wins)."""
    a, b, c = p
    return binomial(p) + a * (1 - b) * (1 - c) * (1 - 1 / (labels - 1))


def latency_line(
    name: str, rows: Sequence[tuple[int, str, float, dict[str, str]]], cost: float, base_cost: float
) -> str:
    latencies = sorted(r[2] * 1000 for r in rows)
    return (
        f"| {name} | {statistics.mean(latencies):.0f} ms | {statistics.median(latencies):.0f} ms | "
        f"{cost / base_cost:.2f}x |"
    )


async def claims(url: str, logs: io.BytesIO, args: argparse.Namespace) -> None:
    q, conc, seed = args.questions, args.concurrency, args.seed
    print(f"## majority of three ({q} questions, {len(LABELS)} labels, concurrency {conc})\n")
    singles = {name: await run_questions(url, name, q, conc, seed) for name in ("a", "b", "c")}
    accuracy = {name: right_share(rows, seed) for name, rows in singles.items()}
    quorum = await run_questions(url, "quorum", q, conc, seed)
    waiting = await run_questions(url, "all", q, conc, seed)
    best = max(accuracy, key=lambda name: accuracy[name])
    base_cost = statistics.mean(costs(logs, f"model:{best}"))
    p = (accuracy["a"], accuracy["b"], accuracy["c"])
    print("| what | right |")
    print("|---|---|")
    for name in ("a", "b", "c"):
        print(f"| member {name} alone (profile {PROFILES['up-' + name]['right']:.0%}) | {accuracy[name]:.1%} |")
    print(f"| binomial expectation from the measured members (>= 2 of 3 right) | {binomial(p):.1%} |")
    print(f"| exact expectation (ties to the first member, {len(LABELS)} labels) | {exact(p, len(LABELS)):.1%} |")
    print(f"| ensemble, early quorum | {right_share(quorum, seed):.1%} |")
    print(f"| ensemble, waiting for all | {right_share(waiting, seed):.1%} |")
    decided = sum("decided=quorum" in r[3].get("x-sidecar-ensemble", "") for r in quorum)
    print(
        f"\nearly quorum decided {decided} of {q} votes before the third answer; gain over the best member: "
        f"{(right_share(quorum, seed) - accuracy[best]) * 100:+.1f} points\n"
    )
    print("| route | mean latency | p50 latency | cost vs best member |")
    print("|---|---|---|---|")
    print(latency_line(f"best member alone ({best}, 300 ms)", singles[best], base_cost, base_cost))
    print(latency_line("ensemble, early quorum", quorum, statistics.mean(costs(logs, "quorum")), base_cost))
    print(latency_line("ensemble, waiting for all", waiting, statistics.mean(costs(logs, "all")), base_cost))

    print(f"\n## judge strategy (judge right {PROFILES['up-judge']['right']['judge']:.0%} of the time)\n")
    judged = await run_questions(url, "judged", q, conc, seed)
    called = sum("decided=judge" in r[3].get("x-sidecar-ensemble", "") for r in judged)
    print(
        f"right: {right_share(judged, seed):.1%}; the judge was asked on {called} of {q} questions "
        f"(the others unanimous); cost {statistics.mean(costs(logs, 'judged')) / base_cost:.2f}x the best member\n"
    )

    print("## gated cascade (cheap model breaks its JSON 30 % of the time)\n")
    fmt = {"response_format": {"type": "json_schema", "json_schema": {"name": "label", "schema": SCHEMA}}}
    cascade = await run_questions(url, "cascade", q, conc, seed, **fmt)
    premium = await run_questions(url, "premium", q, conc, seed, **fmt)
    print("| route | invalid answers | right | escalated | mean cost per request |")
    print("|---|---|---|---|---|")
    for name, rows in (("cascade cheap -> premium, gated", cascade), ("always premium", premium)):
        invalid = sum(not valid(text) for _, text, _, _ in rows)
        rights = sum(
            valid(text) and orjson.loads(text)["answer"] == LABELS[(n * 7 + seed) % len(LABELS)]
            for n, text, _, _ in rows
        )
        escalated = sum(r[3].get("x-sidecar-model") == "premium" for r in rows) if "cascade" in name else len(rows)
        route = "cascade" if "cascade" in name else "model:premium"
        mean_cost = statistics.mean(costs(logs, route))
        share = rights / len(rows)
        print(
            f"| {name} | {invalid} of {len(rows)} | {share:.1%} | {escalated} "
            f"| ${mean_cost * 1000:.4f} per 1,000 requests |"
        )


def valid(text: str) -> bool:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and set(value) == {"answer"} and value["answer"] in LABELS


async def overhead(url: str, requests: int, seed: int, spans: Any) -> None:
    """Sequential requests; from each request's own spans (SERVER, and the members' INTERNAL or the
    single call's CLIENT span): the sidecar's time outside its upstream calls. The ensemble's added
    latency is its median minus the single route's; CPU per request from this process's CPU clock
    (the fakes run in other processes)."""
    print(f"\n## overhead ({requests} sequential requests per route, members answer after 20 ms)\n")
    big = {"response_format": {"type": "json_object"}}
    cases = [
        ("single member", "single", {}),
        ("ensemble of 3", "overhead", {}),
        ("gated", "gated", big),
        ("ungated", "ungated", big),
    ]
    cpu = dict.fromkeys((name for name, _, _ in cases), 0.0)
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # warm up connections and caches
            for _, model, extra in cases:
                await ask(session, url, model, 0, seed, **extra)
        spans.clear()
        for n in range(requests):  # the routes take turns, so a change of the machine's load hits all alike
            for name, model, extra in cases:
                started = time.process_time()
                await ask(session, url, model, n, seed, **extra)
                cpu[name] += time.process_time() - started
        for name in cpu:
            cpu[name] = cpu[name] / requests * 1000
        outside = split_by_route(spans.get_finished_spans(), {model: name for name, model, _ in cases})
    print("| route | sidecar time outside upstream calls, median | p90 | CPU per request (client + sidecar) |")
    print("|---|---|---|---|")
    for name, values in outside.items():
        p90 = values[math.floor(len(values) * 0.9)]
        print(f"| {name} | {statistics.median(values):.3f} ms | {p90:.3f} ms | {cpu[name]:.2f} ms |")
    ensemble = statistics.median(outside["ensemble of 3"]) - statistics.median(outside["single member"])
    gate = statistics.median(outside["gated"]) - statistics.median(outside["ungated"])
    print(
        f"\nensemble's added latency over its slowest member: {ensemble:.3f} ms (median difference); "
        f"extra CPU per request {cpu['ensemble of 3'] - cpu['single member']:.2f} ms\n"
        f"gates' added latency on a JSON answer: {gate:.3f} ms (median difference)"
    )


def split_by_route(spans: Sequence[Any], names: dict[str, str]) -> dict[str, list[float]]:
    """Per case (``names``: route -> case): for each request, the SERVER span's duration minus its
    slowest member (INTERNAL) or its call (CLIENT), in ms, sorted."""
    from opentelemetry.trace import SpanKind

    by_trace: dict[int, list[Any]] = {}
    for span in spans:
        by_trace.setdefault(span.context.trace_id, []).append(span)
    out: dict[str, list[float]] = {name: [] for name in names.values()}
    for group in by_trace.values():
        server = [s for s in group if s.kind is SpanKind.SERVER]
        members = [s for s in group if s.kind is SpanKind.INTERNAL]
        calls = members or [s for s in group if s.kind is SpanKind.CLIENT]
        if len(server) != 1 or not calls:
            continue
        name = names.get(str(server[0].attributes.get("sidecar.route", "")))
        if name is None:
            continue
        slowest = max(s.end_time - s.start_time for s in calls)
        out[name].append((server[0].end_time - server[0].start_time - slowest) / 1e6)
    return {name: sorted(values) for name, values in out.items()}


def fake_options(name: str, quality: Path, seed: int) -> list[str]:
    return ["--latency-ms", str(FAKES[name]), "--quality", str(quality), "--seed", str(seed)]


def main(args: argparse.Namespace) -> None:
    """Start the fakes (processes), run the sidecar and the measurements on uvloop, stop the fakes."""
    import uvloop

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, loop uvloop\n")
    with tempfile.TemporaryDirectory() as tmp:
        quality = Path(tmp, "quality.json")
        quality.write_bytes(orjson.dumps(PROFILES))
        fakes: list[subprocess.Popen[bytes]] = []
        ports: dict[str, int] = {}
        try:
            for name in FAKES:
                command = [sys.executable, "-m", "sidecar.fake_provider", *port_zero(Path(tmp, f"{name}.ports"))]
                fake, ports[name] = start_with_ports_file(
                    [*command, "--name", name, *fake_options(name, quality, args.seed)],
                    Path(tmp, f"{name}.ports"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                fakes.append(fake)
            path = Path(tmp, "policy.yaml")
            path.write_text(policy_text(ports))
            uvloop.run(measure(args, path))
        finally:
            for fake in fakes:
                fake.terminate()
            for fake in fakes:
                try:
                    fake.wait(10)
                except subprocess.TimeoutExpired:
                    fake.kill()
                    fake.wait()


async def measure(args: argparse.Namespace, path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sidecar.policy import load_policy
    from sidecar.server.app import build_state, start_app
    from sidecar.settings import Settings
    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.logging import configure_logging

    logs = io.BytesIO()
    log_output = configure_logging("info", stream=logs, cache=False)
    spans = InMemorySpanExporter()
    state = build_state(Settings(policy_path=str(path)), load_policy(path), Telemetry.for_tests(spans), {}, log_output)
    app, server = await start_app(state, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    try:
        if not args.overhead_only:
            await claims(url, logs, args)
            state.access.flush()
        await overhead(url, args.overhead_requests, args.seed, spans)
    finally:
        await server.shutdown(0)
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--overhead-requests", type=int, default=300)
    parser.add_argument("--overhead-only", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    main(parser.parse_args())
