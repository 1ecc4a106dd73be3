"""A long, mixed, faulty run: what grows in a sidecar that lives for weeks in a pod?

One real ``python -OO -m sidecar run`` on a production-shaped policy adapted to fake providers (two
``sidecar fake-provider`` processes speaking OpenAI, Anthropic and Gemini, one faulted per request by
prompt markers): routing, the response cache (in memory, then in a real redis-server, alternating
at each valid reload), two budgets (per route, and per `x-user` header value: a new value on half the
requests), a gated route, an ensemble, a shadow at 5%, traces at 10% to a local
OTLP sink. Under it, ``--concurrency`` clients send a mix an app produces: the three dialects,
streamed and not, clients hanging up mid-stream or giving up after 0.3 s, provider faults (429 with
Retry-After, 500, 503, 529, resets, stalls past the first-byte timeout, cut streams, in-stream
errors), unknown models and malformed bodies; the policy file is rewritten and SIGHUPed every
``--reload-s`` seconds (valid and broken alternately), and the Redis is killed and restarted (2 s
down) half-way through each step, while the policy in force caches in it.

Every ``--sample-s`` seconds it samples the sidecar: RSS, open file descriptors, threads, asyncio
tasks not done (a ``sitecustomize`` hook on the sidecar's PYTHONPATH counts them in
``asyncio.tasks._all_tasks`` each second and writes the number to a file; ``--types-s`` also appends
the GC-tracked objects by type and the live tasks by coroutine chain), its TCP connections (``ss``,
established: the app's to it, and its own to the fakes and Redis), the /metrics line count (series),
the /status target map, the memory cache's bytes against its bound. At the end: start vs end of each
step (the end sampled after ``--idle-s`` without traffic), the change per 10,000 requests, the
outcomes and the sidecar's error-level log events.

    .venv/bin/python bench/soak_mix.py [--steps 3] [--minutes 6] [--concurrency 12] [--reload-s 5]

All servers listen on port 0 (redis-server on a free pick: bench/listening.py).

Modules: this one (the policy, the stack, the steps with their reloads and Redis restart);
``soak_traffic`` (the requests sent), ``soak_samples`` (what is sampled and summed up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from listening import port_zero, start_redis, wait_port
from sidecar_under_test import write_policy
from soak_samples import HOOK, error_events, sample, summary
from soak_traffic import Tally, worker
from tracing_memory import OtlpSink

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]

POLICY = """
version: 1
defaults:
  unsupported_params: drop
  resilience:
    max_attempts_per_target: 2
    deadline_s: 10
    backoff: {base_s: 0.05, cap_s: 0.5}
    rate_limit_max_wait_s: 1
    fallback_on: [429, 500, 502, 503, 504, 529]
    last_resort: {kind: error, retry_after_s: 5}
  breaker: {window: count, window_size: 20, minimum_calls: 5, failure_rate: 0.5, open_s: 2, open_max_s: 8}
  retry_budget: {ratio: 0.5, min_retries: 10, window_s: 10}
  bulkhead: {max_concurrent: 64, queue_timeout_s: 1}
providers:
  f1oa: {kind: openai, base_url: "F1/v1", timeouts: {connect_s: 1, first_byte_s: 1, idle_s: 2, total_s: 8}}
  f1an: {kind: anthropic, base_url: "F1", timeouts: {connect_s: 1, first_byte_s: 1, idle_s: 2, total_s: 8}}
  f1ge: {kind: gemini, base_url: "F1", timeouts: {connect_s: 1, first_byte_s: 1, idle_s: 2, total_s: 8}}
  f2oa: {kind: openai, base_url: "F2/v1", timeouts: {connect_s: 1, first_byte_s: 1, idle_s: 2, total_s: 8}}
  f2an: {kind: anthropic, base_url: "F2", timeouts: {connect_s: 1, first_byte_s: 1, idle_s: 2, total_s: 8}}
models:
  a-oa: {provider: f1oa, model: gpt-a, price: {input_per_mtok: 1, output_per_mtok: 2}, quality: {tier: standard},
         capabilities: [chat, streaming, tools, json]}
  a-an: {provider: f1an, model: claude-a, price: {input_per_mtok: 2, output_per_mtok: 3}, quality: {tier: premium},
         capabilities: [chat, streaming, tools, json]}
  a-ge: {provider: f1ge, model: gemini-a, price: {input_per_mtok: 1, output_per_mtok: 1},
         capabilities: [chat, streaming, tools, json]}
  b-oa: {provider: f2oa, model: gpt-b, price: {input_per_mtok: 3, output_per_mtok: 3},
         capabilities: [chat, streaming, tools, json]}
  b-an: {provider: f2an, model: claude-b, price: {input_per_mtok: 3, output_per_mtok: 4},
         capabilities: [chat, streaming, tools, json]}
