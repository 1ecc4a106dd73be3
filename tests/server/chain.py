"""The route ``chain`` the fallback, hedge and last-resort tests use: its policy (``chain_policy``), a chat
call to it and the count of requests a fake provider has seen."""

from __future__ import annotations

from typing import Any

import aiohttp

from ..conftest import RunningSidecar, provider_block


def chain_policy(
    urls: list[str], extra_defaults: str = "", route_extra: str = "", windows: list[int] | None = None
) -> str:
    """Providers p0..pN (fakes speaking openai at ``urls``), models m0..mN (``windows``: their context
    windows), ``extra_defaults`` lines, and the route ``chain`` over them in order (``route_extra`` lines
    under it)."""
    text = "version: 1\n"
    text += "defaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.05}, deadline_s: 10}\n" + extra_defaults
    text += "providers:\n" + "".join(provider_block(f"p{i}", url, "openai") for i, url in enumerate(urls))
    text += "models:\n"
    for i, _ in enumerate(urls):
        window = f", context_window: {windows[i]}" if windows else ""
        text += f"  m{i}: {{provider: p{i}, model: up{i}{window}}}\n"
    chain = ", ".join(f"m{i}" for i in range(len(urls)))
    text += f"routes:\n  - name: chain\n    match: {{model: chain}}\n    target: [{chain}]\n{route_extra}"
    return text


async def chat(
    running: RunningSidecar, headers: dict[str, str] | None = None, stream: bool = False
) -> tuple[int, dict[str, str], Any]:
    body = {"model": "chain", "messages": [{"role": "user", "content": "hello"}], "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers or {}) as response,
    ):
        data = await response.read()
        return response.status, {k.lower(): v for k, v in response.headers.items()}, data


async def calls(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats") as response:
        return int((await response.json())["requests"])
