"""Random *valid* traffic through every pair of dialects: does any of it crash the sidecar?

Requests (``--part requests``): each seed draws a valid chat request of a caller dialect (OpenAI,
Anthropic, Gemini: bench/translation_fuzz_requests.py), whole or streamed, for an upstream (OpenAI, Azure
OpenAI, Anthropic, Gemini; ``unsupported_params`` ``error`` or ``drop``), sent by raw HTTP to a real
sidecar in front of fake providers (bench/translation_fuzz_stack.py). Invariants
(bench/translation_fuzz_checks.py): a 200 whose body (or every event) is JSON of the caller's dialect
without an error, or a 4xx in the caller's error shape whose code is one the sidecar documents for a
request it cannot send; never a 5xx; what the provider received is a body its API takes; no log line at
error level, no traceback.

Answers (``--part answers``): each seed draws a valid answer of an upstream dialect
(bench/translation_fuzz_answers.py: text, tool calls with nested arguments, thinking with signatures,
refusals, several choices, usage with cache fields, every finish reason, empty and long unicode text),
served whole or streamed by a seeded answer server, for a request of a caller dialect sent through the
caller's official SDK (openai, anthropic, google-genai; their stream accumulators too). Invariants: the
SDK parses it; the text and each tool call's arguments arrive whole (streamed: the deltas joined); the
finish reason and the usage map as docs/translation.md says; no error-level log line.

    .venv/bin/python bench/translation_fuzz.py --seeds 2000 [--first 0] [--part requests|answers|both] [--stats]

Another revision's sidecar: ``PYTHONPATH=<its checkout>`` (this tree's bench, its package).

Exit 0 when nothing was violated, 1 otherwise; each violation is printed with its seed (``--first SEED
--seeds 1 --show`` prints that seed's request and answer). tests/server/test_translation_fuzz.py runs a
short fixed-seed run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import sys
import time
from typing import Any

import aiohttp
from translation_fuzz_checks import SIDECAR_REFUSALS, error_code, error_shape_problem, log_problems, upstream_problems
from translation_fuzz_requests import Request, request
from translation_fuzz_stack import UPSTREAM_DIALECT, UPSTREAMS, Stack, start

DIALECTS = ("openai", "anthropic", "gemini")


def wire(body: dict[str, Any], rng: random.Random) -> bytes:
    """The body as an app's JSON library writes it: ASCII escapes or UTF-8 (a lone surrogate: escaped)."""
    text = json.dumps(body, ensure_ascii=True)
    if "\\ud8" in text or "\\udf" in text or rng.random() < 0.5:
        return text.encode()
    return json.dumps(body, ensure_ascii=False).encode()


def plan(seed: int) -> tuple[Request, str, random.Random]:
    """Seed ``seed``'s request and upstream."""
    rng = random.Random(seed)
    caller, upstream = rng.choice(DIALECTS), rng.choice(UPSTREAMS)
    model = f"{rng.choice(('to', 'drop'))}-{upstream}"
    return request(rng, caller, model, rng.random() < 0.4), upstream, rng


def stream_problems(caller: str, text: str) -> list[str]:
    """An answer stream's events that are not JSON, or carry an error."""
    out = []
    for line in text.splitlines():
        if line.startswith("event: error"):
            out.append("an error event")
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            continue
        try:
            event = json.loads(line[5:])
        except ValueError:
            out.append(f"an event that is not JSON: {line[:200]}")
            continue
        if isinstance(event, dict) and ("error" in event or event.get("type") == "error"):
            out.append(f"an error event: {line[:400]}")
    if caller == "openai" and "data: [DONE]" not in text:
        out.append("no [DONE]")
    return out


def whole_problems(caller: str, body: Any) -> list[str]:
    key = {"openai": "choices", "anthropic": "content", "gemini": "candidates"}[caller]
    if not isinstance(body, dict) or key not in body:
        return [f"a 200 without {key}: {body!r:.300}"]
    return []


