"""SIGTERM to a real sidecar process with 200 streams of the official openai SDK in flight, as a pod's
rollout meets it (docs/operations.md, "Draining and upgrading")."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx2
import openai
import orjson
import pytest

from ..listening import port_zero, wait_ports
from ..sdk_clients import SIDECAR_TIMEOUT_S
from .sidecar_process import start_fake_and_policy

STREAMS = 200


async def one_stream(client: openai.AsyncOpenAI) -> str:
    """One streamed chat call read to its end: the text it carried."""
    stream = await client.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "x"}])
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


def in_flight(fake_url: str) -> int:
    """The calls the fake provider is answering (a stream's until its last event)."""
    with urllib.request.urlopen(f"{fake_url}/_fake/stats", timeout=SIDECAR_TIMEOUT_S) as answer:
        return int(orjson.loads(answer.read())["in_flight"])


def readiness(health: str) -> int:
    """The status of the health port's ``/readyz``."""
    try:
        with urllib.request.urlopen(f"{health}/readyz", timeout=SIDECAR_TIMEOUT_S) as ready:
            return int(ready.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def drain_and_signal_again(proc: asyncio.subprocess.Process, fake_url: str, url: str, health: str) -> None:
    """Once every stream is in flight at the provider (so at the sidecar), SIGTERM; once the drain began
    (/readyz 503), a second SIGTERM and a SIGINT, and the proxy port refuses a new connection. In a
    thread: on a loaded machine the test's event loop, reading 200 streams, would run these checks
    seconds late, when the streams may have ended, and the process with them."""
    deadline = time.monotonic() + 30
    while (calls := in_flight(fake_url)) != STREAMS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert calls == STREAMS
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while (status := readiness(health)) != 503 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert status == 503  # the drain began
    assert proc.returncode is None  # draining: the streams run on
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/healthz", timeout=SIDECAR_TIMEOUT_S)


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
    client: openai.AsyncOpenAI | None = None
    try:  # from here on the two processes are killed whatever fails (a start, an SDK without httpx2)
        found = await asyncio.to_thread(wait_ports, ports, proc, log)
        url, health = f"http://127.0.0.1:{found['port']}", f"http://127.0.0.1:{found['health_port']}"
        http = openai.DefaultAsyncHttpx2Client(limits=httpx2.Limits(max_connections=STREAMS), timeout=60)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, http_client=http)
        streams = [asyncio.ensure_future(one_stream(client)) for _ in range(STREAMS)]
        await asyncio.to_thread(drain_and_signal_again, proc, fake_url, url, health)
        texts = await asyncio.gather(*streams)
        assert texts == [" ".join(["word"] * 40)] * STREAMS
        assert await asyncio.wait_for(proc.wait(), 70) == 0
    finally:
        if client is not None:
            await client.close()
        for child in (proc, fake):
            if child.returncode is None:
                child.kill()
                await child.wait()
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [line["event"] for line in lines].count("draining") == 1
    assert lines[-1]["event"] == "stopped" and lines[-1]["drained_s"] < 60  # the streams' end, not the timeout
    assert sum(1 for line in lines if line["event"] == "access" and line["status"] == 200) == STREAMS
