"""A hostile upstream's answers for the tests (raw handlers and the bytes they send), the two-target chain
they sit first in, a one-model policy, and a process's peak RSS: shared by ``test_hostile_upstream``,
``test_held_bytes`` and ``test_held_bytes_holders``."""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path
from typing import Any

import aiohttp

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..upstream.raw import ServerConn, UpstreamFactory
from .chain import CONNECT

MiB = 1024 * 1024
CHAT = {"model": "chain", "messages": [{"role": "user", "content": "hello there"}]}


def hostile(answer: bytes) -> Any:
    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(answer)

    return handler


def endless_event(piece: int) -> Any:
    """A raw upstream's handler: a stream whose one event never ends, ``data: `` and then ``x`` in writes of
    ``piece`` bytes, until the sidecar hangs up."""

    async def endless(conn: ServerConn) -> None:
        if await conn.read_request() is None:
            return
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        with contextlib.suppress(ConnectionError):
            await conn.send(head + b"6\r\ndata: \r\n")
            while True:
                await conn.send(b"%x\r\n%s\r\n" % (piece, b"x" * piece))

    return endless


def head(lines: bytes, body: bytes = b"{}") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + lines + b"content-length: %d\r\n\r\n" % len(body) + body


def chain_policy(bad: str, good: str, bad_kind: str = "openai") -> str:
    return (
        "version: 1\ndefaults:\n  resilience: {"
        + CONNECT
        + "}\nproviders:\n"
        + provider_block("bad", bad, bad_kind)
        + provider_block("good", good, "openai")
        + "models:\n  bad: {provider: bad, model: b}\n  good: {provider: good, model: g}\n"
        + "routes:\n  - {match: {model: chain}, target: [bad, good]}\n"
    )


def zero_bomb(inflated: int) -> bytes:
    """A gzip body of ``inflated`` zero bytes, built from one compressed MiB repeated (a 1 GiB bomb is
    about 1 MB); its trailer is not checked, since the sidecar must stop long before it."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_mib = block.compress(bytes(MiB)) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + one_mib * (inflated // MiB) + end + bytes(8)


async def start_chain(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, answer: bytes, **settings: Any
) -> RunningSidecar:
    bad = await raw_upstream(hostile(answer))
    return await sidecar(chain_policy(bad.base, await fake("good")), **settings)


async def chat(running: RunningSidecar, stream: bool = False) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json={**CHAT, "stream": stream}) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def stream_fell_back(running: RunningSidecar) -> bytes:
    """A streamed chat through ``running``'s chain whose first target failed as ``held_bytes_full`` and
    whose next target's stream was relayed whole, the account back at 0 after one refusal: its body."""
    status, headers, body = await chat(running, stream=True)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "held_bytes_full"
    assert body.endswith(b"data: [DONE]\n\n")
    assert (running.state.held.held, running.state.held.refusals) == (0, 1)
    return body


def one_model_policy(base: str, kind: str = "openai") -> str:
    return "version: 1\nproviders:\n" + provider_block("up", base, kind) + "models:\n  m: {provider: up, model: u}\n"


def chat_answer(content: bytes) -> bytes:
    """A whole OpenAI chat completion whose message is ``content``, with its head."""
    body = (
        b'{"id":"c","object":"chat.completion","created":1,"model":"u","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"' + content + b'"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
    )
    return head(b"content-type: application/json\r\n", body)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")
