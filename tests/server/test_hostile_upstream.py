"""A hostile or broken provider is a failed attempt, not a failed sidecar: the same bytes a hostile server
sends (a raw TCP server on loopback) make the attempt fail as ``malformed_response`` and the chain fall
back, for answers read whole and for streams; nothing invalid reaches the app. The memory bound for a
decompression bomb is asserted on a real sidecar process."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import signal
from pathlib import Path

import aiohttp
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from ..upstream.raw import ServerConn, UpstreamFactory
from .hostile_upstreams import (
    CHAT,
    MiB,
    chain_policy,
    chat,
    endless_event,
    head,
    hostile,
    peak_rss_mb,
    start_chain,
    zero_bomb,
)
from .sidecar_process import run_sidecar

HOSTILE_HEADS = {
    "CR in a header value": head(b"x-a: one\rtwo\r\n"),
    "LF in a header value": head(b"x-a: one\ntwo\r\n"),
    "NUL in a header value": head(b"x-a: one\x00two\r\n"),
    "control character in a header value": head(b"x-a: one\x01two\r\n"),
    "space in a header name": head(b"x a: v\r\n"),
    "NUL in a header name": head(b"x\x00a: v\r\n"),
    "status 099": b"HTTP/1.1 099 OK\r\ncontent-length: 2\r\n\r\n{}",
    "status 600": b"HTTP/1.1 600 OK\r\ncontent-length: 2\r\n\r\n{}",
    "bad chunk after the head": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    "corrupt gzip": head(b"content-encoding: gzip\r\n", b"definitely not gzip"),
    "too many gzip members": head(b"content-encoding: gzip\r\n", gzip.compress(b"") * 100_000),
}


@pytest.mark.parametrize("answer", HOSTILE_HEADS.values(), ids=HOSTILE_HEADS.keys())
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_hostile_answer_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, answer: bytes, stream: bool
) -> None:
    """Each hostile answer fails its attempt as malformed_response; the app gets the next target's answer."""
    running = await start_chain(raw_upstream, fake, sidecar, answer)
    status, headers, body = await chat(running, stream)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"
    assert b"hello" in body and (not stream or body.endswith(b"data: [DONE]\n\n"))
    (access,) = [line for line in running.log_lines() if line["event"] == "access"]
    assert access["attempt_log"] == ["bad:malformed_response", "good:ok"]


@pytest.mark.parametrize("body", [b"{}", b'{"status": "ok"}', b'{"id": "x", "model": "b"}'])
@pytest.mark.parametrize("bad_kind", ["openai", "anthropic"], ids=["relayed", "translated"])
async def test_a_200_that_holds_no_answer_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, body: bytes, bad_kind: str
) -> None:
    """A 200 whose JSON is not an answer of its API (``{}``, another API's JSON) fails as
    malformed_response and falls back, whether the route relays it (same dialect: the app would get it
    as is) or translates it (the app would get a made-up empty answer)."""
    bad = await raw_upstream(hostile(head(b"content-type: application/json\r\n", body)))
    running = await sidecar(chain_policy(bad.base, await fake("good"), bad_kind))
    status, headers, answer = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"
    assert b"hello" in answer
    (access,) = [line for line in running.log_lines() if line["event"] == "access"]
    assert access["attempt_log"] == ["bad:malformed_response", "good:ok"]


async def one_target_sdk_error(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, answer: bytes, stream: bool = False
) -> openai.APIStatusError:
    """The error openai-python raises for a chat sent through a one-target route whose provider answers
    ``answer``."""
    bad = await raw_upstream(hostile(answer))
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("bad", bad.base, "openai")
        + "models:\n  m: {provider: bad, model: b}\n"
    )
    client = openai_client(running)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=stream)
    finally:
        await client.close()
    return caught.value


