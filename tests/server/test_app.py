"""The app as served: what ``serve`` does around the moment the listener is up, and the route table."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from sidecar.server.lifecycle import health_listener

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import SIDECAR_TIMEOUT_S, sdk_client

MODELS = "models:\n  m: {provider: up, model: m}\n"


def start_until_listening(tmp_path: Path, *options: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`python -m sidecar run` as a real process on any free port (with ``options``), and its
    ``listening`` log line once written."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", "http://127.0.0.1:9", "openai")
        + "models:\n  m: {provider: up, model: m}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), "--port", "0", *options],
        env={**os.environ, "SIDECAR_LOG_LEVEL": "info"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        entry = json.loads(line)
        if entry["event"] == "listening":
            return proc, entry
    proc.wait(timeout=20)
    raise AssertionError(f"the sidecar exited ({proc.returncode}) without a listening line")


def test_listening_freezes_the_start_up_heap_and_says_how_much(tmp_path: Path) -> None:
    """Once listening, the objects alive after start-up are frozen out of the garbage collector's
    reach; the ``listening`` log line gives their number."""
    proc, listening = start_until_listening(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    # The imports, policy and app alone are tens of thousands of objects.
    assert listening["heap_frozen_objects"] > 10_000


def test_sigterm_as_soon_as_listening_drains_and_exits_zero(tmp_path: Path) -> None:
    """The signal handlers are in place before the listener opens: a SIGTERM sent the moment the
    ``listening`` line appears drains (exit 0) instead of killing the process."""
    proc, _ = start_until_listening(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_port_zero_listens_on_free_ports_and_says_which(tmp_path: Path) -> None:
    """With ``--port 0 --health-port 0``, both listeners get a free port from the kernel; the
    ``listening`` log line and the ``--ports-file`` (written whole once listening, a stale one removed
    at start) both give the ports bound, and each answers there."""
    ports_file = tmp_path / "ports.json"
    ports_file.write_text('{"port": 1}')  # left by an earlier run
    proc, listening = start_until_listening(tmp_path, "--health-port", "0", "--ports-file", str(ports_file))
    try:
        written = json.loads(ports_file.read_text())
        answers = [urllib.request.urlopen(f"http://127.0.0.1:{written[name]}/readyz", timeout=SIDECAR_TIMEOUT_S).status
                   for name in ("port", "health_port")]  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert written == {"port": listening["port"], "health_port": listening["health_port"]}
    assert 0 not in written.values() and written["port"] != written["health_port"]
    assert answers == [200, 200]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/models", 200),
        ("HEAD", "/v1/models", 200),
        ("GET", "/v1/chat/completions", 405),  # a POST route: another method is a 405 (RFC 9110 15.5.6)
        ("POST", "/v1/models/", 404),  # a {segment} is never empty ...
        ("POST", "/v1/models/a/b", 405),  # ... and holds no '/' (a model lookup's path: GET only)
        ("POST", "/openai/deployments//chat/completions", 404),
        ("POST", "/v1/chat/completions/", 404),
        ("DELETE", "/nowhere", 404),
    ],
)
async def test_each_method_and_path_reaches_its_route_or_the_dialect_404(
    sidecar: SidecarFactory, method: str, path: str, status: int
) -> None:
    """The route table: exact paths, one non-empty segment without '/', HEAD by the GET route; another
    method on a routed path gets a 405, any other path the 404 of the dialect the path suggests
    (``unknown_path``), never aiohttp's."""
    running = await sidecar("version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9") + MODELS)
    async with aiohttp.ClientSession() as session, session.request(method, running.url + path) as response:
        assert response.status == status
        if status in (404, 405):
            code = "unknown_path" if status == 404 else "method_not_allowed"
            assert (await response.json())["error"]["code"] == code