routing:
  classes:
    - name: code
      rules: [{keywords: [python], in: [last_user]}]
routes:
  - name: retired
    match: {model: ["gpt-3.5*"]}
    deny: {message: "retired model; use chat", status: 403}
  - name: routed
    match: {model: routed}
    target: {select: cheapest, from: [a-oa, a-an]}
    gates: {regex: {pattern: "[a-z]"}}
    shadow: {candidates: [b-oa], sample: 0.05}
  - name: cached
    match: {model: cached}
    target: [a-an, b-oa]
    cache: {enabled: true, cacheable: always, ttl_s: 600}
  - name: vote
    match: {model: vote}
    ensemble: {members: [a-ge, b-oa]}
  - name: capped
    match: {model: capped}
    target: [a-ge, b-an]
  - name: chat
    match: {model: "chat*"}
    target: [a-oa, b-an]
budgets:
  TTL
  limits:
    - {name: per-minute, measure: requests, amount: 30, window: minute,
       scope: {by: route, values: [capped], others: exempt}}
    - {name: per-user, measure: requests, amount: 1000, window: minute, scope: {by: header, header: x-user}}
CACHE
"""

MEMORY_CACHE = "cache:\n  memory: {max_entries: 100000, max_bytes: 200000}\n"
REDIS_CACHE = "cache:\n  redis: {url: 'redis://127.0.0.1:REDIS/0', timeout_s: 0.2}\n"
BROKEN = ["version: 1\nroutes: [\n", "version: 1\nproviders: {x: {kind: nope}}\n"]


class CountingSink(OtlpSink):
    """The OTLP/HTTP sink of bench/tracing_memory.py, counting the exports it takes."""

    def do_POST(self) -> None:
        super().do_POST()
        self.server.posts += 1  # type: ignore[attr-defined]


async def step(args: argparse.Namespace, number: int, ctx: dict[str, Any], tally: Tally) -> list[dict[str, Any]]:
    pid, url = ctx["pid"], ctx["url"]
    until = time.monotonic() + args.minutes * 60
    workers = [asyncio.create_task(worker(url, number * 1000 + i, until, tally)) for i in range(args.concurrency)]
    samples = [sample(pid, url, ctx["tasks_file"], tally.sent)]
    print(json.dumps(samples[0]), flush=True)
    next_reload = time.monotonic() + args.reload_s
    next_sample = time.monotonic() + args.sample_s
    redis_restarted = False
    half = time.monotonic() + args.minutes * 30
    while time.monotonic() < until:
        await asyncio.sleep(0.2)
        now = time.monotonic()
        if now >= next_reload:
            next_reload = now + args.reload_s
            ctx["reloads"] += 1
            if ctx["reloads"] % 2:
                text = BROKEN[(ctx["reloads"] // 2) % len(BROKEN)]
            else:
                ctx["redis_next"] = not ctx["redis_next"]
                text = ctx["policy_text"].replace("CACHE", REDIS_CACHE if ctx["redis_next"] else MEMORY_CACHE)
            write_policy(ctx["policy"], text.replace("REDIS", str(ctx["redis_port"])))
            os.kill(pid, signal.SIGHUP)
        serving_redis = ctx["redis_next"] and ctx["reloads"] % 2 == 0  # the Redis store serves now
        if not redis_restarted and now >= half and serving_redis:
            redis_restarted = True
            ctx["redis"].kill()
            ctx["redis"].wait()
            await asyncio.sleep(2)
            ctx["redis"], _ = await asyncio.to_thread(restart_redis, ctx)
            print(
                f"# redis killed and restarted (store in use) at {time.strftime('%H:%M:%S', time.gmtime())}", flush=True
            )
        if now >= next_sample:
            next_sample = now + args.sample_s
            row = await asyncio.to_thread(sample, pid, url, ctx["tasks_file"], tally.sent)
            samples.append(row)
            print(json.dumps(row), flush=True)
    await asyncio.gather(*workers)
    await asyncio.sleep(args.idle_s)  # idle: kept-alive connections expire (15 s), shadows and exports end
    samples.append(await asyncio.to_thread(sample, pid, url, ctx["tasks_file"], tally.sent))
    print(json.dumps(samples[-1]), flush=True)
    return samples


def restart_redis(ctx: dict[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
    port = ctx["redis_port"]
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(ctx["workdir"]),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctx["procs"].append(proc)
    time.sleep(0.5)
    return proc, port


def start_stack(
    workdir: Path, procs: list[subprocess.Popen[bytes]], sink_port: int, types_s: float, reservation_ttl_s: float | None
) -> dict[str, Any]:
    """The fakes, the Redis and the sidecar, each added to ``procs`` as it starts; the run's context."""

    def start(name: str, args: list[str], env: dict[str, str] | None = None) -> int:
        ports = workdir / f"{name}.ports"
        with (workdir / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen([*args, *port_zero(ports)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        procs.append(proc)
        return wait_port(ports, proc)

    fake = [PYTHON, "-m", "sidecar", "fake-provider", "--tokens-per-s", "400", "--name"]
    fakes = {name: f"http://127.0.0.1:{start(name, [*fake, name])}" for name in ("f1", "f2")}
    redis, redis_port = start_redis(workdir)
    procs.append(redis)
    ttl = "" if reservation_ttl_s is None else f"reservation_ttl_s: {reservation_ttl_s}"
    text = POLICY.replace("F1", fakes["f1"]).replace("F2", fakes["f2"]).replace("TTL", ttl)
    policy = workdir / "policy.yaml"
    write_policy(policy, text.replace("CACHE", MEMORY_CACHE))
    hook = workdir / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    tasks_file = workdir / "tasks"
    env = {
        **os.environ,
        "PYTHONPATH": str(hook),
        "SOAK_TASKS_FILE": str(tasks_file),
        "SOAK_TYPES_S": str(types_s),
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    port = start("sidecar", [PYTHON, "-OO", "-m", "sidecar", "run", "--policy", str(policy)], env)
    return {
        "pid": procs[-1].pid,
        "sidecar": procs[-1],
        "url": f"http://127.0.0.1:{port}",
        "tasks_file": tasks_file,
        "policy": policy,
        "policy_text": text,
        "reloads": 0,
        "redis_next": False,
        "redis": redis,
        "redis_port": redis_port,
        "workdir": workdir,
        "procs": procs,
    }


async def run_steps(args: argparse.Namespace, ctx: dict[str, Any]) -> Tally:
    tally = Tally()
    summaries = []
    for number in range(1, args.steps + 1):
        started = time.strftime("%H:%M:%S", time.gmtime())
        samples = await step(args, number, ctx, tally)
        summaries.append(summary(number, samples))
        print(f"# step {number} {started}-{time.strftime('%H:%M:%S', time.gmtime())} UTC", flush=True)
        if ctx["sidecar"].poll() is not None:
            print(f"# SIDECAR EXITED {ctx['sidecar'].returncode}")
            break
    print("| step | measure | start | end | per 10,000 requests |")
    print("|---|---|---|---|---|")
    print("\n".join(summaries))
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--reload-s", type=float, default=5.0)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument(
        "--reservation-ttl-s",
        type=float,
        default=None,
        help="the budgets' reservation_ttl_s (default: the policy's default, 900 s); a counter of a window "
        "that ended is kept for this + 60 s",
    )
    parser.add_argument(
        "--types-s", type=float, default=0.0, help="every this many s, the hook appends the GC-tracked objects by type"
    )
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle time before each step's last sample")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-soak-mix-"))
    print(f"# workdir {workdir}", flush=True)
    procs: list[subprocess.Popen[bytes]] = []
    sink = ThreadingHTTPServer(("127.0.0.1", 0), CountingSink)
    sink.posts = 0  # type: ignore[attr-defined]
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        ctx = start_stack(workdir, procs, sink.server_port, args.types_s, args.reservation_ttl_s)
        time.sleep(1)
        tally = asyncio.run(run_steps(args, ctx))
        print(f"# requests sent {tally.sent:,}; OTLP posts {sink.posts}")  # type: ignore[attr-defined]
        for outcome, n in sorted(tally.outcomes.items()):
            print(f"#   {outcome}: {n:,}")
        print(f"# error-level log events: {dict(error_events(workdir / 'sidecar.log'))}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        sink.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
