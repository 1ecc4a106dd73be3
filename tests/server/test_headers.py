"""Header hygiene: compressed upstream bodies, hop-by-hop headers, framing, cookies."""

from __future__ import annotations

import gzip
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ..conftest import SidecarFactory, provider_block

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "zipped hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


async def upstream(aiohttp_server: Any, seen: list[dict[str, str]]) -> str:
    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(
            body=gzip.compress(orjson.dumps(COMPLETION)),
            headers={
                "content-type": "application/json",
                "content-encoding": "gzip",
                "set-cookie": "__cf_bm=abc; path=/",
                "keep-alive": "timeout=5",
                "x-request-id": "req-123",
            },
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_compressed_upstream_body_reaches_the_app_decoded(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """A gzip upstream body is decoded and relayed with a correct length and no content-encoding."""
    seen: list[dict[str, str]] = []
    url = await upstream(aiohttp_server, seen)
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("p", url, "openai") + "models:\n  m: {provider: p, model: m}\n"
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(
            f"{running.url}/v1/chat/completions",
            json=body,
            headers={"connection": "keep-alive", "te": "trailers", "x-sidecar-app": "checkout", "cookie": "a=b"},
        ) as response,
    ):
        raw = await response.read()
        headers = response.headers
    assert orjson.loads(raw)["choices"][0]["message"]["content"] == "zipped hello"
    assert "content-encoding" not in headers
    assert headers.getall("content-type") == ["application/json"]
    assert int(headers["content-length"]) == len(raw)
    assert "set-cookie" not in headers and "keep-alive" not in headers
    assert headers["x-request-id"] == "req-123"
    sent = {k.lower(): v for k, v in seen[0].items()}
    assert "te" not in sent and "cookie" not in sent and "x-sidecar-app" not in sent
    assert "gzip" in sent["accept-encoding"]


async def test_a_repeated_app_header_reaches_the_upstream_as_one_joined_field(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """Two lines of one field from the app arrive upstream as one field, joined with a comma (RFC 9110
    5.3), not as the last line alone."""
    seen: list[dict[str, str]] = []
    url = await upstream(aiohttp_server, seen)
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("p", url, "openai") + "models:\n  m: {provider: p, model: m}\n"
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    headers = [("x-feature", "one"), ("x-feature", "two")]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status == 200
    assert {k.lower(): v for k, v in seen[0].items()}["x-feature"] == "one, two"
