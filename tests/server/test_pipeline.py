"""The read stage through a live sidecar: what the request's target says of it (its query string) is
read when there is one, and a target without one is read as having none."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block

BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})


def gemini_policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "gemini")
        + "models:\n  m: {provider: p, model: up}\nroutes:\n  - {name: all, target: m}\n"
    )


@pytest.mark.parametrize("query", ["?alt=sse", "?key=x&alt=sse"])
async def test_a_gemini_stream_asked_for_server_sent_events_in_its_query_is_streamed(
    fake: FakeFactory, sidecar: SidecarFactory, query: str
) -> None:
    """``streamGenerateContent`` with ``alt=sse`` in its query string (alone or beside another parameter)
    is read as asked: a 200 stream of server-sent events."""
    running = await sidecar(gemini_policy(await fake("f")))
    url = f"{running.url}/v1beta/models/m:streamGenerateContent{query}"
    async with aiohttp.ClientSession() as session, session.post(url, data=BODY) as response:
        body = await response.read()
    assert response.status == 200, body
    assert response.headers["content-type"].startswith("text/event-stream")
    assert body.startswith(b"data: ")


async def test_a_gemini_stream_asked_without_a_query_string_is_a_400_naming_alt_sse(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``streamGenerateContent`` with no query string: no ``alt=sse`` was asked, so a 400 in Gemini's
    words that says to add it (the sidecar serves a Gemini stream as server-sent events only)."""
    running = await sidecar(gemini_policy(await fake("f")))
    url = f"{running.url}/v1beta/models/m:streamGenerateContent"
    async with aiohttp.ClientSession() as session, session.post(url, data=BODY) as response:
        error = orjson.loads(await response.read())["error"]
    assert response.status == 400
    assert "alt=sse" in error["message"]
