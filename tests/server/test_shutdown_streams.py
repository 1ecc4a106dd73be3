"""SIGTERM to a real sidecar process with 200 streams of the official openai SDK in flight, as a pod's
rollout meets it (docs/operations.md, "Draining and upgrading")."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import httpx2
import openai
import orjson
import pytest

from ..listening import port_zero, wait_ports
from ..waiting import until
from .sidecar_process import start_fake_and_policy

STREAMS = 200


async def one_stream(client: openai.AsyncOpenAI) -> str:
    """One streamed chat call read to its end: the text it carried."""
    stream = await client.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "x"}])
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


async def in_flight(session: aiohttp.ClientSession, fake_url: str) -> int:
    """The calls the fake provider is answering (a stream's until its last event)."""
    async with session.get(f"{fake_url}/_fake/stats") as answer:
        return int((await answer.json())["in_flight"])


async def readiness(session: aiohttp.ClientSession, health: str) -> int:
    """The status of the health port's ``/readyz``."""
    async with session.get(f"{health}/readyz") as ready:
        return ready.status


@pytest.mark.timeout(150)  # 20 s streams, started slowly at a high load, then the drain's own limits
async def test_sigterm_with_200_sdk_streams_lets_each_finish_and_a_second_signal_changes_nothing(
    tmp_path: Path,
) -> None:
    """At SIGTERM /readyz turns 503 at once and the proxy port refuses new connections; a second SIGTERM
    and a SIGINT during the drain are ignored (the drain goes on); each of 200 openai SDK streams in
    flight ends whole; the process exits 0 as soon as they have, within its drain timeout, its last log
    line ``stopped``."""
    fake, policy = await start_fake_and_policy(tmp_path, tokens_per_s=4, words=40)  # streams of about 20 s
    fake_url = f"http://127.0.0.1:{orjson.loads((tmp_path / 'fake.ports').read_bytes())['port']}"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "60", "SIDECAR_HEALTH_PORT": "0"}
    env["SIDECAR_HEALTH_HOST"] = "127.0.0.1"
    ports, log = tmp_path / "sidecar.ports", tmp_path / "sidecar.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
            env=env, stdout=out,
        )  # fmt: skip
    found = await asyncio.to_thread(wait_ports, ports, proc, log)
    url, health = f"http://127.0.0.1:{found['port']}", f"http://127.0.0.1:{found['health_port']}"
    http = openai.DefaultAsyncHttpx2Client(limits=httpx2.Limits(max_connections=STREAMS), timeout=60)
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, http_client=http)
    try:
        streams = [asyncio.ensure_future(one_stream(client)) for _ in range(STREAMS)]
        async with aiohttp.ClientSession() as probe:
            # every stream in flight at the provider, so at the sidecar (on a loaded machine the 200 reach the
            # fake process sooner than this loop, parsing them all, reads each one's first words)
            await until(lambda: in_flight(probe, fake_url), lambda calls: calls == STREAMS, timeout_s=30)
            proc.send_signal(signal.SIGTERM)
            await until(lambda: readiness(probe, health), lambda status: status == 503)  # the drain began
            assert proc.returncode is None  # draining: the streams run on
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGINT)
            with pytest.raises(aiohttp.ClientConnectionError):
                await probe.get(f"{url}/healthz")
            assert await readiness(probe, health) == 503
        texts = await asyncio.gather(*streams)
        assert texts == [" ".join(["word"] * 40)] * STREAMS
        assert await asyncio.wait_for(proc.wait(), 70) == 0
    finally:
        await client.close()
        for child in (proc, fake):
            if child.returncode is None:
                child.kill()
                await child.wait()
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [line["event"] for line in lines].count("draining") == 1
    assert lines[-1]["event"] == "stopped" and lines[-1]["drained_s"] < 60  # the streams' end, not the timeout
    assert sum(1 for line in lines if line["event"] == "access" and line["status"] == 200) == STREAMS
