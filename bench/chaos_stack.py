"""The stack ``chaos_bench.py`` drives: three fake providers and the sidecar as subprocesses, the chain
policy they run, the requests sent (``send``: one chat call judged, plain or streamed) and the breaker
states polled from the sidecar's ``/status``.

Shared by the three parts (``chaos_down``, ``chaos_cost``, ``chaos_sim``); the tables they report with are
in ``chaos_tables``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from listening import port_zero, wait_port

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CHAT = "/v1/chat/completions"
PROMPT = "resilience benchmark: say hello in five words"

# Breaker and timeouts of the chaos / sim policy (the cost policy replaces the breaker).
BREAKER = {"window": "count", "window_size": 20, "minimum_calls": 5, "open_s": 2, "open_max_s": 4}
FIRST_BYTE_S = 1.0
NO_BREAKER = {"window": "time", "window_size": 60, "minimum_calls": 1_000_000_000}


# -- processes ----------------------------------------------------------------------------------


class Procs:
    """The subprocesses this run started; each is stopped by its own pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # our cleanup stops it, not the terminal's Ctrl-C
        )
        log.close()
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


@dataclass
class Fake:
    name: str
    port: int = 0  # known once started: it listens on port 0 and writes a ports file
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Sidecar:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_http(session: aiohttp.ClientSession, url: str, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while True:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{url} not ready after {timeout:.0f} s")
        await asyncio.sleep(0.05)


def fake_command(fake: Fake, ports_file: Path, extra: list[str]) -> list[str]:
    return [PYTHON, "-m", "sidecar", "fake-provider", *port_zero(ports_file), "--name", fake.name, *extra]


def write_policy(path: Path, urls: dict[str, str], breaker: dict[str, Any]) -> None:
    """A three-target chain [a, b, c] on fake providers A, B, C (JSON is valid YAML)."""
    policy = {
        "version": 1,
        "defaults": {
            "resilience": {
                "backoff": {"base_s": 0.01, "cap_s": 0.05},
                "timeouts": {"connect_s": 1, "first_byte_s": FIRST_BYTE_S, "idle_s": 5, "total_s": 30},
            },
            "breaker": breaker,
        },
        "providers": {name: {"dialect": "fake", "base_url": url} for name, url in urls.items()},
        "models": {name.lower(): {"provider": name, "model": f"model-{name.lower()}"} for name in urls},
        "routes": [{"name": "chain", "target": [name.lower() for name in urls]}],
    }
    path.write_text(json.dumps(policy, indent=2))


async def start_sidecar(
    procs: Procs, session: aiohttp.ClientSession, policy: Path, label: str
) -> tuple[Sidecar, float]:
    ports = procs.workdir / f"sidecar-{label}.ports"
    ports.unlink(missing_ok=True)
    proc = procs.start(
        f"sidecar-{label}",
        [PYTHON, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports)],
        env={"SIDECAR_LOG_LEVEL": "warning", "SIDECAR_DRAIN_TIMEOUT_S": "2"},
    )
    sidecar = Sidecar(await asyncio.to_thread(wait_port, ports, proc), proc)
    startup = await wait_http(session, sidecar.url + "/readyz")
    return sidecar, startup


async def fake_post(session: aiohttp.ClientSession, fake: Fake, path: str, body: dict[str, Any]) -> None:
    async with session.post(fake.url + path, json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"{fake.name} {path}: {response.status} {await response.text()}")
        await response.read()


async def fake_get(session: aiohttp.ClientSession, fake: Fake, path: str) -> Any:
    async with session.get(fake.url + path) as response:
        return await response.json()


# -- requests -----------------------------------------------------------------------------------


@dataclass
class Result:
    started: float  # monotonic
    latency: float  # seconds
    ok: bool
    status: int | None
    attempts: int | None = None
    model: str | None = None
    reason: str | None = None
    stream: bool = False
    error: str = ""


def chat_body(stream: bool) -> dict[str, Any]:
    return {
        "model": "bench",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 32,
        "stream": stream,
    }


def judge_stream(text: str) -> str:
    """'' for a complete, clean OpenAI stream; else what is wrong with it."""
    done = False
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            return "invalid JSON event"
        if isinstance(event, dict) and "error" in event:
            return "error event: " + str(event["error"].get("message", ""))[:80]
    return "" if done else "no [DONE]"


async def send(
    session: aiohttp.ClientSession,
    url: str,
    *,
    stream: bool = False,
    fault: str | None = None,
    timeout: float = 15.0,
) -> Result:
    headers = {"x-fake-fault": fault} if fault else {}
    started = time.monotonic()
    t0 = time.perf_counter()
    try:
        async with session.post(
            url + CHAT,
            json=chat_body(stream),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.read()
            latency = time.perf_counter() - t0
            attempts = response.headers.get("x-sidecar-attempts")
            result = Result(
                started,
                latency,
                False,
                response.status,
                int(attempts) if attempts else None,
                response.headers.get("x-sidecar-model"),
                response.headers.get("x-sidecar-fallback-reason"),
                stream,
            )
            if response.status != 200:
                result.error = f"HTTP {response.status}: {body[:120]!r}"
            elif stream:
                result.error = judge_stream(body.decode("utf-8", "replace"))
            else:
                try:
                    json.loads(body)["choices"][0]["message"]["content"]
                except (ValueError, KeyError, IndexError, TypeError):
                    result.error = "invalid body"
            result.ok = not result.error
            return result
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Result(started, time.perf_counter() - t0, False, None, stream=stream, error=type(exc).__name__)


# -- status polling -----------------------------------------------------------------------------


@dataclass
class BreakerSample:
    at: float  # our monotonic clock (CLOCK_MONOTONIC is system-wide: comparable with the sidecar's)
    state: str
    consecutive_opens: int
    open_until: float | None


async def poll_status(
    session: aiohttp.ClientSession,
    sidecar: Sidecar,
    stop: asyncio.Event,
    out: dict[str, list[BreakerSample]],
    interval: float = 0.1,
) -> None:
    while not stop.is_set():
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError):
            async with session.get(sidecar.url + "/status", timeout=aiohttp.ClientTimeout(total=2)) as r:
                data = await r.json()
            now = time.monotonic()
            for key, target in data["targets"].items():
                b = target["breaker"]
                out.setdefault(key, []).append(BreakerSample(now, b["state"], b["consecutive_opens"], b["open_until"]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def openings(samples: list[BreakerSample]) -> list[tuple[float, int]]:
    """(time it opened, k-th consecutive opening) for every distinct opening seen in /status.

    The opening time is exact: open_until minus the k-th open period (same monotonic clock)."""
    seen: dict[float, int] = {}
    for s in samples:
        if s.open_until is not None and s.open_until not in seen:
            seen[s.open_until] = s.consecutive_opens
    out = []
    for until, k in seen.items():
        period = min(BREAKER["open_max_s"], BREAKER["open_s"] * 2 ** max(k - 1, 0))
        out.append((until - period, k))
    return sorted(out)
