"""A chat call to the route ``chain`` (the fallback and hedge tests' policies name it so) and the count of
requests a fake provider has seen: what the fallback and hedge tests ask of a running sidecar."""

from __future__ import annotations

from typing import Any

import aiohttp

from ..conftest import RunningSidecar


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
