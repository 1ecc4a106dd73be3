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
temporary copy), measured in the same rounds as the others: a before/after comparison in one run.

Every sidecar is started the way the image starts it: ``python -OO -P -m sidecar run`` (optimised), its
bytecode compiled first (plain and -OO, as the image's build does), so no start compiles from source.
``--unoptimised`` starts ``python -m sidecar run`` instead (the form before the image ran -OO); the variant
``sidecar-unoptimised`` adds that form next to the optimised ``sidecar`` in the same rounds.

Needs `apt-get install nginx-light wrk`. Results are comparable only within one run (the machine is
shared): read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from listening import free_pick, port_zero, read_port, start_on_free_port, wait_port, write_ports_file

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
REQUEST = (
    '{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},'
    '{"role":"user","content":"Say hello to the benchmark, in one short sentence please."}],'
    '"temperature":0.2,"max_tokens":64,"user":"bench"}'
)
RESPONSE = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model",'
    '"choices":[{"index":0,"message":{"role":"assistant","content":"Hello, benchmark! Nice to meet you."},'
    '"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":9,"total_tokens":40},'
    '"system_fingerprint":"fp_bench"}'
)


ANTHROPIC_RESPONSE = (
    '{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench",'
    '"content":[{"type":"text","text":"Hello, benchmark! Nice to meet you."}],"stop_reason":"end_turn",'
    '"stop_sequence":null,"usage":{"input_tokens":31,"output_tokens":9}}'
)


def anthropic_sse_body() -> str:
    events = [
        (
            "message_start",
            '{"type":"message_start","message":{"id":"msg_b","type":"message","role":"assistant",'
            '"model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,'
            '"usage":{"input_tokens":31,"output_tokens":1}}}',
        ),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
    ]
    events += [
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok "}}')
    ] * 20
    events += [
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        (
            "message_delta",
            '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
            '"usage":{"output_tokens":20}}',
        ),
        ("message_stop", '{"type":"message_stop"}'),
    ]
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in events)


def request_2k() -> str:
    """A ~2 KB chat request: a system prompt, a few turns, sampling parameters."""
    turns = [{"role": "system", "content": "You are a careful assistant. " * 8}]
    for i in range(6):
        turns.append({"role": "user", "content": f"Question {i}: " + "please explain the tradeoffs. " * 3})
        turns.append({"role": "assistant", "content": f"Answer {i}: " + "it depends on the workload. " * 3})
    turns.append({"role": "user", "content": "Summarise."})
    import json

    return json.dumps({"model": "MODEL", "messages": turns, "max_tokens": 256, "temperature": 0.3, "top_p": 0.9})


def sse_body() -> str:
    chunk = (
        '{"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model",'
        '"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}'
    )
    return "".join(f"data: {chunk}\n\n" for _ in range(20)) + "data: [DONE]\n\n"


def nginx_on_free_port(workdir: Path, *, stream_rate: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``start_nginx`` on a free port (``listening.start_on_free_port``); nginx and its port."""
    return start_on_free_port(lambda port: start_nginx(workdir, port, stream_rate=stream_rate))


def start_nginx(workdir: Path, port: int, *, stream_rate: int | None = None) -> subprocess.Popen[bytes]:
    """nginx answering every POST with a fixed body (``/stream/`` with a fixed SSE stream, paced at
    ``stream_rate`` bytes per second when given)."""
    pacing = f"limit_rate {stream_rate}; sendfile off; postpone_output 0; " if stream_rate else ""
    (workdir / "www").mkdir(exist_ok=True)  # again when ``listening.start_on_free_port`` picks again
    (workdir / "www/chat.json").write_text(RESPONSE)
    (workdir / "www/stream.sse").write_text(sse_body())
    (workdir / "www/anthropic.json").write_text(ANTHROPIC_RESPONSE)
    (workdir / "www/anthropic.sse").write_text(anthropic_sse_body())
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
error_log {workdir}/error.log;
pid {workdir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir};
  types {{ application/json json; text/event-stream sse; }}
  server {{
    listen 127.0.0.1:{port} reuseport;
    root {workdir}/www;
    # error_page redirects a POST as a GET to the file's own exact location (not to `/`, which would
    # answer chat.json whatever the file)
    location = /stream.sse {{ {pacing}}}
    location = /anthropic.json {{ }}
    location = /anthropic.sse {{ }}
    location /stream/ {{ error_page 405 =200 /stream.sse; try_files /stream.sse =404; }}
    location /anthropic/ {{ error_page 405 =200 /anthropic.json; try_files /anthropic.json =404; }}
    location /anthropic-stream/ {{ error_page 405 =200 /anthropic.sse; try_files /anthropic.sse =404; }}
    location / {{ error_page 405 =200 /chat.json; try_files /chat.json =404; }}
    # The OTLP/HTTP collector of the tracing variant: accepts and discards each export in C, so that a
    # sink's own CPU is not taken from the sidecar on this shared 2-core machine.
    location = /v1/traces {{ default_type application/x-protobuf; return 200 ""; }}
    location = /v1/metrics {{ default_type application/x-protobuf; return 200 ""; }}
  }}
}}
"""
    )
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)])


