"""A seeded, randomized fault soak through the official SDKs, with invariants: does anything break?

Two real ``python -m sidecar run`` pods (their logs to files, a ``sitecustomize`` hook on their PYTHONPATH
counting their live asyncio tasks: bench/soak_samples.py; ``SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST``
``--per-host``, small, so calls wait for the pool; the second takes half the cached route's calls) in
front of three ``sidecar fake-provider`` processes (``f1``, ``f2``: OpenAI, Anthropic and Gemini each,
faulted at random; ``f3``: OpenAI and Anthropic, never faulted, slow, so its calls wait for a
connection), ``f4`` (bench/sdk_soak_scripted.py: a scripted Gemini whose streams carry usage on some
fragments only, with thinking and cache-read tokens and new finish reasons) and one redis-server (the
response cache both pods share and the budgets' store). Routes: a translated fallback chain over the
three dialects, a hedged chain of three, a cached route, a route with a requests budget, a one-target
route, ``usage`` (f4's), ``vote`` (an ensemble of three, on providers of its own), and ``pool`` (f3's,
its access lines sampled by the policy's ``access_log``). Budgets: dollars overall, requests on one
route, requests on one provider (``f2oa``: a hedge's and a fallback's target, skipped once full), and two
that only count (dollars by route, requests by provider: bench/sdk_soak_ledger.py).

``--concurrency`` clients, each with its own RNG from ``--seed``, send for ``--seconds`` per round
(bench/sdk_soak_plans.py, bench/sdk_soak_calls.py): openai, anthropic and google-genai calls, streamed
and not, with tools or not, to every route (so same-dialect and translated), a third with a provider
fault in the prompt (context overflows among them); some asking for thinking, some with a field inside
the message the dialect does not know, the cached route's with billing fields the key leaves out;
clients that leave mid-stream or before the head; malformed bodies by raw HTTP; unknown models.
Meanwhile, at random (from the seed): each fake's default fault and rate change, the policy is
rewritten and SIGHUPed (the same, a broken one, one that removes a target in use, or one that changes
the pool route's sample rate), and redis-server is killed and restarted once (in the first round).

Then the invariants (bench/sdk_soak_checks.py), per request: an answer the SDK parsed (the fake
model's echo of the prompt, or its tool call; a stream to its end) or an error the SDK raised in the
caller's dialect, never a 500 but a provider's own passed through, never past the deadline plus a
margin; one access line per request agreeing with what the client saw (on the sampled route: one, or
none for a plain success from one upstream call); a client that left had its upstream calls ended
within 2 s (the fake's request log: ``ended``). At the end of each round, after the load stopped
(``settle``: faults off, the valid policy back, a clean call per route and dialect, the cache's answers
to the round's shared prompts, and ``FOUND``, the calls that met a defect before): no budget
reservation held in Redis and no settlement pending, open fds and live tasks back near the start, RSS
per round, every open breaker in ``/status`` with failures in its window; and (but in the round Redis
was restarted in) ``/status``'s counting budgets grew by what the round's access lines say was used. At
the very end: the lines sampled out are ``llm_sidecar_access_lines_sampled_out_total``, requests by
route in ``llm_sidecar_requests_total`` are the lines plus those, no breaker of the pool route opened by
pool waits alone (each pod), no error-level log line (but the soak's own broken policies) and no traceback.
The usage invariants (bench/sdk_soak_usage.py): a plain answer's usage, as the app's SDK parsed it, is
its access line's; f4's answers have the usage and finish reason f4's script gives their prompt; a cache
hit has a live answer's usage; an OpenAI app's context overflow is ``context_length_exceeded``; and after
each round the round's shared prompts, asked again at the second pod with other billing fields, are hits.

    .venv/bin/python bench/sdk_soak.py [--seed 1 | --seeds 401-420] [--rounds 3] [--seconds 60]
        [--concurrency 8] [--per-host 4]

Exit 0 when nothing was violated, 1 otherwise; each violation is printed with the request's plan (and
its seed: ``--seeds`` runs each seed on a stack of its own, one after the other).
tests/test_sdk_soak.py runs a short fixed-seed soak in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from itertools import product
from pathlib import Path
from typing import Any

from listening import port_zero, start_redis, wait_port
from sdk_soak_calls import LEAVE_MID, ROUTES, Clients, Plan, Seen, plan_call, send, shared_prompts
from sdk_soak_checks import Sample, check_end, check_requests, error_lines, get_text, round_budgets, sample
from sdk_soak_ledger import Uses, budget_uses, pool_waits
from sdk_soak_policy import BROKEN, PROVIDER_OF, REMOVING, RESAMPLED, VALID, policy_text
from sidecar_under_test import write_policy
from soak_samples import HOOK

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]
KILL_REDIS_ROUND = 1
FAKE_FAULTS = ("overloaded", "status=500", "reset", "stall=2", "cut=1", "status=429;hint=retry-after;after=0.2")


# Calls that met a defect in an earlier run, sent again after every round (dialect, route, stream, tools,
# fault, leave): a Gemini app's translated tool call cut before the app got a byte (seed 21) fell back
# only once the commit waited for the caller's bytes (docs/benchmarks.md, wave 27).
FOUND: tuple[tuple[str, str, bool, bool, str | None, str | None], ...] = (
    ("gemini", "chain", True, True, "f1:cut=2", None),
)


class Stack:
    """The fakes, the Redis and the sidecar, started in ``workdir``; ``close`` stops them all."""

    def __init__(self, workdir: Path, seed: int, per_host: int) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}
        fakes = {}
        for name in ("f1", "f2", "f3"):  # started together, then waited for: a start takes seconds under load
            fake = [PYTHON, "-m", "sidecar", "fake-provider", "--name", name]
            # f3 holds each connection about a second: its calls wait for the small pool
            slow = ["--ttft-ms", "300", "--tokens-per-s", "20"] if name == "f3" else ["--tokens-per-s", "300"]
            fakes[name] = self._spawn(name, [*fake, *slow, "--seed", str(seed)])
        fakes["f4"] = self._spawn("f4", [PYTHON, str(ROOT / "bench" / "sdk_soak_scripted.py")])
        for name, (ports_file, proc) in fakes.items():
            self.ports[name] = wait_port(ports_file, proc)
        self.redis, self.ports["redis"] = start_redis(workdir)
        self.policy = workdir / "policy.yaml"
        write_policy(self.policy, policy_text(self.ports, VALID))
        hook = workdir / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        self.tasks_file = workdir / "tasks"
        self.sidecars: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []  # the first pod's, then the second's (the cached route's calls, half of them)
        self.logs: list[Path] = []
        for name in ("sidecar", "sidecar2"):
            env = {**os.environ, "PYTHONPATH": str(hook), "SOAK_TASKS_FILE": str(workdir / f"{name}.tasks")}
            env["SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST"] = str(per_host)
            self._spawn(name, [PYTHON, "-m", "sidecar", "run", "--policy", str(self.policy)], env)
            self.sidecars.append(self.procs[-1])
            self.logs.append(workdir / f"{name}.log")
        for name, sidecar in zip(("sidecar", "sidecar2"), self.sidecars, strict=True):
            self.urls.append(f"http://127.0.0.1:{wait_port(workdir / f'{name}.ports', sidecar)}")
        self.sidecar, self.url, self.log = self.sidecars[0], self.urls[0], self.logs[0]
        self.tasks_file = workdir / "sidecar.tasks"

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> tuple[Path, subprocess.Popen[bytes]]:
        """Start ``name``; its ports file and process (``wait_port`` reads the port once it listens)."""
        ports = self.workdir / f"{name}.ports"
        with (self.workdir / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen([*args, *port_zero(ports)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.procs.append(proc)
        return ports, proc

    def fake_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def fake_urls(self) -> tuple[str, ...]:
        return self.fake_url("f1"), self.fake_url("f2"), self.fake_url("f4")

    def restart_redis(self) -> None:
        """Kill redis-server; start it again on its port 1 s later (without data: it has no persistence)."""
        self.redis.kill()
        self.redis.wait()
        time.sleep(1.0)
        args = ["--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.redis = subprocess.Popen(
            ["redis-server", *args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.procs.append(self.redis)

    def reload(self, text: str) -> None:
        write_policy(self.policy, text)
        for sidecar in self.sidecars:
            sidecar.send_signal(signal.SIGHUP)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def chaos(stack: Stack, rng: random.Random, until: float, kill_redis_at: float | None, events: list[str]) -> None:
    """Until ``until``: reload the policy and change the fakes' default faults at random; kill Redis once."""
    next_reload = time.monotonic() + rng.uniform(1, 3)
    next_fault = time.monotonic() + rng.uniform(0.5, 2)
    while time.monotonic() < until:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        if kill_redis_at is not None and now >= kill_redis_at:
            kill_redis_at = None
            await asyncio.to_thread(stack.restart_redis)
            events.append(f"{time.strftime('%H:%M:%S')} redis killed and restarted")
        if now >= next_reload:
            next_reload = now + rng.uniform(1, 3)
            kind = rng.choice(("valid", "valid", "broken", "removing", "resampled"))
            text = {
                "valid": policy_text(stack.ports, VALID),
                "resampled": policy_text(stack.ports, RESAMPLED),
                "removing": policy_text(stack.ports, REMOVING),
                "broken": rng.choice(BROKEN),
            }[kind]
            await asyncio.to_thread(stack.reload, text)
            events.append(f"{time.strftime('%H:%M:%S')} reload {kind}")
        if now >= next_fault:
            next_fault = now + rng.uniform(0.5, 2)
            fake = rng.choice(("f1", "f2"))
            fault = rng.choice(FAKE_FAULTS) if rng.random() < 0.6 else ""
            rate = round(rng.uniform(0.1, 0.4), 2) if fault else 0
            await asyncio.to_thread(
                post_json, stack.fake_url(fake) + "/_fake/config", {"fault": fault, "fault_rate": rate}
            )
            events.append(f"{time.strftime('%H:%M:%S')} {fake} fault {fault or 'none'} rate {rate}")


