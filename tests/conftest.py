"""Shared fixtures: real fake-provider servers and a real sidecar, both on loopback ports.

``fake(name, **config)`` starts a fake provider (sidecar.fake_provider) and returns its base URL.
``raw_upstream(handler)`` starts a raw TCP upstream that writes exact bytes (``tests/upstream/raw.py``).
``sidecar(policy_yaml, env=..., resolver_class=...)`` writes the policy to a file, starts the sidecar app on a real port
and returns a ``RunningSidecar`` (its URL, its state, the policy path, the in-memory span exporter);
the official SDKs' clients pointed at one are tests/sdk_clients.py's (google-genai's: ``gemini_client``).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.abc import AbstractResolver
from hypothesis import HealthCheck, settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider import build_app as build_fake_app
from sidecar.policy import load_policy
from sidecar.server.app import SidecarApp, build_state, start_app
from sidecar.server.listener import Listener
from sidecar.server.pipeline import Stage
from sidecar.server.state import SidecarState
from sidecar.settings import Settings
from sidecar.telemetry import Telemetry
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.logging import configure_logging
from sidecar.telemetry.tracing import Tracing

from .sdk_clients import gemini_http_options, suite_tls
from .time_limits import (
    pytest_configure,
    pytest_configure_node,
    pytest_runtest_call,
    pytest_runtest_protocol,
    pytest_runtest_setup,
    pytest_unconfigure,
)
from .upstream.raw import UpstreamFactory, raw_upstreams
from .waiting import until

# A test past its time limit fails with its name and stack, and its worker lives on (tests/time_limits.py).
__all__ = [
    "pytest_configure",
    "pytest_configure_node",
    "pytest_runtest_call",
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_unconfigure",
]

# The files that take longest (a wheel built, real Prometheus scenarios, subprocess after subprocess), in
# that order: under pytest-xdist (``make test``'s workers, a whole file each: docs/development.md) they
# are handed out first, so that none of them starts last and holds the run's end while the other
# workers sit idle. Only the order changes; a file not listed keeps its place after them.
LONG_FILES = (
    "tests/deploy/test_image.py",
    "tests/test_cli.py",
    "tests/server/test_fuzz_upstream_answers.py",
    "tests/server/test_fuzz_requests.py",
    "tests/server/test_translation_fuzz.py",
    "tests/routing/learned/test_train.py",
    "tests/routing/learned/test_commands.py",
    "tests/test_bench_scripts.py",
    "tests/server/test_sdk_retries.py",
    "tests/translate/test_roundtrip.py",
    "tests/deploy/test_prometheus_stores_live.py",
    "tests/deploy/test_prometheus_live.py",
    "tests/test_sdk_soak.py",
    "tests/test_imports.py",
    "tests/server/test_shutdown.py",
    "tests/server/test_listener_memory.py",
    "tests/server/test_drain_cut.py",
    "tests/server/test_app.py",
    "tests/server/test_translation_gemini_features.py",
    "tests/server/test_budget_fallback.py",
    "tests/server/test_shutdown_streams.py",
    "tests/test_time_limits.py",  # little CPU, but two pytest processes starting: long on a loaded machine
)


# Hypothesis's checks of time (an example's deadline, input generation too slow) fail a property test on a
# machine loaded enough to starve it for seconds (a worker saw "only 7 valid inputs after 30.63 s" at a load
# of 30): the suite's property tests judge what the code returns, never how fast. A test's own @settings
# start from this profile.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In an xdist worker, the ``LONG_FILES`` first (longest first), the rest as collected."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    rank = {path: i for i, path in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONG_FILES)))


@dataclass
class RunningSidecar:
    url: str
    state: SidecarState
    policy_path: Path
    spans: InMemorySpanExporter
    logs: io.BytesIO
    listener: Listener  # its ``connections``: what the sidecar holds (a write waiting for the app: ``writing_paused``)

    def log_lines(self) -> list[dict[str, Any]]:
        import orjson

        self.state.access.flush()  # access lines are buffered for up to 50 ms

        return [orjson.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        """The access lines written so far (one a request, once its answer is written)."""
        return [line for line in self.log_lines() if line.get("event") == "access"]

    async def shadow_calls_ended(self) -> None:
        """Wait until no shadow call runs: the shadow stage starts each in the background (a task named
        ``shadow <route> <candidate>``) before the served answer is written, and it runs to its end."""

        def running() -> list[str]:
            return [task.get_name() for task in asyncio.all_tasks() if task.get_name().startswith("shadow ")]

        await until(running, lambda names: not names)

    async def reload(self, text: str) -> None:
        """Write ``text`` as the policy and wait (at most 10 s: a loaded machine's reload) until it serves."""
        version = self.state.holder.policy.version
        self.policy_path.write_text(text)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if self.state.holder.policy.version != version:
                return
        raise AssertionError(f"the policy was not reloaded: {self.state.holder.last_error}")

    async def fake_requests(self, fake_url: str) -> list[dict[str, Any]]:
        async with ClientSession() as session, session.get(f"{fake_url}/_fake/requests") as response:
            data = await response.json()
        return data["requests"] if isinstance(data, dict) else data


FakeFactory = Callable[..., Awaitable[str]]
SidecarFactory = Callable[..., Awaitable[RunningSidecar]]


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeFactory:
    async def start(name: str = "fake", **config: Any) -> str:
        server = await aiohttp_server(build_fake_app(FakeConfig(name=name, **config)))
        return str(server.make_url("")).rstrip("/")

    return start


@pytest.fixture
async def raw_upstream() -> AsyncIterator[UpstreamFactory]:
    async for start in raw_upstreams():
        yield start


@pytest.fixture
async def sidecar(tmp_path: Path) -> AsyncIterator[SidecarFactory]:
    running: list[tuple[SidecarApp, Listener]] = []

    async def start(
        policy_yaml: str,
        *,
        env: Mapping[str, str] | None = None,
        capture_content: bool = False,
        stages: Sequence[Stage] = (),
        resolver_class: Callable[[], AbstractResolver] | None = None,
        sampler: tuple[str, float] | None = None,
        **settings: Any,
    ) -> RunningSidecar:
        path = tmp_path / "policy.yaml"
        path.write_text(policy_yaml)
        logs = io.BytesIO()
        log_output = configure_logging("info", stream=logs, cache=False)
        exporter = InMemorySpanExporter()
        if sampler is None:
            telemetry = Telemetry.for_tests(exporter, capture_content=capture_content)
        else:  # an ``OTEL_TRACES_SAMPLER`` name and ratio in place of the default sampler
            name, ratio = sampler
            telemetry = Telemetry(
                TelemetryConfig(capture_content=capture_content),
                service_version="test",
                tracing=lambda resource, _: Tracing.for_tests(exporter, resource, sampler_name=name, ratio=ratio),
            )
        options = {"policy_path": str(path), "reload_interval_s": 0.1, **settings}
        state = build_state(Settings(**options), load_policy(path), telemetry, env or {}, log_output)
        state.listening = True
        app, server = await start_app(state, "127.0.0.1", 0, stages, resolver_class=resolver_class)
        running.append((app, server))
        return RunningSidecar(f"http://127.0.0.1:{server.port}", state, path, exporter, logs, server)

    yield start
    for app, server in running:  # a store the test stopped first (its redis-server) holds each close 0.5 s, not 5
        transports = [conn.transport for conn in server.connections if conn.transport is not None]
        await server.shutdown(0)
        for transport in transports:  # one still closing (bytes its test's client never read) would be left to
            transport.abort()  # the garbage collector: a ResourceWarning, an error here (a no-op once closed)
        await app.close(deadline=time.monotonic())


def provider_block(name: str, url: str, speaks: str | None = None, key_env: str | None = None) -> str:
    lines = [f"  {name}:", "    dialect: fake", f"    base_url: {url}"]
    if speaks:
        lines.append(f"    speaks: {speaks}")
    if key_env:
        lines.append(f"    api_key: {{env: {key_env}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture
async def gemini_client() -> AsyncIterator[Callable[[str | None], Any]]:
    """google-genai pointed at a URL (None: the one its environment gives), over httpx (its aiohttp path
    warns about subclassing ClientSession)."""
    import httpx2
    from google import genai

    transports: list[Any] = []

    def make(url: str | None) -> Any:
        transport = httpx2.AsyncClient(verify=suite_tls())
        transports.append(transport)
        options = gemini_http_options(base_url=url, httpx_async_client=transport)
        return genai.Client(api_key="app-dummy", http_options=options)

    yield make
    for transport in transports:
        await transport.aclose()


@pytest.fixture(scope="session")
def router_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """Two router files' bytes trained on the same templated prompts (tests/routing/labeled_data.py):
    the first labels them as written, the second with the tasks extraction and code exchanged."""
    from .routing.labeled_data import train_router

    directory = tmp_path_factory.mktemp("routers")
    plain = train_router(directory / "plain.json", 200)
    swapped = train_router(directory / "swapped.json", 200, swap=("extraction", "code"))
    return plain.read_bytes(), swapped.read_bytes()