_ANTHROPIC = {"anthropic-version": "2023-06-01"}
_GOOGLE = {"x-goog-api-client": "google-genai-sdk/1.0"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "allow", "reason"),
    [
        ("GET", "/v1/chat/completions", {}, "POST", lambda e: e["error"]["code"]),
        ("DELETE", "/v1/embeddings", {}, "POST", lambda e: e["error"]["code"]),
        ("PUT", "/v1/messages", _ANTHROPIC, "POST", lambda e: e["error"]["type"]),
        ("GET", "/v1beta/models/x:generateContent", _GOOGLE, "POST", lambda e: e["error"]["status"]),
        ("POST", "/v1/models", {}, "GET, HEAD", lambda e: e["error"]["code"]),
        ("DELETE", "/v1/models/m", {}, "GET, HEAD", lambda e: e["error"]["code"]),  # a model: GET's, not POST's
        ("PUT", "/v1beta/models/x:generateContent", _GOOGLE, "POST", lambda e: e["error"]["status"]),  # not GET's
        ("DELETE", "/v1/models/m:countTokens", {}, "POST", lambda e: e["error"]["status"]),
    ],
)
async def test_another_method_on_a_served_path_is_a_405_naming_the_allowed_ones(
    sidecar: SidecarFactory, method: str, path: str, headers: dict[str, str], allow: str, reason: Any
) -> None:
    """A served path asked with a method it is not served for answers 405 with ``Allow`` listing the
    methods that serve that very path (RFC 9110 15.5.6 and 10.2.1: a model path's GET, not the POST of
    Gemini's ``x:generateContent`` paths, and the other way round) and a message naming both, in the
    caller's dialect's error shape (OpenAI ``method_not_allowed``, Anthropic ``invalid_request_error``,
    Gemini's status), not the unknown-path 404."""
    running = await sidecar("version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9") + MODELS)
    url = running.url + path
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=headers) as response:
        status, allowed, error = response.status, response.headers.get("Allow"), await response.json()
    message = error["error"]["message"]
    assert (status, allowed) == (405, allow)
    assert message == f"method {method} is not allowed on {path}: it is served for {allow}"
    assert reason(error) != "unknown_path"


@pytest.mark.parametrize("health_metrics", [False, True])
async def test_the_health_port_serves_metrics_only_when_asked(sidecar: SidecarFactory, health_metrics: bool) -> None:
    """GET /metrics on the health port (the pod IP) is 404 by default; with SIDECAR_HEALTH_METRICS it is
    the same Prometheus text as on the proxy port, for a Prometheus scrape of the pod."""
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9", "openai") + MODELS,
        health_metrics=health_metrics,
    )
    health = health_listener(running.state)
    await health.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{health.port}/metrics") as got:
            status, text = got.status, await got.text()
    finally:
        await health.shutdown(0)
    if health_metrics:
        assert status == 200 and "llm_sidecar_build_info{" in text
    else:
        assert status == 404


async def test_an_sdk_pointed_at_the_health_port_is_told_it_is_the_health_port(sidecar: SidecarFactory) -> None:
    """openai-python with its base URL on the health port (a Service or an app given the wrong port): a 404
    ``unknown_path`` that says this is the health port and that the API is on the proxy port, not the
    proxy port's hint to list the path in the policy's ``passthrough``, which would not help."""
    running = await sidecar("version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9", "openai") + MODELS)
    health = health_listener(running.state)
    await health.start("127.0.0.1", 0)
    try:
        async with sdk_client(openai.AsyncOpenAI, base_url=f"http://127.0.0.1:{health.port}/v1", api_key="x") as client:
            with pytest.raises(openai.NotFoundError) as info:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    finally:
        await health.shutdown(0)
    message = info.value.message
    assert "this is the health port" in message and "proxy port (SIDECAR_PORT)" in message
    assert "passthrough" not in message and info.value.code == "unknown_path"