def pods(stack: Stack) -> tuple[Clients, ...]:
    """The SDKs' clients at each sidecar."""
    return tuple(Clients(url, stack.fake_urls(), timeout_s=30) for url in stack.urls)


async def client(
    clients: tuple[Clients, ...], rng: random.Random, prefix: str, round_number: int, until: float, seen: list[Seen]
) -> None:
    number = 0
    while time.monotonic() < until:
        number += 1
        plan = plan_call(rng, f"{prefix}-{number}", round_number)
        seen.append(await send(clients[plan.pod], plan))


async def settle(stack: Stack, prefix: str, round_number: int = 0, wait_s: float = 3.5) -> list[Seen]:
    """Faults off, the valid policy back, ``wait_s`` (the reload lands; every breaker's open time,
    ``open_max_s`` 3, passes), then one clean call per route and dialect (breakers probe and close)."""
    for fake in ("f1", "f2"):
        await asyncio.to_thread(post_json, stack.fake_url(fake) + "/_fake/config", {"fault": "", "fault_rate": 0})
    await asyncio.to_thread(stack.reload, policy_text(stack.ports, VALID))
    await asyncio.sleep(wait_s)
    clients = pods(stack)
    seen: list[Seen] = []
    dialects = ("openai", "anthropic", "gemini")
    plans = [
        Plan(f"{prefix}-{n}", d, r, n % 2 == 1, False, None, None) for n, (r, d) in enumerate(product(ROUTES, dialects))
    ]
    # what the cache holds for the round's shared prompts, leavers' (whole, never a stream cut short) and others'
    plans += [
        Plan(f"{prefix}-shared-{k}-{dialect}", dialect, "cached", False, False, marker, None, shared=k)
        for k in (shared_prompts(round_number) if round_number else ())
        for marker, dialect in ((LEAVE_MID, "openai"), (None, "anthropic"), (LEAVE_MID, "gemini"))
    ]
    # asked again at the other pod, streamed, billing fields set: hits (``check_hits``) of the answers stored
    # above (the dialect is in the key)
    plans += [
        Plan(
            f"{prefix}-again-{k}-{dialect}",
            dialect,
            "cached",
            stream,
            False,
            marker,
            None,
            shared=k,
            pod=1,
            billing=True,
        )
        for k in (shared_prompts(round_number) if round_number else ())
        for marker, dialect, stream in (
            (LEAVE_MID, "openai", True),
            (None, "anthropic", True),
            (LEAVE_MID, "gemini", True),
        )
    ]
    plans += [Plan(f"{prefix}-found-{n}", *found) for n, found in enumerate(FOUND)]
    try:
        for plan in plans:
            seen.append(await send(clients[plan.pod], plan))
    finally:
        for pod in clients:
            await pod.close()
    return seen


