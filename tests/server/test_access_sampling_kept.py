"""The ``access_log`` block's always-kept kinds that need more than one fake provider's fault, each on a
real sidecar at ``sample: 0`` with that kind alone in ``always`` (so no other kind keeps the line):
``degraded`` (a last resort answered), ``budget`` (a warn limit acted), ``cache_stale`` (the app's
``max-stale`` took an expired entry) and ``drain_cut`` (SIGTERM's drain cut a request, a real process).
Each line is written whole, without ``sample_rate``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..listening import port_zero, wait_ports
from ..sdk_clients import openai_client, sdk_client
from ..waiting import until
from .budget_policies import chat, two_fakes
from .budget_policies import policy as budget_policy
from .cache_helpers import ask, cache_policy, written
from .chain import calls, chain_policy
from .sidecar_process import start_fake_and_policy, stop


def kept_only(kind: str) -> str:
    """The top-level block: nothing drawn, only ``kind`` kept."""
    return f"access_log: {{sample: 0, always: [{kind}]}}\n"


def access_lines(running: RunningSidecar) -> list[dict[str, Any]]:
    return [line for line in running.log_lines() if line.get("event") == "access"]


async def test_sample_0_keeps_a_last_resort_answer(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: [degraded]``: the route's static last resort answers after its target's 503: written
    (``outcome: degraded``); a plain success is not."""
    extra = "    resilience: {last_resort: {kind: static, static: {text: 'try later'}}}\n"
    running = await sidecar(chain_policy([await fake("f0")], route_extra=extra) + kept_only("degraded"))
    async with openai_client(running) as client:
        await client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "x"}])
        raw = await client.chat.completions.with_raw_response.create(
            model="chain", messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-fault": "status=503"}
        )
    assert raw.headers["x-sidecar-degraded"] == "static"
    [line] = access_lines(running)
    assert (line["status"], line["outcome"]) == (200, "degraded") and "sample_rate" not in line


async def test_sample_0_keeps_a_budget_warning(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: [budget]``: a warn limit of one request a month, passed by the second request: its line
    (``budget: warn:...``) is written, the first's is not."""
    limits = "    - {name: app-requests, measure: requests, amount: 1, window: month, action: warn}\n"
    running = await sidecar(budget_policy(*await two_fakes(fake), limits) + kept_only("budget"))
    async with openai_client(running) as client:
        for _ in range(2):
            await client.chat.completions.create(**chat())
    [line] = access_lines(running)
    assert (line["status"], line["budget"]) == (200, "warn:app-requests") and "sample_rate" not in line


async def test_sample_0_keeps_a_stale_cache_answer(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``always: [cache_stale]``: an entry past its ``ttl_s`` taken by the app's ``max-stale`` is written
    (``cache: stale``); the first request's line (a miss) and a fresh hit's are not."""
    cache = "{enabled: true, ttl_s: 0.05, stale_s: 60}"
    running = await sidecar(cache_policy([await fake("f0")], cache=cache) + kept_only("cache_stale"))
    await ask(running)
    await written(running)
    await asyncio.sleep(1.1)
    _, raw = await ask(running, headers={"cache-control": "max-stale"})
    assert raw.headers["x-sidecar-cache"] == "stale"
    [line] = access_lines(running)
    assert (line["status"], line["cache"], line["outcome"]) == (200, "stale", "ok") and "sample_rate" not in line


async def test_sample_0_keeps_a_request_the_drain_cut(tmp_path: Path) -> None:
    """``always: [drain_cut]`` on a real process with a 1 s drain timeout: a request whose answer (8 s)
    has not started at SIGTERM's drain timeout is written (503 ``drain_cut``)."""
    fake, policy = await start_fake_and_policy(tmp_path, 5, 40)
    policy.write_text(policy.read_text() + kept_only("drain_cut"))
    ports, log = tmp_path / "sidecar.ports", tmp_path / "sidecar.log"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "1", "SIDECAR_LOG_LEVEL": "info"}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports), env=env, stdout=out
        )
    try:
        url = f"http://127.0.0.1:{(await asyncio.to_thread(wait_ports, ports, proc, log))['port']}"
        fake_url = f"http://127.0.0.1:{orjson.loads((tmp_path / 'fake.ports').read_bytes())['port']}"
        async with sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x") as client:
            call = asyncio.ensure_future(
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            )
            await until(lambda: calls(fake_url), lambda seen: seen == 1)
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(openai.InternalServerError):
                await call
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    finally:
        await stop(proc, fake)
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    [line] = [line for line in lines if line.get("event") == "access"]
    assert (line["status"], line["outcome"]) == (503, "drain_cut") and "sample_rate" not in line
