"""The headline claim of routing by task and cost, reproduced through the real sidecar and fake providers.

A workload of requests drawn from a task mix (by default 70% simple extraction and classification,
20% medium analysis, 10% complex reasoning, as routing case studies describe) is sent through the
sidecar (``python -m sidecar run``, a subprocess) to the fake provider (``python -m sidecar
fake-provider``), whose three models answer right with the probability of their built-in quality
profile (docs/fake-provider.md: ``fake-premium``, ``fake-standard``, ``fake-mini``), deterministically by
seed. Each request carries its right answer in the ``x-fake-truth`` header (the sidecar forwards it; the
routing rules never see it), so every answer is scored.

Prompts: the hand-written held-out set ``bench/data/routing_heldout.jsonl`` (its ``complexity`` label
picks the pool a draw comes from: simple, medium or complex), routed by the rules of
``bench/data/routing_rules.yaml`` (rules alone, no learned model). The truth's class for the fake model
is the draw's pool: simple -> the prompt's own task when it is classification, else extraction; medium
-> analysis; complex -> reasoning.

Policies compared (models priced like gpt-4o, gpt-4.1-mini and gpt-4o-mini):

- ``all-premium``: every request to the premium model;
- ``routed``: ``select: cheapest`` over the three, tiers as the rules decide (simple -> economy,
  medium -> standard, complex -> premium);
- ``routed-medium-up``: the same with the medium level needing the premium tier;
- ``routed-standard-floor``: simple -> standard, medium and complex -> premium (the mini model unused).

Cost is the sum over answers of the reported usage times the serving model's price; accuracy the
share of answers that contain the right label. The sidecar's own savings metric
(``llm_sidecar_routing_requested_cost_usd_total`` - ``llm_sidecar_routing_served_cost_usd_total``: the
app asks for ``premium``) is read from /metrics and printed next to the computed saving.

    python bench/routing_claims.py [--requests 1000] [--concurrency 8] [--seed 7]
        [--mixes 70/20/10,90/8/2,50/30/20,30/40/30,10/30/60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from listening import port_zero, start_with_ports_file
from measuring import wait_http

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "bench/data/routing_heldout.jsonl"
RULES = ROOT / "bench/data/routing_rules.yaml"
CHOICES = ("alpha", "bravo", "charlie", "delta")
MODELS = {
    # name: (fake model, input $/Mtok, output $/Mtok, tier)
    "premium": ("fake-premium", 2.50, 10.00, "premium"),
    "standard": ("fake-standard", 0.40, 1.60, "standard"),
    "mini": ("fake-mini", 0.15, 0.60, "economy"),
}
TRUTH_CLASS = {"medium": "analysis", "complex": "reasoning"}
POLICIES: dict[str, dict[str, str]] = {
    # name: complexity level -> the tier it needs, where it differs from routing_rules.yaml
    "all-premium": {},
    "routed": {},
    "routed-medium-up": {"medium": "premium"},
    "routed-standard-floor": {"simple": "standard", "medium": "premium"},
}


def policy_text(fake_port: int, kind: str) -> str:
    document: dict[str, Any] = {
        "version": 1,
        "providers": {"fake": {"kind": "fake", "base_url": f"http://127.0.0.1:{fake_port}", "speaks": "openai"}},
        "models": {
            name: {
                "provider": "fake",
                "model": upstream,
                "context_window": 128000,
                "capabilities": ["chat", "streaming", "tools", "vision", "json"],
                "price": {"input_per_mtok": price_in, "output_per_mtok": price_out},
                "quality": {"tier": tier},
            }
            for name, (upstream, price_in, price_out, tier) in MODELS.items()
        },
    }
    if kind == "all-premium":
        document["routes"] = [{"name": "all", "target": "premium"}]
        return yaml.safe_dump(document, sort_keys=False)
    routing = yaml.safe_load(RULES.read_text())["routing"]
    for level in routing["complexity"]["levels"]:
        level["tier"] = POLICIES[kind].get(level["name"], level["tier"])
    document["routing"] = routing
    document["routes"] = [{"name": "routed", "target": {"select": "cheapest", "from": list(MODELS)}}]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class Draw:
    pool: str  # simple, medium, complex
    text: str
    truth: str  # the x-fake-truth header
    answer: str


def workload(mix: tuple[int, int, int], n: int, seed: int) -> list[Draw]:
    pools: dict[str, list[dict[str, Any]]] = {"simple": [], "medium": [], "complex": []}
    for line in HELDOUT.read_bytes().splitlines():
        if line.strip():
            item = orjson.loads(line)
            pools[item["complexity"]].append(item)
    rng = random.Random(seed)
    draws = []
    for i in range(n):
        pool = rng.choices(("simple", "medium", "complex"), weights=mix)[0]
        item = rng.choice(pools[pool])
        truth_class = TRUTH_CLASS.get(pool) or ("classification" if item["task"] == "classification" else "extraction")
        answer = rng.choice(CHOICES)
        truth = f"task={truth_class};answer={answer};choices={'|'.join(CHOICES)};id={seed}-{i}"
        draws.append(Draw(pool, item["text"], truth, answer))
    return draws


@dataclass
class Tally:
    requests: int = 0
    right: int = 0
    cost: float = 0.0
    failed: int = 0
    served: dict[str, int] = field(default_factory=dict)
    served_by_pool: dict[tuple[str, str], int] = field(default_factory=dict)


async def run_workload(url: str, draws: list[Draw], concurrency: int) -> Tally:
    tally = Tally()
    queue: asyncio.Queue[Draw] = asyncio.Queue()
    for draw in draws:
        queue.put_nowait(draw)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            draw = queue.get_nowait()
            body = {"model": "premium", "messages": [{"role": "user", "content": draw.text}]}
            async with session.post(
                f"{url}/v1/chat/completions", json=body, headers={"x-fake-truth": draw.truth}
            ) as response:
                data = await response.read()
                tally.requests += 1
                if response.status != 200:
                    tally.failed += 1
                    continue
                model = response.headers["x-sidecar-model"]
                answer = orjson.loads(data)
                text = answer["choices"][0]["message"]["content"] or ""
                usage = answer["usage"]
                _, price_in, price_out, _ = MODELS[model]
                tally.cost += (usage["prompt_tokens"] * price_in + usage["completion_tokens"] * price_out) / 1e6
                if re.search(rf"\b{draw.answer}\b", text, re.IGNORECASE):
                    tally.right += 1
                tally.served[model] = tally.served.get(model, 0) + 1
                key = (draw.pool, model)
                tally.served_by_pool[key] = tally.served_by_pool.get(key, 0) + 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return tally


async def savings_metric(url: str) -> tuple[float, float]:
    """(requested, served) cost the sidecar counted, summed over routes and tasks."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    totals = {"requested": 0.0, "served": 0.0}
    for line in text.splitlines():
        for kind in totals:
            if line.startswith(f"llm_sidecar_routing_{kind}_cost_usd_total{{"):
                totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals["requested"], totals["served"]


