"""The health port, which listens on the pod IP and so is reachable from the whole cluster, under a flood
of connections that are opened and left idle, on a real sidecar process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import orjson

from ..waiting import until
from .sidecar_process import run_sidecar, start_fake_and_policy


async def test_idle_connections_at_the_health_ports_cap_do_not_lock_the_probes_out(tmp_path: Path) -> None:
    """With its 32 connections taken by peers that connected and sent nothing, the health port still
    answers the kubelet's next probe (the oldest idle connection is closed to make room): before, every
    probe was refused until the idle ones reached their 75 s keep-alive, and the kubelet, failing its
    liveness probe three times, restarted the sidecar."""
    fake, policy = await start_fake_and_policy(tmp_path, tokens_per_s=0, words=2)
    env = {**os.environ, "SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    proc, _ = await run_sidecar(policy, env)
    idle: list[asyncio.StreamWriter] = []
    try:
        port = orjson.loads(await asyncio.to_thread(policy.with_suffix(".ports").read_bytes))["health_port"]
        readers = []
        for _ in range(40):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            readers.append(reader)
            idle.append(writer)
        # The sidecar took all 40 once it closed 8 of them (the oldest idle ones, for the newer) at its cap of 32.
        await until(lambda: sum(reader.at_eof() for reader in readers), lambda closed: closed == 8)
        async with aiohttp.ClientSession() as probe:
            for path in ("/healthz", "/readyz", "/healthz"):  # each on a new connection, as the kubelet's
                async with probe.get(f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}) as answer:
                    assert answer.status == 200, path
    finally:
        for writer in idle:
            writer.close()
        for child in (proc, fake):
            child.terminate()
            await child.wait()