async def send_one(
    session: aiohttp.ClientSession, stack: Stack, seed: int, stats: collections.Counter[str], show: bool = False
) -> list[str]:
    """Seed ``seed``'s request through ``stack``: the invariants it broke."""
    call, upstream, rng = plan(seed)
    fake = stack.upstream_urls[upstream]
    async with session.post(f"{fake}/_fake/reset") as reset:
        await reset.read()
    _, offset = stack.log_lines()
    headers = {"content-type": "application/json", **call.headers}
    async with session.post(stack.url + call.path, data=wire(call.body, rng), headers=headers) as answer:
        status, raw = answer.status, await answer.read()
    async with session.get(f"{fake}/_fake/requests") as records:
        received = [r for r in await records.json() if r["method"] == "POST"]
    if show:
        print(f"# answered {status}: {raw[:2000]!r}")
        for record in received:
            print(f"# {upstream} received:\n{json.dumps(record['json'], indent=1)[:6000]}")
    problems: list[str] = []
    pair = f"{call.caller}->{upstream}{' stream' if call.stream else ''}"
    if status == 200:
        stats[f"{pair}: 200"] += 1
        text = raw.decode()
        problems += stream_problems(call.caller, text) if call.stream else whole_problems(call.caller, json.loads(text))
    else:
        body = json.loads(raw) if raw.startswith(b"{") else raw[:300]
        code = error_code(call.caller, body)
        stats[f"{pair}: {status} {code}{' (upstream)' if received else ''}"] += 1
        if status >= 500:
            problems.append(f"status {status}: {raw[:600]!r}")
        shape = error_shape_problem(call.caller, status, body)
        problems += [shape] if shape else []
        if received:
            problems.append(f"the provider refused what it was sent: {status} {raw[:600]!r}")
        elif call.caller != "anthropic" and code not in SIDECAR_REFUSALS:
            problems.append(f"a refusal of a code not documented: {status} {raw[:600]!r}")
    for record in received:
        problems += [f"{upstream} received: {p}" for p in upstream_problems(UPSTREAM_DIALECT[upstream], record["json"])]
    lines, _ = stack.log_lines(offset)
    problems += log_problems(lines)
    return problems


async def run_requests(first: int, seeds: int, show: bool) -> tuple[int, collections.Counter[str]]:
    stack = await start()
    stats: collections.Counter[str] = collections.Counter()
    violations = 0
    try:
        async with aiohttp.ClientSession() as session:
            for seed in range(first, first + seeds):
                if show:
                    call, upstream, _ = plan(seed)
                    print(f"# seed {seed}: {call.caller} -> {upstream} {call.path}\n{json.dumps(call.body, indent=1)}")
                problems = await send_one(session, stack, seed, stats, show)
                for problem in problems:
                    violations += 1
                    print(f"VIOLATION requests seed {seed}: {problem}")
    finally:
        await stack.close()
    return violations, stats


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    violations = 0
    parts = ("requests", "answers") if args.part == "both" else (args.part,)
    for part in parts:
        if part == "requests":
            found, stats = await run_requests(args.first, args.seeds, args.show)
        else:
            from translation_fuzz_sdk import run_answers

            found, stats = await run_answers(args.first, args.seeds, args.show)
        violations += found
        print(f"## {part}: {args.seeds} seeds from {args.first}, {found} violations")
        if args.stats:
            for key, count in sorted(stats.items()):
                print(f"  {count:6d}  {key}")
        good = ": 200" if part == "requests" else ": ok"
        print(
            f"  outcomes: {sum(v for k, v in stats.items() if k.endswith(good))} {good[2:]}, "
            f"{sum(v for k, v in stats.items() if not k.endswith(good))} other (4xx refusals; violated answers)"
        )
    print(f"# violations: {violations} ({time.monotonic() - started:.1f} s)")
    return 1 if violations else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--part", choices=("requests", "answers", "both"), default="both")
    parser.add_argument("--show", action="store_true", help="print each seed's request")
    parser.add_argument("--stats", action="store_true", help="print the outcomes by dialect pair")
    sys.exit(asyncio.run(main(parser.parse_args())))
