"""Graceful shutdown of the real process: SIGTERM fails readiness, lets requests and open streams finish
within the drain timeout (and no longer), then exits 0; SIGHUP reloads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import aiohttp
import orjson
import pytest

from ..conftest import provider_block
from ..translate.responses import openai_body
from ..translate.streams import TEXT
from ..upstream.raw import ServerConn, UpstreamFactory, response
from ..waiting import until
from .sidecar_process import run_sidecar, start_fake_and_policy, stop

# Two processes started cold for each test: 24-29 s a test at a load of 17 (2 cores), against the default 60 s.
pytestmark = pytest.mark.timeout(120)


async def draining(health: int) -> None:
    """Wait until the process's readiness fails on its health port (``health``): it has taken SIGTERM,
    and its proxy port stopped accepting in the same step (``serve``: ``Listener.shutdown``)."""

    async def ready_status() -> int:
        async with aiohttp.ClientSession() as probe, probe.get(f"http://127.0.0.1:{health}/readyz") as ready:
            return ready.status

    await until(ready_status, lambda status: status == 503)


async def test_sigterm_drains_an_open_stream_then_exits_zero(tmp_path: Path) -> None:
    """A stream open at SIGTERM completes normally; new connections are refused; the exit code is 0."""
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "60", "SIDECAR_LOG_LEVEL": "warning"}  # guards a hang
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
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0  # at the stream's end, not the drain's
    finally:
        await stop(proc, fake)


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


async def test_sigterm_cuts_what_outlives_the_drain_timeout_at_that_timeout(tmp_path: Path) -> None:
    """A stream longer than SIDECAR_DRAIN_TIMEOUT_S (4 s) is cut when the drain timeout ends, and the
    process exits 0 then: not after twice the timeout (aiohttp waits its shutdown timeout twice), which
    with the default 20 s would outlast the pod's 30 s grace period and end in SIGKILL. (4 s, not less:
    the 3 s between once and twice leave room for a loaded machine's slow signal and exit.) The stream, 100
    words at 5 a second (20 s), outlives twice the timeout however late the signal comes."""
    fake, policy = await start_fake_and_policy(tmp_path, 5, 100)
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "4", "SIDECAR_LOG_LEVEL": "warning"}
    proc, url = await run_sidecar(policy, env)
    try:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{url}/v1/chat/completions", json=body)
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
        await stop(proc, fake)


async def test_sigterm_fails_readiness_on_the_health_port_while_requests_finish(
    tmp_path: Path, raw_upstream: UpstreamFactory
) -> None:
    """During the drain the health port stays up: /readyz answers 503 (the pod leaves the Service) and
    /healthz 200 (the kubelet does not restart it), while the proxy port refuses new connections and a
    request in flight is answered whole, with Connection: close. The provider holds its answer until the
    probes are done (not a fixed 8 s, which a loaded machine's slow probes could outlast), and the drain
    timeout (60 s) only guards a hang."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held_answer(conn: ServerConn) -> None:
        await conn.read_request()
        arrived.set()
        await release.wait()
        await conn.send(response(orjson.dumps(openai_body("text")), headers="content-type: application/json\r\n"))
        await conn.wait_closed_by_client()

    up = await raw_upstream(held_answer)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", up.base, "openai")
        + "models:\n  m: {provider: up, model: m}\n"
    )
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "60", "SIDECAR_LOG_LEVEL": "warning"}
    env |= {"SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    proc, url = await run_sidecar(policy, env)
    health = orjson.loads(policy.with_suffix(".ports").read_bytes())["health_port"]
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession() as session:
            call = asyncio.ensure_future(session.post(f"{url}/v1/chat/completions", json=body))
            await arrived.wait()  # in flight
            proc.send_signal(signal.SIGTERM)
            await draining(health)  # /readyz answers 503
            async with aiohttp.ClientSession() as probe:
                async with probe.get(f"http://127.0.0.1:{health}/healthz") as live:
                    assert live.status == 200
                with pytest.raises(aiohttp.ClientConnectionError):
                    await probe.get(f"{url}/healthz")
            release.set()
            response_ = await call
            answer = await response_.json()
            assert response_.status == 200 and response_.headers.get("connection", "").lower() == "close"
            assert answer["choices"][0]["message"]["content"] == TEXT
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        await stop(proc)
