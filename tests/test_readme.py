"""README.md's quick start, as a newcomer runs it after ``make run``: the demo policy (its three fake
providers here on free ports, not 9101-9103), the request of its curl line sent through the OpenAI SDK
as its Python snippet does, and the failure it says to try."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import FakeFactory, RunningSidecar, SidecarFactory
from .sdk_clients import openai_client

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DEMO = (ROOT / "sidecar" / "demo" / "policy.yaml").read_text()


async def demo(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """The demo policy served, each fake provider under its name, on a port of its own."""
    policy = DEMO
    for port, name in ((9101, "fake-openai"), (9102, "fake-anthropic"), (9103, "fake-gemini")):
        policy = policy.replace(f"http://127.0.0.1:{port}", await fake(name))
    return await sidecar(policy)


async def test_the_quick_start_request_is_answered_by_the_smart_chains_first_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The curl line's body, sent as the Python snippet sends it, gets the echo from Claude (a fake
    Anthropic server: translated), and the x-sidecar-* headers say so."""
    body = orjson.loads(re.search(r"-d '(\{.*?\})'", README).group(1))  # type: ignore[union-attr]
    running = await demo(fake, sidecar)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(**body)
    reply = raw.parse()
    assert reply.choices[0].message.content == "hello"
    headers = raw.headers
    assert (headers["x-sidecar-route"], headers["x-sidecar-model"], headers["x-sidecar-provider"]) == (
        "smart",
        "claude-haiku",
        "fake-anthropic",
    )


async def test_the_failure_to_try_falls_back_with_the_reason_the_readme_gives(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The header README.md says to add fails Claude; the answer comes from the next target of the
    chain (GPT), with the fallback reason README.md names."""
    fault = re.search(r"`x-fake-fault: ([^`]+)`", README).group(1)  # type: ignore[union-attr]
    reason = re.search(r"`x-sidecar-fallback-reason: ([^`]+)`", README).group(1)  # type: ignore[union-attr]
    running = await demo(fake, sidecar)
    async with openai_client(running, **{"x-fake-fault": fault}) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="smart", messages=[{"role": "user", "content": "hello"}]
        )
    assert raw.parse().choices[0].message.content == "hello"
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-fallback-reason"]) == ("gpt-4o-mini", reason)


async def sdk_route(sdk: str, gemini_client: Callable[[str | None], Any]) -> str:
    """The ``x-sidecar-route`` of a chat call to the model ``smart`` by ``sdk``'s client, made with no
    base URL of its own (the environment's), through its raw response."""
    import anthropic
    import openai

    hello = [{"role": "user", "content": "hello"}]
    if sdk == "OpenAI":
        async with openai.AsyncOpenAI(api_key="x", max_retries=0) as client:
            raw = await client.chat.completions.with_raw_response.create(model="smart", messages=hello)  # type: ignore[arg-type]
            return raw.headers["x-sidecar-route"]
    if sdk == "Anthropic":
        async with anthropic.AsyncAnthropic(api_key="x", max_retries=0) as client:
            answer = await client.messages.with_raw_response.create(model="smart", max_tokens=16, messages=hello)  # type: ignore[arg-type]
            return answer.headers["x-sidecar-route"]
    reply = await gemini_client(None).aio.models.generate_content(model="smart", contents="hello")
    return str(reply.sdk_http_response.headers["x-sidecar-route"])


@pytest.mark.parametrize("sdk", ["OpenAI", "Anthropic", "Gemini"])
async def test_each_sdk_reaches_the_sidecar_by_the_variable_the_readme_sets(
    sdk: str,
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Callable[[str | None], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README.md's "Point your app at it" row for an SDK names a variable that SDK reads: set as shown
    (with the sidecar's port), a client made without a base URL sends its calls to the sidecar."""
    row = re.search(rf"^\| {sdk}\b[^|]*\| `([A-Z_]+)=http://127\.0\.0\.1:8080([^`]*)`", README, re.M)
    assert row is not None, sdk
    running = await demo(fake, sidecar)
    monkeypatch.setenv(row.group(1), running.url + row.group(2))
    assert await sdk_route(sdk, gemini_client) == "smart"
