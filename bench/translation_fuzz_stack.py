"""The stack bench/translation_fuzz.py sends through: in this process, one fake provider per upstream
dialect (OpenAI, Azure OpenAI, Anthropic, Gemini: ``sidecar.fake_provider``, real loopback HTTP servers)
or the seeded answer server (bench/translation_fuzz_answers.py), and a real sidecar in front of them,
its JSON log kept in memory.

Models ``to-<upstream>`` (``unsupported_params: error``, the default) and routes ``drop-<upstream>``
(``unsupported_params: drop``) send each caller dialect to each upstream, one attempt, no fallback.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

UPSTREAMS = ("openai", "azure", "anthropic", "gemini")
UPSTREAM_DIALECT = {"openai": "openai", "azure": "openai", "anthropic": "anthropic", "gemini": "gemini"}
MODEL_ID = {
    "openai": "gpt-4o-mini",
    "azure": "my-deployment",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
}


def policy(urls: dict[str, str]) -> str:
    """The policy: each upstream a provider of its kind at its URL; ``to-X`` and ``drop-X`` reach it."""
    bases = {
        "openai": f"{urls['openai']}/v1",
        "azure": urls["azure"],
        "anthropic": urls["anthropic"],
        "gemini": urls["gemini"],
    }
    kinds = {"openai": "openai", "azure": "azure-openai", "anthropic": "anthropic", "gemini": "gemini"}
    text = "version: 1\ndefaults:\n  resilience: {max_attempts_per_target: 1}\n"
    text += "  breaker: {window_size: 10000, minimum_calls: 10000}\nproviders:\n"
    for name in UPSTREAMS:
        extra = ", api_version: '2024-10-21'" if name == "azure" else ""
        text += f"  p-{name}: {{kind: {kinds[name]}, base_url: '{bases[name]}', api_key: {{env: KEY}}{extra}}}\n"
    text += "models:\n"
    for name in UPSTREAMS:
        text += f"  to-{name}: {{provider: p-{name}, model: {MODEL_ID[name]}, max_output_tokens: 8192}}\n"
    text += "routes:\n"
    for name in UPSTREAMS:
        text += (
            f"  - {{name: drop-{name}, match: {{model: drop-{name}}}, target: to-{name}, unsupported_params: drop}}\n"
        )
    return text


@dataclass
class Stack:
    url: str
    upstream_urls: dict[str, str]
    logs: io.BytesIO
    close: Callable[[], Any]
    state: Any

    def log_lines(self, start: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The log lines written from byte ``start`` on, and the offset after them."""
        self.state.access.flush()
        raw = self.logs.getvalue()
        end = raw.rfind(b"\n") + 1
        lines = [orjson.loads(line) for line in raw[start:end].splitlines() if line.strip()]
        return lines, max(end, start)


async def serve(app: web.Application) -> tuple[str, web.AppRunner]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return f"http://127.0.0.1:{port}", runner


async def start(upstream_apps: dict[str, web.Application] | None = None) -> Stack:
    """The sidecar over one fake provider per upstream (or over ``upstream_apps``, by upstream name)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sidecar.fake_provider import FakeConfig
    from sidecar.fake_provider import build_app as build_fake_app
    from sidecar.policy import load_policy
    from sidecar.server.app import build_state, start_app
    from sidecar.settings import Settings
    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.logging import configure_logging

    runners = []
    urls = {}
    for name in UPSTREAMS:
        app = (upstream_apps or {}).get(name) or build_fake_app(FakeConfig(name=f"fake-{name}", seed=1), max_records=5)
        urls[name], runner = await serve(app)
        runners.append(runner)
    workdir = Path(tempfile.mkdtemp(prefix="translation-fuzz-"))
    path = workdir / "policy.yaml"
    path.write_text(policy(urls))
    logs = io.BytesIO()
    log_output = configure_logging("info", stream=logs, cache=False)
    telemetry = Telemetry.for_tests(InMemorySpanExporter())
    settings = Settings(policy_path=str(path), reload_interval_s=3600)
    state = build_state(settings, load_policy(path), telemetry, {"KEY": "sk-upstream"}, log_output)
    state.listening = True
    app, server = await start_app(state, "127.0.0.1", 0)

    async def close() -> None:
        await server.shutdown(0)
        await app.close(deadline=time.monotonic())
        for runner in runners:
            await runner.cleanup()

    return Stack(f"http://127.0.0.1:{server.port}", urls, logs, close, state)
