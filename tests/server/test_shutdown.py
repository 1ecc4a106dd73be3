"""Graceful shutdown of the real process: SIGTERM lets an open stream finish, then exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from ..conftest import provider_block
from ..listening import port_zero, wait_ports


async def run_sidecar(policy: Path, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m sidecar run` as a real process on any free port (its access lines discarded), and its
    URL once it is ready."""
    ports = policy.with_suffix(".ports")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
        env=env, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{(await asyncio.to_thread(wait_ports, ports, proc))['port']}"


async def test_sigterm_drains_an_open_stream_then_exits_zero(tmp_path: Path) -> None:
    """A stream open at SIGTERM completes normally; new connections are refused; the exit code is 0."""
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "10", "SIDECAR_LOG_LEVEL": "warning"}
    fake_ports = tmp_path / "fake.ports"
    fake = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sidecar",
        "fake-provider",
        *port_zero(fake_ports),
        "--tokens-per-s",
        "30",
        "--reply",
        " ".join(["word"] * 30),
    )
    fake_port = (await asyncio.to_thread(wait_ports, fake_ports, fake))["port"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", f"http://127.0.0.1:{fake_port}", "openai")
        + "models:\n  m: {provider: up, model: m}\n"
    )
    proc, url = await run_sidecar(policy, env)
    try:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{url}/v1/chat/completions", json=body)
            received = await response.content.readany()
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
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
            async with session.get(f"{url}/status") as response:
                before = (await response.json())["policy"]["version"]
            policy.write_text(base + "models:\n  b: {provider: up, model: b}\n")
            proc.send_signal(signal.SIGHUP)
            after = before
            for _ in range(20):
                await asyncio.sleep(0.05)
                async with session.get(f"{url}/status") as response:
                    after = (await response.json())["policy"]["version"]
                if after != before:
                    break
        assert after != before
    finally:
        proc.terminate()
        await proc.wait()
