"""Shadow calls still running at SIGTERM (a real process, real fake providers, the OpenAI SDK): they may
end within what the drain timeout leaves once the requests are done, and are counted; those still
running then are cancelled, counted what they cost so far (their prompts, estimated), and the process
exits within the drain timeout all the same (``ShadowRunner.close``; the ``shadows_closed`` log line)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson

from ..conftest import provider_block
from ..listening import port_zero, wait_ports
from ..sdk_clients import sdk_client
from ..waiting import until


async def start_fake(tmp_path: Path, name: str, latency_ms: int) -> tuple[asyncio.subprocess.Process, str]:
    ports = tmp_path / f"{name}.ports"
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "fake-provider", *port_zero(ports), "--name", name,
        "--latency-ms", str(latency_ms), "--reply", "queue billing",
    )  # fmt: skip
    return fake, f"http://127.0.0.1:{(await asyncio.to_thread(wait_ports, ports, fake))['port']}"


@dataclass
class Shadowed:
    """The sidecar's process, its URL and its log lines, and the shadow candidate's URL."""

    proc: asyncio.subprocess.Process
    url: str
    lines: Callable[[], list[dict[str, Any]]]
    candidate_url: str


@asynccontextmanager
async def shadowed_sidecar(tmp_path: Path, candidate_latency_ms: int, drain_s: float) -> AsyncIterator[Shadowed]:
    """A sidecar whose route ``served`` answers at once and shadows every request to ``c``, a candidate
    answering after ``candidate_latency_ms`` (1000 $/Mtok); the drain timeout ``drain_s``."""
    served, served_url = await start_fake(tmp_path, "served", 0)
    candidate, candidate_url = await start_fake(tmp_path, "candidate", candidate_latency_ms)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("fast", served_url, "openai")
        + provider_block("slow", candidate_url, "openai")
        + "models:\n  m: {provider: fast, model: m}\n"
        + "  c: {provider: slow, model: c, price: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"
        + "routes:\n  - name: served\n    match: {model: served}\n    target: m\n"
        + "    shadow: {candidates: [c], sample: 1.0}\n"
    )
    ports, log = tmp_path / "sidecar.ports", tmp_path / "sidecar.log"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": str(drain_s), "SIDECAR_LOG_LEVEL": "info"}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports), env=env, stdout=out
        )
    port = (await asyncio.to_thread(wait_ports, ports, proc, log))["port"]

    def lines() -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]

    try:
        yield Shadowed(proc, f"http://127.0.0.1:{port}", lines, candidate_url)
    finally:
        for child in (proc, served, candidate):
            if child.returncode is None:
                child.kill()
                await child.wait()


async def shadow_calls(candidate_url: str) -> list[dict[str, Any]]:
    """The candidate's records of the calls it received (``/_fake/requests``)."""
    async with aiohttp.ClientSession() as session, session.get(f"{candidate_url}/_fake/requests") as response:
        return list(await response.json())


async def ask_then_stop(shadowed: Shadowed) -> tuple[float, float]:
    """One chat (answered at once, shadowed), then SIGTERM once the shadow call has reached the candidate:
    the seconds until the process exited 0, and the wall-clock time it had exited by."""
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{shadowed.url}/v1", api_key="x") as client:
        answer = await client.chat.completions.create(model="served", messages=[{"role": "user", "content": "q"}])
    assert answer.choices[0].message.content == "queue billing"
    await until(lambda: shadow_calls(shadowed.candidate_url))  # the shadow call is under way
    signalled = time.monotonic()
    shadowed.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(shadowed.proc.wait(), timeout=15) == 0
    return time.monotonic() - signalled, time.time()


async def test_a_shadow_call_running_at_sigterm_ends_within_the_drain_and_is_counted(tmp_path: Path) -> None:
    """A candidate answering 1.5 s after the served answer, a 10 s drain timeout: the process waits for
    it (before 2026-12-04 it was cancelled at once and counted nowhere) and logs it finished."""
    async with shadowed_sidecar(tmp_path, 1500, 10) as shadowed:
        took, exited_by = await ask_then_stop(shadowed)
        (closed,) = [line for line in shadowed.lines() if line.get("event") == "shadows_closed"]
        [call] = await shadow_calls(shadowed.candidate_url)
    assert (closed["finished"], closed["cancelled"], closed["cancelled_cost_usd"]) == (1, 0, 0.0)
    assert not call["client_gone"] and call["ended"] - call["time"] >= 1.5  # answered whole, not cut
    assert call["ended"] <= exited_by and took < 8  # the process waited for it, not for the drain's end


async def test_a_shadow_call_outliving_the_drain_is_cancelled_at_its_end_and_counted(tmp_path: Path) -> None:
    """A candidate answering after 30 s, a 1 s drain timeout: the process still exits within about the
    drain timeout, and the cancelled call's prompt (estimated, at the candidate's 1000 $/Mtok) is counted."""
    async with shadowed_sidecar(tmp_path, 30_000, 1) as shadowed:
        took, _ = await ask_then_stop(shadowed)
        (closed,) = [line for line in shadowed.lines() if line.get("event") == "shadows_closed"]
    assert (closed["finished"], closed["cancelled"]) == (0, 1)
    assert 0 < closed["cancelled_cost_usd"] < 0.05  # a prompt of a few tokens at $0.001 a token
    assert took < 3
