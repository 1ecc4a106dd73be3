"""What the drain timeout cuts (a real process, SIGTERM): the app gets the sidecar's error in its dialect
(a 503 before the answer started, an error event in a stream), and the access line says 503,
``drain_cut``: not the app's 499."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from sidecar.routing.tokens import estimate_tokens

from ..listening import port_zero, wait_ports
from ..sdk_clients import sdk_client
from ..waiting import until
from .chain import calls
from .sidecar_process import start_fake_and_policy


@pytest.fixture
async def draining_stack(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    """A fake provider answering 40 words at 5 a second (8 s), the sidecar on it with a 1 s drain timeout
    and its access lines in a file: (the sidecar, its URL, the log file)."""
    fake, policy = await start_fake_and_policy(tmp_path, 5, 40)
    ports, log = tmp_path / "sidecar.ports", tmp_path / "sidecar.log"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "1", "SIDECAR_LOG_LEVEL": "info"}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports), env=env, stdout=out
        )
    port = (await asyncio.to_thread(wait_ports, ports, proc, log))["port"]
    try:
        yield proc, f"http://127.0.0.1:{port}", log
    finally:
        for child in (proc, fake):
            if child.returncode is None:
                child.kill()
                await child.wait()


def access_lines(log: Path) -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    return [line for line in lines if line.get("event") == "access"]


async def test_a_stream_cut_by_the_drain_ends_with_an_error_event_the_sdk_raises(
    draining_stack: tuple[asyncio.subprocess.Process, str, Path],
) -> None:
    """A stream still running at the drain timeout ends with the dialect's error event (openai-python
    raises APIError naming the shutdown, code ``draining``) and a clean end, and is logged 503
    ``drain_cut``."""
    proc, url, log = draining_stack
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x") as client:
        stream = await client.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "x"}]
        )
        texts = []
        with pytest.raises(openai.APIError, match="shutting down") as raised:
            async for chunk in stream:
                texts.append(chunk.choices[0].delta.content if chunk.choices else "")
                if len(texts) == 1:
                    proc.send_signal(signal.SIGTERM)
    assert not isinstance(raised.value, openai.APIConnectionError)  # the sidecar's error, not a cut line
    assert raised.value.code == "draining"  # as the 503 before an answer says it
    assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    (line,) = access_lines(log)
    assert (line["status"], line["outcome"], line["stream_error"]) == (503, "drain_cut", "drain_cut")


async def test_a_stream_cut_by_the_drain_counts_the_output_it_sent(
    draining_stack: tuple[asyncio.subprocess.Process, str, Path],
) -> None:
    """A stream the drain cuts after a few words, on a route without budgets: its ``drain_cut`` access
    line counts the prompt and the output sent, estimated (``tokens_estimated``); before 2026-12-04 it
    had no tokens at all."""
    proc, url, log = draining_stack
    received, signalled = "", False
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x") as client:
        stream = await client.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "x"}]
        )
        with pytest.raises(openai.APIError, match="shutting down"):
            async for chunk in stream:
                received += chunk.choices[0].delta.content or "" if chunk.choices else ""
                if received.count(" ") >= 3 and not signalled:
                    proc.send_signal(signal.SIGTERM)
                    signalled = True
    assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    (line,) = access_lines(log)
    assert line["outcome"] == "drain_cut" and line["tokens_estimated"] is True
    assert isinstance(line["input_tokens"], int) and line["input_tokens"] > 0
    assert isinstance(line["output_tokens"], int) and line["output_tokens"] >= estimate_tokens(received) - 2 > 0


async def cut_before_its_answer(
    proc: asyncio.subprocess.Process, url: str, log: Path, **options: Any
) -> openai.APIError:
    """A chat call through openai-python (``options``: the client's, over ``sdk_client``'s) that SIGTERM's
    drain cuts before its answer: what the SDK raised, once the sidecar has exited 0."""
    fake = f"http://127.0.0.1:{orjson.loads((log.parent / 'fake.ports').read_bytes())['port']}"  # the stack's
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x", **options) as client:
        call = asyncio.ensure_future(
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        )
        await until(lambda: calls(fake), lambda seen: seen == 1)  # at the provider, whose answer takes 8 s
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(openai.APIError) as raised:
            await call
    assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    return raised.value


async def test_a_request_cut_by_the_drain_before_its_answer_gets_a_503(
    draining_stack: tuple[asyncio.subprocess.Process, str, Path],
) -> None:
    """A request whose answer has not started at the drain timeout gets a 503 in its dialect (code
    ``draining``, Retry-After: 1), and is logged 503 ``drain_cut``."""
    proc, url, log = draining_stack
    error = await cut_before_its_answer(proc, url, log)
    assert isinstance(error, openai.InternalServerError)
    assert error.status_code == 503 and error.code == "draining"
    assert error.response.headers["retry-after"] == "1"
    (line,) = access_lines(log)
    assert (line["status"], line["outcome"]) == (503, "drain_cut")


async def test_the_sdk_with_its_default_retries_raises_the_drain_error_not_a_connection_error(
    draining_stack: tuple[asyncio.subprocess.Process, str, Path],
) -> None:
    """The sidecar stopped listening at SIGTERM, and the app reaches it on loopback: no retry can be
    answered. openai-python with its default two retries raises the 503 ``draining`` at once
    (``x-should-retry: false``), not ``APIConnectionError`` after retrying a closed port; one request."""
    proc, url, log = draining_stack
    error = await cut_before_its_answer(proc, url, log, max_retries=openai.DEFAULT_MAX_RETRIES)
    assert isinstance(error, openai.InternalServerError), error
    assert error.code == "draining" and error.response.headers["x-should-retry"] == "false"
    assert len(access_lines(log)) == 1
