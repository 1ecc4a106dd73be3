"""Gemini's API key in the query (``?key=``, as the REST API and curl send it) on every Gemini method:
read wherever the ``x-goog-api-key`` header is, sent to a passthrough provider in its own credential
header, never in a URL, and absent from the access line, the spans and ``/metrics``."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory

QUERY_KEY = "AIzaPLANTEDqueryKey7f3e2d1c0b"
HELLO = {"contents": [{"parts": [{"text": "hello"}]}]}
METHODS = {
    "generateContent": HELLO,
    "streamGenerateContent": HELLO,
    "countTokens": HELLO,
    "embedContent": {"content": {"parts": [{"text": "hello"}]}},
    "batchEmbedContents": {"requests": [{"model": "models/embed", "content": {"parts": [{"text": "hello"}]}}]},
}


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, str, str]:
    """Passthrough providers speaking Gemini and OpenAI; ``gem``/``embed`` on the first, ``gpt`` on the second."""
    gemini_url, openai_url = await fake("fg"), await fake("fo")
    policy = f"""version: 1
providers:
  g: {{dialect: fake, speaks: gemini, base_url: "{gemini_url}", api_key: {{passthrough: true}}}}
  o: {{dialect: fake, speaks: openai, base_url: "{openai_url}", api_key: {{passthrough: true}}}}
models:
  gem: {{provider: g, model: gemini-2.0-flash}}
  embed: {{provider: g, model: text-embedding-004, capabilities: [embeddings]}}
  gpt: {{provider: o, model: gpt-4o-mini}}
"""
    return await sidecar(policy), gemini_url, openai_url


async def post(running: RunningSidecar, model: str, method: str) -> int:
    query = f"?alt=sse&key={QUERY_KEY}" if method == "streamGenerateContent" else f"?key={QUERY_KEY}"
    url = f"{running.url}/v1beta/models/{model}:{method}{query}"
    async with aiohttp.ClientSession() as session, session.post(url, json=METHODS[method]) as answer:
        await answer.read()
        return answer.status


def headers_of(request: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in request["headers"].items()}


@pytest.mark.parametrize("method", list(METHODS))
async def test_a_query_key_reaches_a_passthrough_gemini_provider_as_its_header(
    fake: FakeFactory, sidecar: SidecarFactory, method: str
) -> None:
    """``:{method}?key=K`` with no key header: the Gemini provider gets ``x-goog-api-key: K``, and no
    ``key`` in its URL's query."""
    running, gemini_url, _ = await start(fake, sidecar)
    model = "embed" if "mbed" in method else "gem"
    assert await post(running, model, method) == 200
    (request,) = await running.fake_requests(gemini_url)
    assert headers_of(request)["x-goog-api-key"] == QUERY_KEY
    assert "key" not in request["query"]


@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent"])
async def test_a_query_key_reaches_an_openai_provider_as_its_bearer_never_in_a_url(
    fake: FakeFactory, sidecar: SidecarFactory, method: str
) -> None:
    """Translated to an OpenAI provider, the query key is its ``Authorization: Bearer``, and the URL the
    provider gets has no ``key``."""
    running, _, openai_url = await start(fake, sidecar)
    assert await post(running, "gpt", method) == 200
    requests = await running.fake_requests(openai_url)
    assert requests, "nothing reached the OpenAI provider"
    for request in requests:
        assert headers_of(request)["authorization"] == f"Bearer {QUERY_KEY}"
        assert "key" not in request["query"] and QUERY_KEY not in request["path"]


async def test_a_query_key_is_in_no_log_line_span_or_metric(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every Gemini method with ``?key=``: the access lines carry the path without its query, and no log
    line, span or ``/metrics`` holds the key."""
    running, _, _ = await start(fake, sidecar)
    for method in METHODS:
        await post(running, "embed" if "mbed" in method else "gem", method)
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as metrics:
        exposition = await metrics.read()
    running.state.access.flush()
    access = [line for line in running.log_lines() if line.get("event") == "access"]
    assert len(access) == len(METHODS)
    assert all("?" not in line["path"] for line in access), [line["path"] for line in access]
    spans = [span.to_json().encode() for span in running.spans.get_finished_spans()]
    assert spans, "no span was recorded"
    for output in (running.logs.getvalue(), exposition, *spans):
        assert QUERY_KEY.encode() not in output
