"""Header hygiene: compressed upstream bodies, hop-by-hop headers, framing, cookies."""

from __future__ import annotations

import gzip
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ..conftest import SidecarFactory, provider_block
from ..upstream.raw import ServerConn, UpstreamFactory

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


async def test_hop_by_hop_request_headers_stay_on_their_hop(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """Headers named in the app's Connection, Keep-Alive, TE, Upgrade, Expect, Proxy-*, and what described
    the app's body (Content-Encoding, digests) are not forwarded upstream; other headers are."""
    seen: list[dict[str, str]] = []
    url = await upstream(aiohttp_server, seen)
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("p", url, "openai") + "models:\n  m: {provider: p, model: m}\n"
    )
    hop = {
        "connection": "keep-alive, x-hop-only",
        "x-hop-only": "1",
        "keep-alive": "timeout=5",
        "te": "trailers",
        "upgrade": "h2c",
        "proxy-authorization": "Basic c2VjcmV0",
        "proxy-trace": "1",
        "content-encoding": "identity",
        "content-md5": "Q2hlY2sgSW50ZWdyaXR5IQ==",
        "digest": "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            headers={**hop, "x-kept": "yes"},
            expect100=True,
        ) as response,
    ):
        assert response.status == 200
    sent = {k.lower() for k in seen[0]}
    assert sent.isdisjoint({*hop, "expect"}), sent & {*hop, "expect"}
    assert "x-kept" in sent


def raw_answer(body: bytes, *, chunked: bool = False) -> bytes:
    hop = (
        b"connection: keep-alive, x-hop-only\r\nx-hop-only: 1\r\nkeep-alive: timeout=5\r\n"
        b'proxy-authenticate: Basic\r\nproxy-status: cache\r\nalt-svc: h3=":443"\r\ncontent-md5: AAAA\r\n'
        b"x-sidecar-provider: spoofed\r\nx-request-id: req-123\r\n"
    )
    if chunked:
        framing = b"transfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n"
        return b"HTTP/1.1 200 OK\r\n" + hop + framing + b"\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    framing = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    return b"HTTP/1.1 200 OK\r\n" + hop + framing + b"\r\n" + body


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_hop_by_hop_response_headers_are_not_relayed(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Headers named in the upstream's Connection, Keep-Alive, Proxy-*, Alt-Svc, digests of its body and
    x-sidecar-* it made up do not reach the app; the provider's own headers do."""
    events = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    events += b'"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    answer = raw_answer(events, chunked=True) if stream else raw_answer(orjson.dumps(COMPLETION))

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(answer)

    up = await raw_upstream(handler)
    running = await sidecar(
        "version: 1\nproviders:\n" + provider_block("p", up.base, "openai") + "models:\n  m: {provider: p, model: m}\n"
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        await response.read()
        headers = response.headers
    assert response.status == 200
    for name in ("x-hop-only", "keep-alive", "proxy-authenticate", "proxy-status", "alt-svc", "content-md5"):
        assert name not in headers, name
    assert headers["x-sidecar-provider"] == "p"
    assert headers["x-request-id"] == "req-123"


async def test_a_reload_changes_the_headers_sent_upstream_from_its_next_request(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """The headers a policy sets on its provider's calls follow a reload, while the app's headers keep
    their verdicts (a name judged before the reload is judged the same after): the provider's
    ``x-team`` replaces the app's until a reload drops it, then the app's own reaches the upstream, and
    the new policy's ``x-region`` is sent; the app's ``x-sidecar-app`` and ``cookie`` never are."""
    seen: list[dict[str, str]] = []
    url = await upstream(aiohttp_server, seen)

    def policy(headers: str) -> str:
        block = provider_block("p", url, "openai") + f"    headers: {headers}\n"
        return "version: 1\nproviders:\n" + block + "models:\n  m: {provider: p, model: m}\n"

    running = await sidecar(policy("{x-team: from-policy}"))
    app = {"X-Team": "from-app", "X-Sidecar-App": "checkout", "Cookie": "a=b", "X-Kept": "1"}
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}

    async def sent() -> dict[str, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{running.url}/v1/chat/completions", json=body, headers=app) as response,
        ):
            assert response.status == 200
        return {k.lower(): v for k, v in seen[-1].items()}

    for _ in range(2):
        before = await sent()
        assert before["x-team"] == "from-policy" and before["x-kept"] == "1" and "x-region" not in before
        assert "x-sidecar-app" not in before and "cookie" not in before
    await running.reload(policy("{x-region: eu}"))
    for _ in range(2):
        after = await sent()
        assert after["x-team"] == "from-app" and after["x-region"] == "eu" and after["x-kept"] == "1"
        assert "x-sidecar-app" not in after and "cookie" not in after