async def test_a_flood_of_scrapes_on_the_health_port_renders_once_a_second(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The health port is reachable from the whole cluster: its /metrics is rendered at most once a
    second and the same text served in between, so a flood of scrapes costs the event loop (which the
    app's requests share) one render a second. A request made between two scrapes shows on the proxy
    port's /metrics at once, on the health port's after the second."""
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("up", await fake(), "openai") + MODELS, health_metrics=True
    )
    health = health_listener(running.state)
    await health.start("127.0.0.1", 0)
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with aiohttp.ClientSession() as session:

            async def scrape(url: str) -> bytes:
                async with session.get(f"{url}/metrics") as got:
                    assert got.status == 200
                    return await got.read()

            health_url = f"http://127.0.0.1:{health.port}"
            first = await scrape(health_url)
            async with session.post(f"{running.url}/v1/chat/completions", json=chat) as answer:
                assert answer.status == 200
            assert [await scrape(health_url) for _ in range(20)] == [first] * 20
            assert await scrape(running.url) != first
            await asyncio.sleep(1.05)
            assert await scrape(health_url) != first
    finally:
        await health.shutdown(0)


STARTUP_MODULES = """
import asyncio, os, sys
from sidecar.policy.load import load_policy
from sidecar.server.app import SidecarApp, build_state
from sidecar.settings import Settings
from sidecar.telemetry import Telemetry
from sidecar.telemetry.logging import configure_logging

async def main():
    settings = Settings(policy_path=sys.argv[1])
    state = build_state(settings, load_policy(sys.argv[1]), Telemetry.from_env({}, service_version="t"), {},
                        configure_logging("warning"))
    app = SidecarApp(state)
    app.open()
    await app.close()

asyncio.run(main())
print(" ".join(sorted(sys.modules)))
"""
FEATURE_REQUEST_PATHS = (
    "opentelemetry.sdk.trace",
    "sidecar.budgets.ledger",
    "sidecar.cache.response_cache",
    "sidecar.ensemble.run",
    "sidecar.gates.checks",
    "sidecar.routing.matrix",
    "sidecar.routing.stage",
    "sidecar.server.budget",
    "sidecar.server.cache_stage",
    "sidecar.server.ensemble",
    "sidecar.server.gating",
    "sidecar.server.shadowing",
)


def loaded_at_startup(tmp_path: Path, policy: str) -> set[str]:
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    out = subprocess.run(
        [sys.executable, "-c", STARTUP_MODULES, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_a_plain_policy_loads_no_features_request_path(tmp_path: Path) -> None:
    """Built for a policy that uses no feature (and no trace exporter), the app has not imported the
    request path of routing, the response cache, budgets, ensembles, gates or shadow, nor the SDK's
    tracing."""
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("p", "http://127.0.0.1:9", "openai")
        + "models:\n  a: {provider: p, model: a}\n  b: {provider: p, model: b}\n"
        + "routes:\n  - {name: r, match: {model: m}, target: [a, b]}\n"
    )
    assert loaded_at_startup(tmp_path, policy) & set(FEATURE_REQUEST_PATHS) == set()


def test_a_policy_with_features_loads_them_at_startup(tmp_path: Path) -> None:
    """A policy that uses routing, the response cache, budgets, gates and shadow has their stages built
    (their modules imported) when the app is built, before the first request."""
    policy = (
        "version: 1\nproviders:\n"
        + provider_block("p", "http://127.0.0.1:9", "openai")
        + "models:\n  a: {provider: p, model: a, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
        + "  b: {provider: p, model: b, price: {input_per_mtok: 2, output_per_mtok: 2}}\n"
        + "routes:\n  - {name: r, match: {model: m}, target: {select: cheapest, from: [a, b]}, gates: {},"
        + " shadow: {candidates: [b], sample: 0.5}, cache: {enabled: true}}\n"
        + "budgets:\n  limits:\n    - {name: day, measure: usd, amount: 1, window: day}\n"
    )
    loaded = loaded_at_startup(tmp_path, policy)
    assert {
        "sidecar.routing.stage",
        "sidecar.server.budget",
        "sidecar.server.cache_stage",
        "sidecar.server.gating",
        "sidecar.server.shadowing",
    } <= loaded