async def run_round(args: argparse.Namespace, stack: Stack, number: int, events: list[str]) -> list[Seen]:
    rng = random.Random(f"{args.seed}-{number}")
    sdks = [pods(stack) for _ in range(args.concurrency)]
    until = time.monotonic() + args.seconds  # from here: building the SDKs' clients takes seconds under load
    kill_at = time.monotonic() + args.seconds * rng.uniform(0.3, 0.6) if number == KILL_REDIS_ROUND else None
    seen: list[Seen] = []
    clients = [
        client(sdk, random.Random(f"{args.seed}-{number}-{i}"), f"s{args.seed}r{number}c{i}", number, until, seen)
        for i, sdk in enumerate(sdks)
    ]
    try:
        await asyncio.gather(chaos(stack, rng, until, kill_at, events), *clients)
    finally:
        for sdk in sdks:
            for pod in sdk:
                await pod.close()
    return seen


def both_uses(stack: Stack) -> Uses:
    """The counting budgets' uses in the shared store, as either pod reads them (a counter only the second
    pod has met is read there)."""
    second, first = (budget_uses(url) for url in reversed(stack.urls))
    return second | first


async def soak(args: argparse.Namespace, stack: Stack) -> list[str]:
    events: list[str] = []
    warm = await settle(stack, f"s{args.seed}warm", wait_s=0)
    await asyncio.sleep(args.idle_s)
    start = await asyncio.to_thread(sample, stack)
    uses = await asyncio.to_thread(both_uses, stack)
    samples: list[Sample] = []
    violations: list[str] = []
    every: list[Seen] = [*warm]
    for number in range(1, args.rounds + 1):
        began = time.strftime("%H:%M:%S", time.gmtime())
        seen = await run_round(args, stack, number, events)
        clean = await settle(stack, f"s{args.seed}r{number}clean", number)
        await asyncio.sleep(args.idle_s)
        samples.append(await asyncio.to_thread(sample, stack))
        every += seen + clean
        ended = time.strftime("%H:%M:%S", time.gmtime())
        print(f"# round {number} {began}-{ended} UTC: {len(seen)} calls; {samples[-1]}", flush=True)
        fd_slack = 8 + args.concurrency  # the sidecar's kept-alive connections to the fakes, about one a client
        violations += await asyncio.to_thread(check_end, stack, start, samples, clean, fd_slack)
        uses, grown = await asyncio.to_thread(both_uses, stack), uses
        if number != KILL_REDIS_ROUND:  # a restarted redis-server starts its counters from nothing
            found = await asyncio.to_thread(round_budgets, stack, seen + clean, grown, uses, PROVIDER_OF)
            violations += [f"round {number}: {problem}" for problem in found]
    violations += await asyncio.to_thread(check_requests, stack, every)
    violations += error_lines(stack.logs)
    if args.events:
        print("\n".join(f"#   {event}" for event in events))
    waits = pool_waits(await asyncio.to_thread(get_text, stack.url + "/metrics"))
    print(f"# start {start}; chaos events: {len(events)}; calls: {len(every)}; pool waits: {waits:g}")
    return violations