def start(command: list[str], ports_file: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``command`` on port 0 (``listening.port_zero(ports_file)`` appended); the process and its port."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return start_with_ports_file([*command, *port_zero(ports_file)], ports_file, env=env, **quiet)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mixes", default="70/20/10,90/8/2,50/30/20,30/40/30,10/30/60")
    args = parser.parse_args()
    mixes = [tuple(int(x) for x in mix.split("/")) for mix in args.mixes.split(",")]
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "warning"}
    results: dict[tuple[str, tuple[int, ...]], Tally] = {}
    metrics: dict[tuple[str, tuple[int, ...]], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        fake_command = [sys.executable, "-m", "sidecar", "fake-provider", "--seed", str(args.seed)]
        fake, fake_port = start(fake_command, Path(workdir) / "fake.ports", env)
        try:
            wait_http(f"http://127.0.0.1:{fake_port}/_fake/stats", timeout=120)
            for kind in POLICIES:
                for mix in mixes:
                    policy = Path(workdir) / f"{kind}.yaml"
                    policy.write_text(policy_text(fake_port, kind))
                    command = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy)]
                    sidecar, port = start(command, Path(workdir) / "sidecar.ports", env)
                    try:
                        url = f"http://127.0.0.1:{port}"
                        wait_http(f"{url}/readyz", timeout=120)
                        draws = workload(mix, args.requests, args.seed)  # type: ignore[arg-type]
                        results[(kind, mix)] = asyncio.run(run_workload(url, draws, args.concurrency))
                        metrics[(kind, mix)] = asyncio.run(savings_metric(url))
                    finally:
                        sidecar.terminate()
                        sidecar.wait()
        finally:
            fake.terminate()
            fake.wait()
    report(results, metrics, mixes, args)
    return 0


def report(
    results: dict[tuple[str, tuple[int, ...]], Tally],
    metrics: dict[tuple[str, tuple[int, ...]], tuple[float, float]],
    mixes: list[tuple[int, ...]],
    args: argparse.Namespace,
) -> None:
    print(f"{args.requests} requests per mix and policy, seed {args.seed}, concurrency {args.concurrency}")
    print()
    print(
        "| mix simple/medium/complex | policy | cost (USD) | vs all-premium | accuracy | vs all-premium |"
        " served premium / standard / mini | failed | savings metric (requested - served) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mix in mixes:
        base = results[("all-premium", mix)]
        base_accuracy = base.right / base.requests
        for kind in POLICIES:
            tally = results[(kind, mix)]
            accuracy = tally.right / tally.requests
            served = " / ".join(str(tally.served.get(m, 0)) for m in MODELS)
            requested, served_cost = metrics[(kind, mix)]
            metric = f"${requested - served_cost:.4f} of ${requested:.4f}" if requested else "-"
            print(
                f"| {'/'.join(map(str, mix))} | {kind} | ${tally.cost:.4f} | {tally.cost / base.cost - 1:+.1%} |"
                f" {accuracy:.1%} | {100 * (accuracy - base_accuracy):+.1f} pts | {served} | {tally.failed} |"
                f" {metric} |"
            )
    headline = mixes[0]
    routed = results[("routed", headline)]
    print()
    print(
        "complex prompts served by mini (misroutes down), headline mix, routed:",
        routed.served_by_pool.get(("complex", "mini"), 0),
        "of",
        sum(v for (pool, _), v in routed.served_by_pool.items() if pool == "complex"),
    )


if __name__ == "__main__":
    sys.exit(main())
