"""Shadow evaluation's test helpers: a route shadowed to candidates, a call through openai-python, and the
``/status`` shadow table once it holds the calls (shared by ``test_shadowing`` and ``test_held_bytes_holders``)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import RunningSidecar
from ..sdk_clients import openai_client

MESSAGES: Any = [{"role": "user", "content": "Which queue?"}]


def shadowed(candidates: str, extra: str = "") -> str:
    return (
        "  - name: served\n    match: {model: served}\n    target: m0\n"
        f"    shadow: {{candidates: [{candidates}], sample: 1.0{extra}}}\n"
    )


async def ask(running: RunningSidecar, **options: Any) -> tuple[str, dict[str, str]]:
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="served", messages=MESSAGES, **options)
        if options.get("stream"):
            text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
        else:
            text = raw.parse().choices[0].message.content or ""
    return text, dict(raw.headers)


async def status_rows(running: RunningSidecar, calls: int, timeout_s: float = 3.0) -> list[dict[str, Any]]:
    """The /status shadow table once it holds ``calls`` calls (compared, failed or skipped)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(int(timeout_s / 0.05)):
            async with session.get(f"{running.url}/status") as response:
                rows: list[dict[str, Any]] = (await response.json())["shadow"]
            if sum(r["compared"] + r["not_comparable"] + r["failed"] + r["skipped"] for r in rows) >= calls:
                return rows
            await asyncio.sleep(0.05)
    return rows
