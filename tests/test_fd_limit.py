"""The connection limits fitted to the open-files limit (``sidecar.fd_limit``), on a real sidecar process
started under a low ``ulimit -n`` (``RLIMIT_NOFILE`` set in the child before it runs), a real fake
provider behind it, and the official openai SDK."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import openai
import orjson

from .listening import port_zero, wait_ports
from .sdk_clients import sdk_client
from .server.sidecar_process import start_fake_and_policy


async def sidecar_with_fd_limit(
    policy: Path, log: Path, soft: int, hard: int
) -> tuple[asyncio.subprocess.Process, str]:
    """``llm-sidecar run`` whose open-files limit is ``soft`` under ``hard``, its log in ``log``."""

    def limit() -> None:  # in the child, before it runs the sidecar
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    ports = policy.with_suffix(".ports")
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
            stdout=out, env=dict(os.environ), preexec_fn=limit,
        )  # fmt: skip
    port = (await asyncio.to_thread(wait_ports, ports, proc, log))["port"]
    return proc, f"http://127.0.0.1:{port}"


def events(log: Path, name: str) -> list[dict[str, object]]:
    return [line for line in map(orjson.loads, log.read_bytes().splitlines()) if line["event"] == name]


async def stream(session: aiohttp.ClientSession, url: str) -> object:
    """One streamed chat call: its status, or the connection error's class."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            await response.read()
            return response.status
    except aiohttp.ClientError as exc:
        return type(exc).__name__


async def test_a_burst_past_the_open_files_limit_is_served_up_to_the_cap_it_fits(tmp_path: Path) -> None:
    """Under ``ulimit -n 256`` the proxy port's cap is lowered to what the descriptors hold (80: two per
    call, 64 kept for the process, 32 for the health port), said once at start; a burst of 300 streams
    is served up to it and the rest refused at the cap, never a 502 for want of a descriptor (before: the
    app's connections took them all, every upstream connect failed with EMFILE and opened the provider's
    breaker, and no stream was served); the next call is served at once."""
    fake, policy = await start_fake_and_policy(tmp_path, tokens_per_s=20, words=20)
    log = tmp_path / "sidecar.log"
    sidecar, url = await sidecar_with_fd_limit(policy, log, 256, 256)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            results = Counter(await asyncio.gather(*(stream(session, url) for _ in range(300))))
            async with session.get(f"{url}/status") as response:
                status = await response.json()
        assert 502 not in results and 500 not in results, results
        assert results[200] >= 60, results  # up to the cap of 80 at once (a stream's fds are freed at its end)
        assert status["process"]["max_fds"] == 256 and status["process"]["max_connections"] == 80
        assert [t["breaker"]["state"] for t in status["targets"].values()] == ["closed"]
        client = sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x")
        answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        await client.close()
    finally:
        for proc in (sidecar, fake):
            proc.terminate()
            await proc.wait()
    [low] = events(log, "file_descriptor_limit_low")
    assert (low["limit"], low["needed"], low["max_connections"]) == (256, 64 + 32 + 2 * 4096, 80)
    assert events(log, "listening")[0]["max_connections"] == 80


async def test_the_soft_open_files_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    """A soft limit under a higher hard one (a runtime's soft 1,024 under 1,048,576) is raised to the hard
    one at start, and the caps fitted to that, not to the soft one."""
    fake, policy = await start_fake_and_policy(tmp_path, tokens_per_s=0, words=2)
    log = tmp_path / "sidecar.log"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    sidecar, url = await sidecar_with_fd_limit(policy, log, 256, hard)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/status") as response:
            process = (await response.json())["process"]
        limits = await asyncio.to_thread(Path(f"/proc/{sidecar.pid}/limits").read_text)
    finally:
        for proc in (sidecar, fake):
            proc.terminate()
            await proc.wait()
    assert process["max_fds"] == hard
    assert f"Max open files            {hard}                {hard}" in limits
    assert process["max_connections"] == min(4096, (hard - 64 - 32) // 2)