def tools_present(*tools: str) -> bool:
    """True if every tool is on PATH; else says which to apt-get install."""
    packages = {"nginx": "nginx-light", "wrk": "wrk", "valgrind": "valgrind"}
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        print(
            f"{', '.join(missing)} not found: apt-get install {' '.join(packages[t] for t in tools)}", file=sys.stderr
        )
    return not missing


def chat_script(workdir: Path) -> Path:
    """The wrk script that POSTs the benchmark's chat request."""
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = [[' + REQUEST + ']]\nwrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer sk-bench"\n'
    )
    return script


def wait_http(url: str, timeout: float = 10.0) -> float:
    import urllib.request

    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(url)
        time.sleep(0.005)


def wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def alternating_medians(probes: dict[str, tuple[str, str, bool]], n: int) -> dict[str, float]:
    """Median ms per probe over ``n`` rounds, each round one request of every probe in turn.

    A probe is ``(url, model, first_byte)``: a streamed chat timed to its first body bytes, or to its
    end. Alternating puts the machine's noise on every probe alike.
    """
    import aiohttp

    samples: dict[str, list[float]] = {name: [] for name in probes}
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            for name, (url, model, first_byte) in probes.items():
                body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]}
                started = time.perf_counter()
                async with session.post(url, json=body) as response:
                    if first_byte:
                        await response.content.readany()
                        samples[name].append((time.perf_counter() - started) * 1000)
                    await response.read()
                if not first_byte:
                    samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def in_turn(items: list[T], round_number: int) -> list[T]:
    """``items`` in the order of round ``round_number``: rotated left by ``round_number // 2`` places,
    and reversed in odd rounds.

    Where a target runs within a round matters on this machine (in one run the variant measured last
    of three did 3 points better whichever it was), so the order changes from round to round: over
    ``2 * len(items)`` rounds every target takes every place twice and runs as often before as after
    each other one (for two targets, any even number of rounds does).
    """
    shift = round_number // 2 % len(items) if items else 0
    turned = items[shift:] + items[:shift]
    return turned if round_number % 2 == 0 else turned[::-1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


SYNTHETIC_CLASSES = {
    # 14 classes beside the six of bench/data/routing_rules.yaml: 20 in all, each with keywords and a regex
    "legal": ["contract", "clause", "liability", "indemnify", "jurisdiction", "statute"],
    "medical": ["symptom", "diagnosis", "dosage", "prescription", "patient", "clinical"],
    "finance": ["invoice", "ledger", "revenue", "forecast", "dividend", "portfolio"],
    "support": ["refund", "password", "login", "account", "cancel", "subscription"],
    "marketing": ["slogan", "campaign", "audience", "headline", "tagline", "brand"],
    "hr": ["candidate", "interview", "onboarding", "payroll", "vacation", "resume"],
    "travel": ["flight", "hotel", "itinerary", "visa", "booking", "luggage"],
    "cooking": ["recipe", "ingredient", "bake", "oven", "simmer", "dough"],
    "science": ["molecule", "photosynthesis", "gravity", "electron", "enzyme", "genome"],
    "history": ["empire", "dynasty", "revolution", "medieval", "ancient", "treaty"],
    "sports": ["league", "tournament", "striker", "coach", "season", "championship"],
    "music": ["chord", "melody", "tempo", "lyrics", "guitar", "symphony"],
    "security": ["vulnerability", "exploit", "phishing", "malware", "firewall", "encryption"],
    "data": ["dataset", "dataframe", "histogram", "regression", "outlier", "pivot"],
}


def routing_block() -> str:
    """A routing block of 20 task classes (bench/data/routing_rules.yaml's six and 14 more), as YAML."""
    import yaml

    routing = yaml.safe_load((ROOT / "bench/data/routing_rules.yaml").read_text())["routing"]
    for name, words in SYNTHETIC_CLASSES.items():
        routing["classes"].append(
            {
                "name": name,
                "rules": [
                    {"keywords": words, "in": ["last_user"]},
                    {"regex": f"#{name}-\\d+", "in": ["last_user", "system"]},
                ],
            }
        )
    return yaml.safe_dump({"routing": routing}, allow_unicode=True)


def sidecar_policy(workdir: Path, upstream: int, variant: str) -> Path:
    chain = "[bench-model, backup]" if variant != "single" else "bench-model"
    if variant == "routing":  # the cheapest capable of the two, decided by 20 classes and 3 levels
        chain = "{select: cheapest, from: [bench-model, backup]}"
    text = f"""
version: 1
providers:
  nginx: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/v1"}}
  nginx-stream: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/stream/v1"}}
  nginx-anthropic: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}/anthropic"}}
  nginx-anthropic-stream: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}/anthropic-stream"}}
models:
  translated-model: {{provider: nginx-anthropic, model: claude-bench, max_output_tokens: 1024}}
  translated-stream: {{provider: nginx-anthropic-stream, model: claude-bench, max_output_tokens: 1024}}
  bench-model: {{provider: nginx, model: bench-upstream, price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
  backup: {{provider: nginx, model: bench-backup}}
  stream-model: {{provider: nginx-stream, model: bench-upstream}}
routes:
  - name: bench
    match: {{model: bench-model}}
    target: {chain}
  - name: stream
    match: {{model: stream-model}}
    target: stream-model
"""
    if variant == "routing":
        text += routing_block()
    path = workdir / f"policy-{variant}.yaml"
    path.write_text(text)
    return path


# How the image starts the server (the Dockerfile's ENTRYPOINT, with this interpreter); UNOPTIMISED: as
# `llm-sidecar run` starts it.
OPTIMISED = ["-OO", "-P", "-m", "sidecar", "run"]
UNOPTIMISED = ["-m", "sidecar", "run"]


def sidecar_command(
    policy: Path, port: int | Path, env_extra: dict[str, str], optimised: bool = True
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a sidecar under test (info level: one access line per request),
    optimised as the image runs it unless ``optimised`` is false. ``port``: the port, or a ports file
    (port 0: the port it got is written there, ``listening.wait_port``)."""
    form = OPTIMISED if optimised else UNOPTIMISED
    where = port_zero(port) if isinstance(port, Path) else ["--port", str(port)]
    command = [sys.executable, *form, "--policy", str(policy), *where]
    return command, {**os.environ, "SIDECAR_LOG_LEVEL": "info", **env_extra}


def started_as(optimised: bool) -> str:
    """The line a bench prints to say how its sidecars were started."""
    form = " ".join(OPTIMISED if optimised else UNOPTIMISED)
    how = "optimised, as the image runs it" if optimised else "unoptimised (--unoptimised)"
    return f"sidecar started as: python {form} ({how}; bytecode compiled, plain and -OO)"


def compile_bytecode(*code: Path) -> None:
    """Compile the installed packages and the ``sidecar`` packages run from ``code`` (default: this tree)
    to bytecode, plain and -OO, as the image's build does: on a machine with PYTHONDONTWRITEBYTECODE=1
    nothing else writes it, and a start that compiles from source is slower and holds more memory."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    places = [purelib, *(c / "sidecar" for c in code or [ROOT])]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "-o", "0", "-o", "2", *map(str, places)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def variant_env(name: str, upstream: int) -> tuple[str, dict[str, str]]:
    """A variant's policy kind and extra environment (its OTLP exports go to the nginx upstream)."""
    policy_variant, env_extra = VARIANTS[name]
    sink = f"http://127.0.0.1:{upstream}"
    return policy_variant, {k: (sink if v == "SINK" else v) for k, v in env_extra.items()}


def checkout(ref: str, workdir: Path) -> Path:
    """The ``sidecar`` package at git revision ``ref``, extracted under ``workdir`` and compiled to bytecode;
    returns the directory to put on PYTHONPATH. Compiled extensions are copied from this checkout when their
    C source is the same."""
    target = workdir / f"baseline-{ref}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sidecar"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    for built in ROOT.glob("sidecar/*/*.so"):
        source = built.with_name(built.name.split(".")[0] + ".c")
        copy = target / built.relative_to(ROOT)
        twin = copy.with_name(source.name)
        if twin.exists() and twin.read_bytes() == source.read_bytes():
            shutil.copy2(built, copy)
    compile_bytecode(target)  # as the image's build does: no start compiles from source
    return target


def start_sidecar(
    policy: Path,
    port: int | Path,
    env_extra: dict[str, str],
    code: Path | None = None,
    ready_timeout_s: float = 120.0,
    optimised: bool = True,
) -> tuple[subprocess.Popen[bytes], float]:
    """Start the sidecar (``sidecar_command``); ``code``: a directory holding another ``sidecar`` package;
    ``port`` a ports file: on port 0, the port it got read with ``listening.read_port`` once started. A
    ``code`` from before port 0 (no ``sidecar/ports_file.py``) starts on a free pick instead, again on a
    new pick when it exits before ready, and the ports file is written for it."""
    if isinstance(port, Path) and code is not None and not (code / "sidecar/ports_file.py").exists():
        return _start_sidecar_on_pick(policy, port, env_extra, code, ready_timeout_s, optimised)
    command, env = sidecar_command(policy, port, env_extra, optimised)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.monotonic()
    # From ``code``: PYTHONPATH comes before the editable install's finder (and without -P, ``-m`` also puts
    # the working directory first on sys.path)
    if isinstance(port, Path):
        port.unlink(missing_ok=True)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=code)
    if isinstance(port, Path):
        port = wait_port(port, proc, ready_timeout_s)
    wait_http(f"http://127.0.0.1:{port}/readyz", timeout=ready_timeout_s)
    return proc, time.monotonic() - started


def sidecar_on_port_zero(
    policy: Path, ports_file: Path, env_extra: dict[str, str], **options: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """``start_sidecar`` on port 0 (``options``: its keyword arguments); the process and the port it got."""
    proc, _ = start_sidecar(policy, ports_file, env_extra, **options)
    return proc, read_port(ports_file)


def _start_sidecar_on_pick(
    policy: Path, ports_file: Path, env_extra: dict[str, str], code: Path, ready_timeout_s: float, optimised: bool
) -> tuple[subprocess.Popen[bytes], float]:
    for _ in range(5):
        port = free_pick()
        command, env = sidecar_command(policy, port, env_extra, optimised)
        started = time.monotonic()
        proc = subprocess.Popen(command, env={**env, "PYTHONPATH": str(code)}, stdout=subprocess.DEVNULL, cwd=code)
        while proc.poll() is None and time.monotonic() - started < ready_timeout_s:
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz", timeout=0.5)
            except TimeoutError:
                continue
            if proc.poll() is None:  # ready, and not some other process on the port it could not take
                write_ports_file(ports_file, port)
                return proc, time.monotonic() - started
        if proc.poll() is None:
            proc.kill()
            raise TimeoutError(f"sidecar from {code} not ready after {ready_timeout_s} s")
    raise RuntimeError(f"5 picks of a free port for the sidecar from {code} were all taken")


def start_minimal(upstream: int, port: int | Path) -> subprocess.Popen[bytes]:
    """bench/minimal_proxy.py on ``port``, or on port 0 writing the ports file ``port``."""
    target = f"http://127.0.0.1:{upstream}"
    where = ["0", target, str(port)] if isinstance(port, Path) else [str(port), target]
    if isinstance(port, Path):
        port.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench/minimal_proxy.py"), *where])
    if isinstance(port, Path):
        port = wait_port(port, proc)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


_TRACES = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "SINK", "OTEL_METRICS_EXPORTER": "prometheus"}
VARIANTS = {
    # name: (policy variant, extra env)
    "sidecar": ("chain", {}),
    # the same sidecar started without -OO (python -m sidecar run), in the same rounds: what -OO changes
    "sidecar-unoptimised": ("chain", {}),
    "sidecar-single-target": ("single", {}),
    # the bench route a cheapest selection behind a routing block of 20 classes (every request classified)
    "sidecar-routing-20": ("routing", {}),
    # Traces over OTLP/HTTP to nginx; metrics stay on /metrics, so these measure tracing alone. wrk sends
    # no traceparent: the default sampler (parentbased_always_on) traces every request.
    "sidecar-tracing": ("chain", {**_TRACES}),
    "sidecar-tracing-10%": (
        "chain",
        {**_TRACES, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ),
}


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
            proc, startup = start_sidecar(policy, ports, {}, code, optimised=optimised)
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
        for proc in reversed(procs):  # sidecars before nginx, the sink they flush their last export to
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
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