async def test_a_hostile_header_on_a_one_target_route_is_a_clean_502(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """With nowhere to fall back, a header value holding CR gets the app a 502 in its dialect (not a bare
    500), naming malformed_response; the OpenAI SDK raises its usual error."""
    caught = await one_target_sdk_error(raw_upstream, sidecar, head(b"x-a: one\rtwo\r\n"))
    assert caught.status_code == 502 and caught.code == "malformed_response"


async def test_a_stream_event_that_never_ends_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A stream whose one event never ends (``data: `` and then ``x`` for ever, in 4 KiB chunks, never a
    blank line): past the parser's 16 MiB event cap the attempt fails as malformed_response and the
    chain falls back. Before 2026-12-06 every chunk copied and scanned all of the event before it: the
    loop held 75 ms at a time near the cap (bench/hostile_upstream.py, ``event-drip``)."""

    bad = await raw_upstream(endless_event(4096))
    running = await sidecar(chain_policy(bad.base, await fake("good")))
    status, headers, body = await chat(running, stream=True)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"
    assert body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("flood", [b"\n" * 4096, b":\n\n" * 1365], ids=["blank lines", "comment blocks"])
async def test_a_stream_of_nothing_but_blank_lines_or_comments_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, flood: bytes
) -> None:
    """A stream that sends blank lines or comment-only blocks for ever (4 KiB chunks, never an event):
    past the parser's 1 MiB of such bytes the attempt fails as malformed_response and the chain falls
    back. Before 2026-12-06 it was read block by block until the first-byte deadline, a core kept busy
    for all of it (attack36's probe: a gzip of blank lines ran the whole 60 s)."""

    async def nothing(conn: ServerConn) -> None:
        if await conn.read_request() is None:
            return
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        with contextlib.suppress(ConnectionError):
            await conn.send(head)
            while True:
                await conn.send(b"%x\r\n%s\r\n" % (len(flood), flood))

    bad = await raw_upstream(nothing)
    running = await sidecar(chain_policy(bad.base, await fake("good")))
    status, headers, body = await chat(running, stream=True)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"
    assert body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("status", [b"301 Moved Permanently", b"307 Temporary Redirect"], ids=["301", "307"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_redirect_on_a_one_target_route_is_not_passed_to_the_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, status: bytes, stream: bool
) -> None:
    """A provider's 3xx with a JSON body and a ``Location`` on another host: the app gets the sidecar's
    502 naming it (``http_301``), not the redirect, so its SDK (openai-python follows redirects) calls no
    other host. Before 2026-12-06 the 3xx went to the app as the provider's error, ``Location`` and all,
    and the SDK sent the request there (after a 307 the same POST, body and headers)."""
    elsewhere = await raw_upstream(hostile(head(b"")))
    body = b'{"error": {"message": "moved"}}'
    redirect = b"HTTP/1.1 %s\r\nlocation: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        elsewhere.url.encode(),
        len(body),
        body,
    )
    caught = await one_target_sdk_error(raw_upstream, sidecar, redirect, stream)
    assert caught.status_code == 502 and caught.code == f"http_{status[:3].decode()}"
    assert "location" not in caught.response.headers
    assert elsewhere.accepted == 0


async def test_a_body_over_the_cap_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An answer longer than SIDECAR_UPSTREAM_MAX_BODY_BYTES fails as malformed_response and falls back."""
    running = await start_chain(raw_upstream, fake, sidecar, head(b"", b" " * (2 * MiB)), upstream_max_body_bytes=MiB)
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"


async def test_a_decompression_bomb_falls_back(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A 64 KiB gzip body inflating to 64 MiB, past a 1 MiB cap, fails as malformed_response and falls back."""
    answer = head(b"content-encoding: gzip\r\n", zero_bomb(64 * MiB))
    running = await start_chain(raw_upstream, fake, sidecar, answer, upstream_max_body_bytes=MiB)
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "malformed_response"


async def test_a_one_gib_bomb_keeps_the_process_small(raw_upstream: UpstreamFactory, tmp_path: Path) -> None:
    """A real sidecar process (default settings, the ceiling of a 192 Mi pod: 96 MiB, whatever this
    machine's cgroup says) calling a provider that answers a 1 MB gzip body inflating to 1 GiB answers
    502 and peaks under 200 MB: ``held_bytes_full`` at the ceiling (the body counted three times: 32 MiB
    of it) before the 64 MiB cap's ``malformed_response``."""
    bad = await raw_upstream(hostile(head(b"content-encoding: gzip\r\n", zero_bomb(1024 * MiB))))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("bad", bad.base, "openai")
        + "models:\n  m: {provider: bad, model: b}\n"
    )
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "warning", "SIDECAR_MAX_HELD_BYTES": str(96 * MiB)}
    proc, url = await run_sidecar(policy, env)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/v1/chat/completions", json={**CHAT, "model": "m"}) as response,
        ):
            status, body = response.status, await response.json()
        assert status == 502 and body["error"]["code"] == "held_bytes_full"
        assert peak_rss_mb(proc.pid) < 200  # 120 MB measured; 2.1 GB on the sidecar's own client before
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
