"""Graceful shutdown of the real process: SIGTERM fails readiness, lets requests and open streams finish
within the drain timeout (and no longer), then exits 0; SIGHUP reloads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from ..conftest import provider_block
from ..waiting import until
from .chain import calls
from .sidecar_process import run_sidecar, start_fake_and_policy


async def draining(health: int) -> None:
    """Wait until the process's readiness fails on its health port (``health``): it has taken SIGTERM,
    and its proxy port stopped accepting in the same step (``serve``: ``Listener.shutdown``)."""

    async def ready_status() -> int:
        async with aiohttp.ClientSession() as probe, probe.get(f"http://127.0.0.1:{health}/readyz") as ready:
            return ready.status

    await until(ready_status, lambda status: status == 503)


async def test_sigterm_drains_an_open_stream_then_exits_zero(tmp_path: Path) -> None:
    """A stream open at SIGTERM completes normally; new connections are refused; the exit code is 0."""
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "10", "SIDECAR_LOG_LEVEL": "warning"}
    env |= {"SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    fake, policy = await start_fake_and_policy(tmp_path, 10, 30)  # a stream of 3 s
    proc, url = await run_sidecar(policy, env)
    try:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{url}/v1/chat/completions", json=body)
            received = await response.content.readany()
            proc.send_signal(signal.SIGTERM)
            await draining(orjson.loads(policy.with_suffix(".ports").read_bytes())["health_port"])
            try:
                async with aiohttp.ClientSession() as other:
                    await other.get(f"{url}/healthz")
                refused = False
            except aiohttp.ClientConnectionError:
                refused = True
            received += await response.read()
        assert refused
        assert received.rstrip().endswith(b"data: [DONE]")
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    finally:
        for child in (proc, fake):
            if child.returncode is None:
                child.kill()
                await child.wait()


async def test_sighup_reloads_the_policy_at_once(tmp_path: Path) -> None:
    """With a slow poll interval, SIGHUP makes the running process apply a changed policy immediately."""
    policy = tmp_path / "policy.yaml"
    base = "version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9", "openai")
    policy.write_text(base + "models:\n  a: {provider: up, model: a}\n")
    env = {**os.environ, "SIDECAR_RELOAD_INTERVAL_S": "60", "SIDECAR_LOG_LEVEL": "warning"}
    proc, url = await run_sidecar(policy, env)
    try:
        async with aiohttp.ClientSession() as session:

            async def version() -> str:
                async with session.get(f"{url}/status") as response:
                    return str((await response.json())["policy"]["version"])

            before = await version()
            policy.write_text(base + "models:\n  b: {provider: up, model: b}\n")
            proc.send_signal(signal.SIGHUP)
            await until(version, lambda now: now != before)  # the poll, every 60 s, would be too late
    finally:
        proc.terminate()
        await proc.wait()


@dataclass
class SlowStack:
    proc: asyncio.subprocess.Process
    fake: asyncio.subprocess.Process
    fake_url: str
    port: int
    health: int

    async def close(self) -> None:
        for child in (self.proc, self.fake):
            if child.returncode is None:
                child.kill()
                await child.wait()


async def start_slow_stack(tmp_path: Path, drain_s: str) -> SlowStack:
    """A fake provider answering 40 words at 5 a second (8 s), and the sidecar on it with its health
    port, once both answer."""
    fake, policy = await start_fake_and_policy(tmp_path, 5, 40)
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": drain_s, "SIDECAR_LOG_LEVEL": "warning"}
    env |= {"SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    proc, _ = await run_sidecar(policy, env)
    ports = orjson.loads(policy.with_suffix(".ports").read_bytes())
    port, health = ports["port"], ports["health_port"]
    fake_url = f"http://127.0.0.1:{orjson.loads((tmp_path / 'fake.ports').read_bytes())['port']}"
    return SlowStack(proc, fake, fake_url, port, health)


async def test_sigterm_cuts_what_outlives_the_drain_timeout_at_that_timeout(tmp_path: Path) -> None:
    """A stream longer than SIDECAR_DRAIN_TIMEOUT_S (4 s) is cut when the drain timeout ends, and the
    process exits 0 then: not after twice the timeout (aiohttp waits its shutdown timeout twice), which
    with the default 20 s would outlast the pod's 30 s grace period and end in SIGKILL. (4 s, not less:
    the 3 s between once and twice leave room for a loaded machine's slow signal and exit.)"""
    stack = await start_slow_stack(tmp_path, "4")
    proc, port = stack.proc, stack.port
    try:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
            await response.content.readany()
            loop = asyncio.get_running_loop()
            proc.send_signal(signal.SIGTERM)
            signalled = loop.time()
            with contextlib.suppress(aiohttp.ClientError):
                await response.read()
            assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
            stopped = loop.time() - signalled
        assert 3.8 < stopped < 7, stopped  # twice the timeout: 8 s
    finally:
        await stack.close()


async def test_sigterm_fails_readiness_on_the_health_port_while_requests_finish(tmp_path: Path) -> None:
    """During the drain the health port stays up: /readyz answers 503 (the pod leaves the Service) and
    /healthz 200 (the kubelet does not restart it), while the proxy port refuses new connections and a
    request in flight is answered whole, with Connection: close."""
    stack = await start_slow_stack(tmp_path, "10")
    proc, port, health = stack.proc, stack.port, stack.health
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            call = asyncio.ensure_future(session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body))
            await until(lambda: calls(stack.fake_url), lambda seen: seen == 1)  # in flight (the answer takes 8 s)
            proc.send_signal(signal.SIGTERM)
            await draining(health)  # /readyz answers 503
            async with aiohttp.ClientSession() as probe:
                async with probe.get(f"http://127.0.0.1:{health}/healthz") as live:
                    assert live.status == 200
                with pytest.raises(aiohttp.ClientConnectionError):
                    await probe.get(f"http://127.0.0.1:{port}/healthz")
            response = await call
            answer = await response.json()
            assert response.status == 200 and response.headers.get("connection", "").lower() == "close"
            assert answer["choices"][0]["message"]["content"].startswith("word word")
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        await stack.close()
