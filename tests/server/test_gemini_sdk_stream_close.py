"""google-genai (Python) keeps a stream's connection open after a ``break`` out of
``generate_content_stream`` or ``aclose()`` on it (docs/api.md, Streaming): its stream is a chain of async
generators, and closing the outer one does not close the HTTP response (its httpx connection stays
``ACTIVE``; the sidecar, which sees no close, streams on). The documented way out holds: cancelling the
task that reads the stream closes the connection, and the sidecar cancels the upstream call at once
(access line 499 ``client_closed``; the provider sees its client gone). Real sidecar, google-genai over
httpx, a fake Gemini streaming 80 words at 20 a second (4 s)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..waiting import until


async def slow_gemini(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, str]:
    url = await fake("slow-gemini", tokens_per_s=20, reply=" ".join(["word"] * 80))
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("p", url, "gemini")
        + "models:\n  m: {provider: p, model: gemini-2.0-flash}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n"
    )
    return running, url


async def closed_early(running: RunningSidecar, url: str) -> None:
    """The access line says 499 ``client_closed`` and the fake saw its client go, long before the 4 s answer
    could have ended."""
    line = await until(lambda: [x for x in running.log_lines() if x.get("event") == "access"], timeout_s=2.0)
    assert (line[0]["status"], line[0]["outcome"]) == (499, "client_closed")
    [call] = await until(lambda: running.fake_requests(url), lambda calls: calls and calls[0]["ended"], timeout_s=2.0)
    assert call["client_gone"]


async def test_cancelling_the_task_that_reads_a_stream_closes_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The documented way to stop a google-genai stream early: cancel the task reading it (here after its
    first chunk). Its connection closes, and the sidecar cancels the upstream call."""
    running, url = await slow_gemini(fake, sidecar)
    first = asyncio.Event()

    async def read() -> None:
        stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
        async for _ in stream:
            first.set()

    task = asyncio.ensure_future(read())
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await closed_early(running, url)
