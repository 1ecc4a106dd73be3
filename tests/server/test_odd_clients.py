"""Odd clients against a real sidecar and a fake provider, over raw sockets: ``Expect: 100-continue``,
pipelined requests with a stream between them, an HTTP/1.0 stream, a chunked body, and a body sent
so slowly that the receive deadline closes the connection (the listener's own tests use a stub
handler; these go through the whole request path), and one that stops reading a stream."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..upstream.raw import ServerConn, UpstreamFactory
from ..waiting import until
from .ensemble_policies import models_policy
from .raw import close, read_response

ROUTE = "  - {name: chain, match: {model: chain}, target: [m0]}\n"


def chat(text: str, stream: bool = False) -> bytes:
    return orjson.dumps({"model": "chain", "stream": stream, "messages": [{"role": "user", "content": text}]})


def post(body: bytes, extra: str = "", version: str = "1.1") -> bytes:
    head = f"POST /v1/chat/completions HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def connect(running: RunningSidecar) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(running.url)
    return await asyncio.open_connection(address.hostname, address.port)


def text_of(body: bytes) -> str:
    """The answer's text: a whole answer's message, or a stream's deltas joined."""
    if not body.startswith(b"data:"):
        return str(orjson.loads(body)["choices"][0]["message"]["content"])
    parts: list[str] = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            choices: Any = orjson.loads(line[6:]).get("choices") or [{}]
            parts.append(choices[0].get("delta", {}).get("content") or "")
    return "".join(parts)


async def test_expect_100_continue_is_answered_then_the_body_is_served(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A client that sends ``Expect: 100-continue`` and waits: it gets ``100 Continue``, sends its 5 KB
    body, and gets the answer."""
    running = await sidecar(models_policy([await fake("f0")], ROUTE, speaks=("openai",)))
    reader, writer = await connect(running)
    body = chat("x" * 5000)
    writer.write(post(body, "Expect: 100-continue\r\n")[: -len(body)])
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    status, _, answer = await read_response(reader)
    await close(writer)
    assert status == 200 and text_of(answer) == "x" * 5000


async def test_pipelined_requests_around_a_stream_are_answered_in_order(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Three requests written at once on one connection, the second a stream: three answers, in order,
    the stream whole between the two others."""
    running = await sidecar(models_policy([await fake("f0", tokens_per_s=500)], ROUTE, speaks=("openai",)))
    reader, writer = await connect(running)
    writer.write(post(chat("one")) + post(chat("two words", stream=True)) + post(chat("three")))
    answers = [await read_response(reader) for _ in range(3)]
    await close(writer)
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert [text_of(body) for _, _, body in answers] == ["one", "two words", "three"]
    assert answers[1][1]["transfer-encoding"] == "chunked"


async def test_an_http10_client_gets_a_stream_ended_by_the_close(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An HTTP/1.0 request for a stream: an HTTP/1.0 answer without chunked framing, whole, then the
    connection closes."""
    running = await sidecar(models_policy([await fake("f0")], ROUTE, speaks=("openai",)))
    reader, writer = await connect(running)
    writer.write(post(chat("old client", stream=True), version="1.0"))
    sent = await asyncio.wait_for(reader.read(), 30)  # to the close
    await close(writer)
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
    assert text_of(body) == "old client" and body.rstrip().endswith(b"data: [DONE]")


async def test_a_chunked_request_body_is_served(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A body sent with ``Transfer-Encoding: chunked`` in three chunks is read whole and answered."""
    running = await sidecar(models_policy([await fake("f0")], ROUTE, speaks=("openai",)))
    reader, writer = await connect(running)
    body = chat("chunked body")
    parts = [body[:10], body[10:20], body[20:]]
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    for part in parts:
        writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        await asyncio.sleep(0.05)
    writer.write(b"0\r\n\r\n")
    status, _, answer = await read_response(reader)
    await close(writer)
    assert status == 200 and text_of(answer) == "chunked body"


async def test_a_body_trickled_past_the_receive_deadline_is_closed_and_nothing_is_called(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Slowloris on the body: a byte every 0.1 s never stalls, but the request is not whole 1 s after
    its first byte (``receive_timeout_s``): the connection is closed before the body is (a reset when
    trickled bytes were still unread or kept coming), with no answer, and the fake is never called."""
    url = await fake("f0")
    running = await sidecar(models_policy([url], ROUTE, speaks=("openai",)), receive_timeout_s=1.0)
    reader, writer = await connect(running)
    body = chat("slow " * 10)
    trickled = [0]

    async def trickle() -> None:
        writer.write(post(body)[: -len(body)])
        with contextlib.suppress(ConnectionError):
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                trickled[0] += 1
                await asyncio.sleep(0.1)

    loop = asyncio.get_running_loop()
    started = loop.time()
    sending = asyncio.ensure_future(trickle())
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), 30):  # to the close
            answer += chunk
    closed_after, trickled_then = loop.time() - started, trickled[0]
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    await close(writer)
    assert answer == b""
    assert closed_after > 0.9 and trickled_then < len(body)  # the deadline, not the body's end, closed it
    assert await running.fake_requests(url) == []


async def test_a_client_that_stops_reading_a_stream_stops_the_upstream_read(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Back-pressure: an upstream that would stream 256 MiB as fast as it can, to a client that reads
    only the head and then nothing: the sidecar stops reading the upstream once the buffers between them
    are full (the upstream's writes wait, and still wait after the sidecar has served other requests), so
    the upstream gets out a few MiB at most, not the answer; the sidecar holds no more than that."""
    sent, waiting = [0], [False]
    event = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    event += b'"delta":{"content":"' + b"x" * 16_000 + b'"},"finish_reason":null}]}\n\n'

    async def flood(conn: ServerConn) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = f"{len(event) * 4:x}\r\n".encode() + event * 4 + b"\r\n"
        while sent[0] < 256 * 2**20:
            waiting[0] = True  # seen by another task only while the send waits (its drain): it returns at once else
            await conn.send(chunk)
            waiting[0] = False
            sent[0] += len(chunk)

    upstream = await raw_upstream(flood)
    policy = "version: 1\nproviders:\n" + provider_block("p0", upstream.base, "openai")
    running = await sidecar(policy + "models:\n  m0: {provider: p0, model: up0}\nroutes:\n" + ROUTE)
    reader, writer = await connect(running)
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(post(chat("flood me", stream=True)))
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).startswith(b"HTTP/1.1 200")
    cast(asyncio.Transport, writer.transport).pause_reading()  # the client reads nothing more

    async def unmoved_across_requests(session: aiohttp.ClientSession) -> int | None:
        """What the upstream had sent, if its write waited and it sent nothing more while the sidecar (its
        loop turning many times) served ten more requests, one after the other; else None."""
        before = sent[0]
        for _ in range(10):
            async with session.get(f"{running.url}/healthz") as answer:
                assert answer.status == 200
            if not waiting[0] or sent[0] != before:
                return None
        return before

    async with aiohttp.ClientSession() as session:  # the buffers fill in steps: wait until they are full
        stalled_at = await until(lambda: unmoved_across_requests(session), lambda at: at is not None, 30)
    assert stalled_at is not None
    assert stalled_at < 32 * 2**20  # socket buffers on both sides, not the 256 MiB answer
    await close(writer)