def seeds(text: str) -> list[int]:
    """``--seeds``: ``401-420`` or ``5,8,13`` (or both: ``401-405,9``)."""
    found: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        found += range(int(first), int(last or first) + 1)
    return found


def run_seed(args: argparse.Namespace, seed: int) -> int:
    """One soak of ``seed`` on a stack of its own; its violations, printed, counted."""
    args.seed = seed
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-sdk-soak-"))
    print(f"# workdir {workdir} seed {seed}", flush=True)
    stack = Stack(workdir, seed, args.per_host)
    try:
        violations = asyncio.run(soak(args, stack))
    finally:
        stack.close()
    for violation in violations:
        print(f"VIOLATION seed {seed}: {violation}")
    print(f"# seed {seed} violations: {len(violations)}", flush=True)
    return len(violations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=seeds, help="several seeds, one after the other: 401-420, 5,8,13")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="load per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--per-host", type=int, default=4, help="SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST: calls wait for the pool"
    )
    parser.add_argument("--idle-s", type=float, default=2.0, help="idle before each sample")
    parser.add_argument("--events", action="store_true", help="print the chaos events")
    args = parser.parse_args()
    counts = {seed: run_seed(args, seed) for seed in args.seeds or [args.seed]}
    print(f"# violations: {sum(counts.values())} ({', '.join(f'seed {s}: {n}' for s, n in counts.items())})")
    return 1 if any(counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
