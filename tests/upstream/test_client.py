"""The upstream client against real raw-TCP servers on 127.0.0.1: the request, pooling, limits, per-phase
timeouts, cut connections."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import aiohttp
import pytest

from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.upstream import UpstreamClient

from ..upstream.raw import ServerConn, UpstreamFactory, answering, chunked, response, serve_forever
from .conftest import BODY, TIMEOUTS, ClientFactory, post, provider, read, timeouts


async def until(predicate: Callable[[], bool], timeout: float = 1.0) -> None:
    """Wait (polling every 5 ms) until ``predicate()`` holds; fail after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"not true within {timeout} s")


# -- the request --------------------------------------------------------------------------------------------


async def test_post_sends_the_request_and_returns_the_response(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """post() writes method, target, host, the given headers and the body; returns status, headers and body."""
    up = await raw_upstream(answering(response(b"hello", "201 Created", "x-reply: yes\r\n")))
    resp = await client.post(provider(up.base), up.url, {"authorization": "Bearer k", "x-a": "1"}, BODY, TIMEOUTS)
    assert (resp.status, resp.headers["X-Reply"]) == (201, "yes")
    assert await resp.read() == b"hello"
    resp.close()
    (request,) = up.requests
    lines = request.head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat?x=1 HTTP/1.1"
    assert f"Host: {up.base.removeprefix('http://')}" in lines
    assert "authorization: Bearer k" in lines and "x-a: 1" in lines
    assert f"Content-Length: {len(BODY)}" in lines
    assert not any(line.lower().startswith("user-agent") for line in lines)
    assert request.body == BODY


async def test_cookies_from_one_call_are_not_sent_on_the_next(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A provider's Set-Cookie is not kept: the sidecar serves every caller of the pod, so no cookie jar."""
    up = await raw_upstream(answering(response(headers="set-cookie: session=caller-a; path=/\r\n")))
    for _ in range(2):
        await read(client, up)
    assert all(b"cookie" not in request.head.lower().replace(b"set-cookie", b"") for request in up.requests)


async def test_redirects_are_returned_not_followed(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A 3xx comes back as the answer (a misconfigured base_url to classify), and its Location is not called."""
    up = await raw_upstream(answering(response(b"", "307 Temporary Redirect", "location: /elsewhere\r\n")))
    resp = await post(client, up)
    assert resp.status == 307
    resp.close()
    assert len(up.requests) == 1


# -- connection reuse ---------------------------------------------------------------------------------------


async def test_kept_alive_connection_is_reused(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """Sequential posts after complete keep-alive responses all travel on one connection."""
    up = await raw_upstream(answering(response(b"again")))
    assert [await read(client, up) for _ in range(3)] == [b"again"] * 3
    assert (up.accepted, len(up.requests)) == (1, 3)


async def test_chunked_keep_alive_connection_is_reused(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A complete chunked response (with trailers) leaves its connection reusable."""
    answer = chunked(b"ab", b"cd")[: -len(b"\r\n")] + b"x-trailer: t\r\n\r\n"
    up = await raw_upstream(answering(answer))
    assert [await read(client, up) for _ in range(2)] == [b"abcd"] * 2
    assert up.accepted == 1


async def test_connection_close_is_not_reused(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """After a response with Connection: close the next post opens a new connection."""
    up = await raw_upstream(answering(response(headers="connection: close\r\n")))
    assert [await read(client, up) for _ in range(2)] == [b"ok"] * 2
    assert up.accepted == 2


async def test_closing_an_unfinished_response_closes_its_connection(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """close() mid-body closes the connection at once (the upstream sees it), and it is never reused."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await conn.wait_closed_by_client()

    up = await raw_upstream(handler)
    resp = await post(client, up)
    assert await resp.readany() == b"first"
    resp.close()
    await asyncio.wait_for(up.conns[0].ended.wait(), 1)
    resp = await post(client, up)
    resp.close()
    assert up.accepted == 2


async def test_upstream_closing_an_idle_connection_is_transparent(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """When the upstream closes a pooled idle connection, the next post opens a new one without error."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response())  # kept alive as far as the headers say, then closed

    up = await raw_upstream(handler)
    await (await post(client, up)).read()
    await asyncio.wait_for(up.conns[0].ended.wait(), 1)
    await asyncio.sleep(0.05)  # the client's side of the close arrives
    resp = await post(client, up)
    assert await resp.read() == b"ok"
    assert up.accepted == 2


# -- limits -------------------------------------------------------------------------------------------------


async def test_the_per_host_limit_makes_a_post_wait_for_a_free_connection(
    raw_upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """At upstream_connections_per_host=1 a second concurrent post waits for the first to end, then reuses it."""
    client = make_client(upstream_connections_per_host=1)
    gate = asyncio.Event()

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab")
            await gate.wait()
            await conn.send(b"cd")

    up = await raw_upstream(handler)
    first = await post(client, up)
    second = asyncio.create_task(post(client, up))
    await asyncio.sleep(0.05)
    assert not second.done() and up.accepted == 1
    gate.set()
    assert await first.read() == b"abcd"
    first.close()
    resp = await asyncio.wait_for(second, 1)
    assert await resp.read() == b"abcd"
    assert up.accepted == 1


def test_default_limits_hold_two_thousand_streams_per_target() -> None:
    """Without configuration 2,000 concurrent calls to one host fit (aiohttp's own default is 100)."""
    from sidecar.settings import Settings

    settings = Settings()
    assert settings.upstream_connections_per_host >= 2000 and settings.upstream_connections >= 2000


def test_the_loop_of_a_client_not_opened_is_refused() -> None:
    """``UpstreamClient.loop`` (read by the attempt instead of ``asyncio.get_running_loop()``) used before
    ``open``, by a loop method or by ``asyncio.current_task`` (the calls' look-up): a clear error, not a
    call run in no loop."""
    from sidecar.settings import Settings
    from sidecar.upstream import EnvProxies

    unopened = UpstreamClient(Settings(), EnvProxies({}))
    with pytest.raises(RuntimeError, match="the upstream client is not open"):
        unopened.loop.time()
    with pytest.raises(RuntimeError, match="the upstream client is not open"):
        asyncio.current_task(unopened.loop)


async def test_the_loop_of_an_open_client_is_the_one_it_was_opened_in(client: UpstreamClient) -> None:
    """An open client's ``loop`` is the running loop it was opened in (every call runs in it)."""
    assert client.loop is asyncio.get_running_loop()


# -- timeouts, by phase -------------------------------------------------------------------------------------


async def answer_nothing(conn: ServerConn) -> None:
    """Read the request, then send nothing until the client closes."""
    await conn.read_request()
    await conn.wait_closed_by_client()


async def test_connect_timeout(client: UpstreamClient) -> None:
    """A connection that does not open within connect_s raises ConnectionTimeoutError."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        while len(fillers) < 16:  # fill the accept queue: further SYNs go unanswered
            filler = socket.socket()
            filler.settimeout(0.05)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("could not fill a listening socket's accept queue here")
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        with pytest.raises(aiohttp.ConnectionTimeoutError):
            await client.post(provider(url), url + "/", {}, BODY, TimeoutsSpec(connect_s=0.1))
        assert time.monotonic() - started < 0.5
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_idle_timeout_waiting_for_the_head(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """No byte within idle_s after the request raises SocketTimeoutError from post, and closes the connection."""
    up = await raw_upstream(answer_nothing)
    started = time.monotonic()
    with pytest.raises(aiohttp.SocketTimeoutError):
        await post(client, up, timeouts(idle_s=0.1))
    assert 0.09 < time.monotonic() - started < 0.5
    await asyncio.wait_for(up.conns[0].ended.wait(), 1)


async def test_the_head_is_left_to_the_first_byte_deadline_when_it_is_due_first(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """With first_byte_s no longer than idle_s, post() arms no read timer of its own for the head: the
    caller's first-byte deadline, armed before the call, ends the wait first (a head later than idle_s,
    with no such deadline around the call, is still awaited)."""

    async def late_head(conn: ServerConn) -> None:
        await conn.read_request()
        await asyncio.sleep(0.3)
        await conn.send(response(b"late"))
        await conn.wait_closed_by_client()

    up = await raw_upstream(late_head)
    resp = await post(client, up, timeouts(idle_s=0.1, first_byte_s=0.1))
    assert await resp.read() == b"late"
    resp.close()


@pytest.mark.parametrize("method", ["read", "readany"])
async def test_idle_timeout_in_the_body(raw_upstream: UpstreamFactory, client: UpstreamClient, method: str) -> None:
    """A body that stalls for idle_s raises SocketTimeoutError from read() and readany()."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
        await conn.wait_closed_by_client()

    up = await raw_upstream(handler)
    resp = await post(client, up, timeouts(idle_s=0.1))
    with pytest.raises(aiohttp.SocketTimeoutError):
        await getattr(resp, method)()
    resp.close()


async def test_idle_timer_restarts_with_each_arrival(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body whose bytes come more often than idle_s is read whole even if it takes longer than idle_s."""
    body = b"slow and steady!"  # a byte every 0.04 s: 0.64 s in all, gaps 0.46 s short of idle_s

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
        for byte in body:
            await asyncio.sleep(0.04)
            await conn.send(bytes([byte]))
        await serve_forever(conn)

    up = await raw_upstream(handler)
    resp = await post(client, up, timeouts(idle_s=0.5))
    assert await resp.read() == body


async def test_a_reader_slower_than_idle_s_is_not_an_idle_upstream(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """idle_s bounds a wait for bytes, not the time between two reads: a body that arrived while the
    reader was busy (an app reading a stream slowly) is read whole."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nfirst-")
        await serve_forever(conn)

    up = await raw_upstream(handler)
    resp = await post(client, up, timeouts(idle_s=0.1))
    await asyncio.sleep(0.3)  # the reader busy elsewhere for three idle periods
    assert await resp.read() == b"first-"
    resp.close()


async def test_total_timeout_bounds_a_trickling_body(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body that keeps trickling within the idle gap still ends at total_s, with a bare TimeoutError."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        for _ in range(1000):
            await asyncio.sleep(0.02)
            await conn.send(b"x")

    up = await raw_upstream(handler)
    started = time.monotonic()
    resp = await post(client, up, timeouts(idle_s=0.1, total_s=0.3))
    with pytest.raises(TimeoutError) as caught:
        await resp.read()
    assert not isinstance(caught.value, aiohttp.ServerTimeoutError)
    assert time.monotonic() - started < 1.0
    resp.close()


# -- cut connections ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\ncontent-"], ids=["nothing", "part of the head"])
async def test_upstream_closing_before_the_head_raises_disconnected(
    raw_upstream: UpstreamFactory, client: UpstreamClient, sent: bytes
) -> None:
    """The upstream closing before the whole head arrived makes post raise ServerDisconnectedError."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(sent)

    up = await raw_upstream(handler)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(client, up)


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabc",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ],
    ids=["Content-Length", "inside a chunk", "between chunks"],
)
@pytest.mark.parametrize("close", ["close", "reset"])
async def test_upstream_cutting_the_body_raises_payload_error(
    raw_upstream: UpstreamFactory, client: UpstreamClient, partial: bytes, close: str
) -> None:
    """A close or a reset before the body ended raises ClientPayloadError, never a short body."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(partial)
        if close == "reset":
            await asyncio.sleep(0.02)
            conn.reset()

    up = await raw_upstream(handler)
    resp = await post(client, up)
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    resp.close()


@pytest.mark.parametrize(
    "garbage",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"],
    ids=["not HTTP", "conflicting lengths"],
)
async def test_malformed_head_raises_response_error(
    raw_upstream: UpstreamFactory, client: UpstreamClient, garbage: bytes
) -> None:
    """Bytes that are not a valid response head make post raise ClientResponseError and drop the connection."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(garbage)
        await conn.wait_closed_by_client()

    up = await raw_upstream(handler)
    with pytest.raises(aiohttp.ClientResponseError):
        await post(client, up)
    await asyncio.wait_for(up.conns[0].ended.wait(), 1)


# -- streaming and flow control -----------------------------------------------------------------------------


async def test_readany_returns_bytes_as_they_arrive(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """readany() hands over the first chunk before the upstream has written the next, then b"" at the end."""
    go_on = asyncio.Event()

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await go_on.wait()
        await conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
        await serve_forever(conn)

    up = await raw_upstream(handler)
    resp = await post(client, up)
    async with asyncio.timeout(1):
        assert await resp.readany() == b"first"
    go_on.set()
    assert await resp.readany() == b"second"
    assert await resp.readany() == b""


async def test_unread_stream_pauses_the_upstream(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """While the caller does not read a large body the client stops reading, so the upstream's writes block."""
    total = 64 * 1024 * 1024
    piece = bytes(range(256)) * 256  # 64 KiB
    written = 0

    async def handler(conn: ServerConn) -> None:
        nonlocal written
        await conn.read_request()
        await conn.send(f"HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n".encode())
        while written < total:
            await conn.send(piece)
            written += len(piece)
        await serve_forever(conn)

    up = await raw_upstream(handler)
    resp = await post(client, up)
    last = -1
    while written != last:  # until the upstream's writes stall
        last = written
        await asyncio.sleep(0.05)
    assert written < total // 2  # blocked after the client's buffer plus the kernel's socket buffers
    received = 0
    async with asyncio.timeout(10):
        while chunk := await resp.readany():
            received += len(chunk)
    assert received == total
