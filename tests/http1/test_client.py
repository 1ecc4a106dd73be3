"""The upstream client against real raw-TCP servers on 127.0.0.1: pooling, errors, timeouts, decoding, flow, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import gzip
import ipaddress
import random
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sidecar.http1 import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamProtocolError,
    UpstreamReadTimeout,
    UpstreamResponse,
)

from .conftest import ClientFactory, RawUpstream, ServerConn, UpstreamFactory, chunked, response, serve_forever

BODY = b'{"model": "m"}'


async def until(predicate: Callable[[], bool], timeout: float = 1.0) -> None:
    """Wait (polling every 5 ms) until ``predicate()`` holds; fail after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"not true within {timeout} s")


async def ended(conn: ServerConn, timeout: float = 1.0) -> None:
    """Wait until the server's handler for ``conn`` saw the client close the connection."""
    await asyncio.wait_for(conn.ended.wait(), timeout)


async def read_all(resp: UpstreamResponse) -> bytes:
    out = b""
    while chunk := await resp.readany():
        out += chunk
    return out


def answering(answer: bytes) -> Callable[[ServerConn], Awaitable[None]]:
    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    return handler


# -- requests and responses ---------------------------------------------------------------------------------


async def test_post_sends_the_request_and_returns_the_response(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """post() writes method, target, host, headers and body, and returns status, headers and body."""
    up = await upstream(answering(response(b"hello", "201 Created", "x-reply: yes\r\n")))
    resp = await client.post(up.url, {"authorization": "Bearer k", "content-type": "application/json"}, BODY)
    assert (resp.status, resp.reason, resp.headers["X-Reply"]) == (201, "Created", "yes")
    assert await resp.read() == b"hello"
    resp.close()
    (request,) = up.requests
    port = up.url.split(":")[2].split("/")[0]
    lines = request.head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat?x=1 HTTP/1.1"
    assert f"host: 127.0.0.1:{port}" in lines
    assert "authorization: Bearer k" in lines
    assert "accept-encoding: gzip, deflate" in lines
    assert f"content-length: {len(BODY)}" in lines
    assert request.body == BODY


async def test_accept_encoding_is_configurable(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """The accept_encoding argument replaces the default Accept-Encoding value."""
    up = await upstream(answering(response()))
    resp = await client.post(up.url, {}, BODY, accept_encoding="identity")
    await resp.read()
    assert b"accept-encoding: identity\r\n" in up.requests[0].head


async def test_interim_heads_are_skipped(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """100 Continue and 103 Early Hints sent before the real head are not the response."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.sleep(0.01)
        await conn.send(b"HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n")
        await asyncio.sleep(0.01)
        await conn.send(response(b"final"))
        await serve_forever(conn)

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    assert resp.status == 200
    assert "link" not in resp.headers
    assert await resp.read() == b"final"


@pytest.mark.parametrize(
    ("name", "value"),
    [("x-a", "one\r\nx-injected: 1"), ("x-a", "one\ntwo"), ("x-a", "one\rtwo"), ("x-a\r\nx-b", "v")],
    ids=["CRLF in value", "LF in value", "CR in value", "CRLF in name"],
)
async def test_line_breaks_in_headers_are_refused(
    upstream: UpstreamFactory, client: UpstreamClient, name: str, value: str
) -> None:
    """A header name or value with CR or LF raises ValueError before any connection is opened."""
    up = await upstream(answering(response()))
    with pytest.raises(ValueError, match="line break"):
        await client.post(up.url, {name: value}, BODY)
    assert up.accepted == 0
    assert client.open_connections == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///path", "127.0.0.1:80/x"])
async def test_non_http_urls_are_refused(client: UpstreamClient, url: str) -> None:
    """A URL that is not http(s) with a host raises ValueError."""
    with pytest.raises(ValueError, match="not an http"):
        await client.post(url, {}, BODY)


# -- connection reuse ---------------------------------------------------------------------------------------


async def test_kept_alive_connection_is_reused(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """Sequential posts after complete keep-alive responses all travel on one connection."""
    up = await upstream(answering(response(b"again")))
    for _ in range(3):
        resp = await client.post(up.url, {}, BODY)
        assert await resp.read() == b"again"
        resp.close()
    assert up.accepted == 1
    assert len(up.requests) == 3
    assert (client.open_connections, client.idle_connections()) == (1, 1)


async def test_chunked_keep_alive_connection_is_reused(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A complete chunked response (with trailers) leaves its connection reusable."""
    answer = chunked(b"ab", b"cd")[: -len(b"\r\n")] + b"x-trailer: t\r\n\r\n"
    up = await upstream(answering(answer))
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY)
        assert await resp.read() == b"abcd"
    assert up.accepted == 1


async def test_no_content_response_is_reused(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A 204 ends at its head, and its connection is reused."""
    up = await upstream(answering(b"HTTP/1.1 204 No Content\r\n\r\n"))
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY)
        assert (resp.status, await resp.read()) == (204, b"")
    assert up.accepted == 1


async def test_close_after_a_finished_response_keeps_the_connection(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """close() on a response that has ended leaves its connection in the pool."""
    up = await upstream(answering(response()))
    resp = await client.post(up.url, {}, BODY)
    await resp.read()
    resp.close()
    resp.close()
    assert client.idle_connections() == 1
    await (await client.post(up.url, {}, BODY)).read()
    assert up.accepted == 1


@pytest.mark.parametrize(
    "answer",
    [
        response(headers="connection: close\r\n"),
        chunked(b"ok", headers="content-length: 2\r\n"),
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
        response() + b"HTTP/1.1 200 OK\r\n",
    ],
    ids=["Connection: close", "Transfer-Encoding with Content-Length", "HTTP/1.0", "bytes after the response"],
)
async def test_connection_not_reused_when_the_response_forbids_it(
    upstream: UpstreamFactory, client: UpstreamClient, answer: bytes
) -> None:
    """After a response that does not allow reuse the client closes the connection and opens a new one."""
    up = await upstream(answering(answer))
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY)
        assert await resp.read() == b"ok"
    assert up.accepted == 2
    await ended(up.conns[0])


async def test_body_until_close_is_read_and_not_reused(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body without length ends at the upstream's close, and the next post opens a new connection."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\n\r\nuntil ")
        await asyncio.sleep(0.01)
        await conn.send(b"close")

    up = await upstream(handler)
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY)
        assert await resp.read() == b"until close"
    assert up.accepted == 2


async def test_unfinished_response_closed_early_is_not_reused(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A response closed before its body ended does not give its connection back to the pool."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY)
        assert await resp.readany() == b"half"
        resp.close()
    assert up.accepted == 2
    assert client.idle_connections() == 0


async def test_closing_an_unfinished_response_aborts_the_upstream_connection(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """close() of a streaming response mid-body closes the connection at once: the upstream sees it promptly."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    assert await resp.readany() == b"first"
    started = time.monotonic()
    resp.close()
    assert client.open_connections == 0
    await ended(up.conns[0], timeout=0.5)
    assert time.monotonic() - started < 0.5


async def test_response_ending_before_the_request_was_sent_is_not_reused(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A response that completes while the request body is still being written closes the connection."""

    async def handler(conn: ServerConn) -> None:
        await conn.reader.readuntil(b"\r\n\r\n")  # the head only: answer without reading the body
        await conn.send(response(b"early"))
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    resp = await client.post(up.url, {}, b"x" * (16 * 1024 * 1024))
    assert await resp.read() == b"early"
    assert client.open_connections == 0
    await (await client.post(up.url, {}, BODY)).read()
    assert up.accepted == 2


async def test_upstream_closing_an_idle_connection_is_transparent(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """When the upstream closes a pooled idle connection, the next post opens a new one without error."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response())  # kept alive as far as the headers say, then closed

    up = await upstream(handler)
    await (await client.post(up.url, {}, BODY)).read()
    await until(lambda: client.idle_connections() == 0)  # the client noticed the close
    resp = await client.post(up.url, {}, BODY)
    assert await resp.read() == b"ok"
    assert up.accepted == 2


async def test_bytes_on_an_idle_connection_drop_it(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """An idle pooled connection that receives unsolicited bytes (a late 408) is closed, not reused."""

    async def handler(conn: ServerConn) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(response())
        if conn.upstream.accepted == 1:
            await asyncio.sleep(0.02)
            await conn.send(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    await (await client.post(up.url, {}, BODY)).read()
    await ended(up.conns[0])
    assert client.open_connections == 0
    await (await client.post(up.url, {}, BODY)).read()
    assert up.accepted == 2


async def test_idle_connections_expire_after_keepalive(upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """A pooled connection idle for longer than keepalive_s is closed and replaced on the next post."""
    client = make_client(keepalive_s=0.05)
    up = await upstream(answering(response()))
    await (await client.post(up.url, {}, BODY)).read()
    await asyncio.sleep(0.08)
    await (await client.post(up.url, {}, BODY)).read()
    assert up.accepted == 2
    await ended(up.conns[0])


async def test_idle_connections_are_closed_after_keepalive_without_further_posts(
    upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """A pooled connection idle past keepalive_s is closed by the client even if no post comes to reuse it."""
    client = make_client(keepalive_s=0.05)
    up = await upstream(answering(response()))
    await (await client.post(up.url, {}, BODY)).read()
    assert client.idle_connections() == 1
    await ended(up.conns[0])
    assert client.idle_connections() == 0 and client.open_connections == 0


async def test_a_connection_reused_in_time_is_not_swept(upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """The idle sweep closes only connections idle past keepalive_s: one in steady use stays open."""
    client = make_client(keepalive_s=0.3)
    up = await upstream(answering(response()))
    for _ in range(10):  # 0.5 s of use, spanning the sweep timer's first runs
        await (await client.post(up.url, {}, BODY)).read()
        await asyncio.sleep(0.05)
    assert up.accepted == 1


async def test_client_close_closes_idle_connections_and_refuses_posts(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """close() closes the pooled connections (the upstream sees it) and later posts raise UpstreamConnectError."""
    up = await upstream(answering(response()))
    await (await client.post(up.url, {}, BODY)).read()
    await client.close()
    await ended(up.conns[0])
    assert client.open_connections == 0
    with pytest.raises(UpstreamConnectError):
        await client.post(up.url, {}, BODY)


# -- the connection limit -----------------------------------------------------------------------------------


def gated(gate: asyncio.Event) -> Callable[[ServerConn], Awaitable[None]]:
    """Answer each request with half a body, the rest once ``gate`` is set."""

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab")
            await gate.wait()
            await conn.send(b"cd")

    return handler


@dataclass
class OneSlotBusy:
    """A client with max_connections=1 whose one connection holds an unfinished response until ``gate``."""

    client: UpstreamClient
    up: RawUpstream
    first: UpstreamResponse
    gate: asyncio.Event


@pytest.fixture
async def one_slot_busy(upstream: UpstreamFactory, make_client: ClientFactory) -> OneSlotBusy:
    client = make_client(max_connections=1)
    gate = asyncio.Event()
    up = await upstream(gated(gate))
    return OneSlotBusy(client, up, await client.post(up.url, {}, BODY), gate)


async def test_max_connections_makes_a_post_wait_for_a_free_connection(one_slot_busy: OneSlotBusy) -> None:
    """With max_connections=1 a second concurrent post waits until the first response ends, then reuses it."""
    client, up, first, gate = one_slot_busy.client, one_slot_busy.up, one_slot_busy.first, one_slot_busy.gate
    second = asyncio.create_task(client.post(up.url, {}, BODY))
    await asyncio.sleep(0.05)
    assert not second.done()
    assert up.accepted == 1
    gate.set()
    assert await first.read() == b"abcd"
    resp = await asyncio.wait_for(second, 1)
    assert await resp.read() == b"abcd"
    assert up.accepted == 1


async def test_cancelled_waiter_does_not_take_the_slot(upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """A post cancelled while waiting for a connection leaves the slot to the next post."""
    client = make_client(max_connections=1)
    gate = asyncio.Event()
    up = await upstream(gated(gate))
    first = await client.post(up.url, {}, BODY)
    waiting = asyncio.create_task(client.post(up.url, {}, BODY))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    await first.read()
    resp = await asyncio.wait_for(client.post(up.url, {}, BODY), 1)
    assert await resp.read() == b"abcd"
    assert up.accepted == 1


async def test_a_waiting_post_is_served_before_a_later_one(one_slot_busy: OneSlotBusy) -> None:
    """At max_connections a freed connection goes to the post that waited, not to one arriving just then."""
    client, up, first, gate = one_slot_busy.client, one_slot_busy.up, one_slot_busy.first, one_slot_busy.gate

    async def post_and_read() -> bytes:
        return await (await client.post(up.url, {}, BODY)).read()

    waited = asyncio.create_task(post_and_read())
    await asyncio.sleep(0.02)
    gate.set()
    assert await first.read() == b"abcd"  # frees the connection and wakes the waiting post; this task
    late = await client.post(up.url, {}, BODY)  # runs first and posts at once (no new task)
    assert waited.done() and waited.result() == b"abcd"  # the waiting post had its turn first
    assert await late.read() == b"abcd"
    assert up.accepted == 1


async def test_a_connection_handed_to_a_cancelled_waiter_goes_to_the_next(one_slot_busy: OneSlotBusy) -> None:
    """A waiting post cancelled right after a connection was handed to it passes that connection on."""
    client, up, first, gate = one_slot_busy.client, one_slot_busy.up, one_slot_busy.first, one_slot_busy.gate
    second = asyncio.create_task(client.post(up.url, {}, BODY))
    third = asyncio.create_task(client.post(up.url, {}, BODY))
    await asyncio.sleep(0.02)
    gate.set()
    assert await first.read() == b"abcd"  # hands the connection to the second post ...
    second.cancel()  # ... which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await second
    resp = await asyncio.wait_for(third, 1)
    assert await resp.read() == b"abcd"
    assert up.accepted == 1 and client.open_connections == 1


async def test_many_posts_over_two_origins_at_a_small_ceiling_all_finish(
    upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """60 posts to two origins through 2 connections, some cancelled while waiting: the rest all finish."""
    client = make_client(max_connections=2)
    ups = [await upstream(answering(response())), await upstream(answering(response()))]
    rng = random.Random(7)

    async def call(url: str) -> bytes:
        return await (await client.post(url, {}, BODY)).read()

    tasks = [asyncio.create_task(call(ups[rng.randrange(2)].url)) for _ in range(60)]
    await asyncio.sleep(0)
    cancelled = set(rng.sample(range(60), 15))
    for index in cancelled:
        tasks[index].cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    for index, result in enumerate(results):
        if index not in cancelled:
            assert result == b"ok"
    assert client.open_connections <= 2 and not client._waiters


async def test_waiter_woken_then_cancelled_passes_the_slot_on(
    upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """A waiting post cancelled right after being handed the free slot hands it to the next waiter."""
    client = make_client(max_connections=1)
    up = await upstream(gated(asyncio.Event()))
    first = await client.post(up.url, {}, BODY)
    second = asyncio.create_task(client.post(up.url, {}, BODY))
    third = asyncio.create_task(client.post(up.url, {}, BODY))
    await asyncio.sleep(0.02)
    first.close()  # frees the slot and wakes the second post...
    second.cancel()  # ...which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await second
    resp = await asyncio.wait_for(third, 1)
    assert resp.status == 200
    resp.close()


async def test_closing_an_unfinished_response_frees_the_slot_for_a_waiter(
    upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """Aborting the one in-use connection lets a waiting post open a new one."""
    client = make_client(max_connections=1)
    up = await upstream(gated(asyncio.Event()))
    first = await client.post(up.url, {}, BODY)
    second = asyncio.create_task(client.post(up.url, {}, BODY))
    await asyncio.sleep(0.02)
    assert not second.done()
    first.close()
    resp = await asyncio.wait_for(second, 1)
    assert resp.status == 200
    resp.close()
    assert up.accepted == 2


async def test_idle_connection_of_another_origin_is_evicted_at_the_limit(
    upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """At max_connections a post to a new origin closes an idle connection of another origin instead of waiting."""
    client = make_client(max_connections=1)
    one = await upstream(answering(response(b"one")))
    two = await upstream(answering(response(b"two")))
    assert await (await client.post(one.url, {}, BODY)).read() == b"one"
    resp = await asyncio.wait_for(client.post(two.url, {}, BODY), 1)
    assert await resp.read() == b"two"
    await ended(one.conns[0])
    assert client.open_connections == 1


# -- failures -----------------------------------------------------------------------------------------------


async def test_refused_connection_raises_connect_error(client: UpstreamClient) -> None:
    """A refused port raises UpstreamConnectError and frees the connection slot."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(UpstreamConnectError) as caught:
            await client.post(f"http://127.0.0.1:{port}/", {}, BODY, connect_s=1)
    assert caught.value.errno == errno.ECONNREFUSED
    assert client.open_connections == 0


async def test_connect_timeout(client: UpstreamClient) -> None:
    """A connection that does not open within connect_s raises UpstreamConnectTimeout and frees the slot."""
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
        started = time.monotonic()
        with pytest.raises(UpstreamConnectTimeout, match=r"longer than 0\.1 s"):
            await client.post(f"http://127.0.0.1:{port}/", {}, BODY, connect_s=0.1)
        assert time.monotonic() - started < 0.5
        assert client.open_connections == 0
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_kernel_connect_timeout_without_connect_s(
    client: UpstreamClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ETIMEDOUT from the OS with no connect_s raises UpstreamConnectTimeout (not a formatting TypeError)."""

    async def times_out(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ETIMEDOUT, "Connect call failed")  # what a SYN never answered ends in

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", times_out)
    with pytest.raises(UpstreamConnectTimeout, match="timed out"):
        await client.post("http://127.0.0.1:9/", {}, BODY)
    assert client.open_connections == 0


async def answer_nothing(conn: ServerConn) -> None:
    """Read the request, then send nothing until the client closes."""
    await conn.read_request()
    await conn.wait_closed_by_client()


async def test_idle_timeout_waiting_for_the_head(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """No byte within idle_s after the request raises UpstreamReadTimeout from post and closes the connection."""

    up = await upstream(answer_nothing)
    started = time.monotonic()
    with pytest.raises(UpstreamReadTimeout):
        await client.post(up.url, {}, BODY, idle_s=0.1)
    assert 0.09 < time.monotonic() - started < 0.5
    assert client.open_connections == 0
    await ended(up.conns[0])


@pytest.mark.parametrize("method", ["read", "readany"])
async def test_idle_timeout_in_the_body(upstream: UpstreamFactory, client: UpstreamClient, method: str) -> None:
    """A body that stalls for idle_s raises UpstreamReadTimeout from read() and readany()."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY, idle_s=0.1)
    with pytest.raises(UpstreamReadTimeout):
        await getattr(resp, method)()
    resp.close()


async def test_idle_timer_restarts_with_each_arrival(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body whose bytes come more often than idle_s is read whole even if it takes longer than idle_s."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        for byte in b"slow!":
            await asyncio.sleep(0.04)
            await conn.send(bytes([byte]))
        await serve_forever(conn)

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY, idle_s=0.1)
    assert await resp.read() == b"slow!"


async def test_deadline_before_the_head_raises_a_plain_timeout(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A deadline sooner than the idle gap raises TimeoutError (not UpstreamReadTimeout) and closes the connection."""

    up = await upstream(answer_nothing)
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        await client.post(up.url, {}, BODY, idle_s=5, deadline=loop.time() + 0.1)
    assert type(caught.value) is TimeoutError
    assert 0.05 < time.monotonic() - started < 0.5
    assert client.open_connections == 0
    await ended(up.conns[0])


async def test_idle_gap_sooner_than_the_deadline_raises_read_timeout(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """With both set, whichever comes first fires: an idle gap shorter than the deadline is UpstreamReadTimeout."""

    up = await upstream(answer_nothing)
    loop = asyncio.get_running_loop()
    with pytest.raises(UpstreamReadTimeout):
        await client.post(up.url, {}, BODY, idle_s=0.1, deadline=loop.time() + 5)


@pytest.mark.parametrize("method", ["read", "readany"])
async def test_deadline_set_on_the_response_bounds_the_body(
    upstream: UpstreamFactory, client: UpstreamClient, method: str
) -> None:
    """A body that keeps trickling within the idle gap still ends at the response's deadline."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):
                await asyncio.sleep(0.02)
                await conn.send(b"x")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    loop = asyncio.get_running_loop()
    resp = await client.post(up.url, {}, BODY, idle_s=0.1)
    resp.deadline = loop.time() + 0.2
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        while await getattr(resp, method)():
            pass
    assert type(caught.value) is TimeoutError
    assert time.monotonic() - started < 0.6
    resp.close()


async def test_deadline_bounds_the_wait_for_a_pooled_connection(one_slot_busy: OneSlotBusy) -> None:
    """A post waiting for a free connection at max_connections gives up at its deadline and leaves no waiter."""
    client, up, first, gate = one_slot_busy.client, one_slot_busy.up, one_slot_busy.first, one_slot_busy.gate
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        await client.post(up.url, {}, BODY, deadline=loop.time() + 0.1)
    gate.set()
    assert await first.read() == b"abcd"
    again = await asyncio.wait_for(client.post(up.url, {}, BODY), 1)
    assert await again.read() == b"abcd"
    assert up.accepted == 1


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabc",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ],
    ids=["Content-Length", "inside a chunk", "between chunks"],
)
async def test_upstream_closing_mid_body_raises_disconnected(
    upstream: UpstreamFactory, client: UpstreamClient, partial: bytes
) -> None:
    """The upstream closing the connection before the body ended raises UpstreamDisconnected."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(partial)

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    with pytest.raises(UpstreamDisconnected, match="before the response body ended"):
        await resp.read()
    resp.close()
    assert client.open_connections == 0


@pytest.mark.parametrize(
    "partial",
    [b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", b"HTTP/1.1 200 OK\r\n\r\nabc"],
    ids=["Content-Length", "until close"],
)
async def test_upstream_reset_mid_body_raises_disconnected(
    upstream: UpstreamFactory, client: UpstreamClient, partial: bytes
) -> None:
    """A TCP reset mid-body raises UpstreamDisconnected, even for a body that a clean close would end."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(partial)
        await asyncio.sleep(0.02)
        conn.reset()

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    assert await resp.readany() == b"abc"
    with pytest.raises(UpstreamDisconnected):
        await resp.readany()
    resp.close()


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\ncontent-"], ids=["nothing", "part of the head"])
async def test_upstream_closing_before_the_head_raises_disconnected(
    upstream: UpstreamFactory, client: UpstreamClient, sent: bytes
) -> None:
    """The upstream closing before the whole head arrived makes post raise UpstreamDisconnected."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(sent)

    up = await upstream(handler)
    with pytest.raises(UpstreamDisconnected):
        await client.post(up.url, {}, BODY)
    assert client.open_connections == 0


@pytest.mark.parametrize(
    "garbage",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"],
    ids=["not HTTP", "conflicting lengths"],
)
async def test_malformed_response_raises_protocol_error(
    upstream: UpstreamFactory, client: UpstreamClient, garbage: bytes
) -> None:
    """Bytes that are not a valid response make post raise UpstreamProtocolError and drop the connection."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(garbage)
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    with pytest.raises(UpstreamProtocolError):
        await client.post(up.url, {}, BODY)
    assert client.open_connections == 0
    await ended(up.conns[0])


async def test_malformed_chunk_raises_protocol_error_from_read(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A bad chunk after a valid head makes read() raise UpstreamProtocolError."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0.01)
        await conn.send(b"zz\r\n")
        await conn.wait_closed_by_client()

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    with pytest.raises(UpstreamProtocolError, match="chunk size"):
        await resp.read()
    resp.close()
    await ended(up.conns[0])


# -- streaming and flow control -----------------------------------------------------------------------------


async def test_readany_returns_bytes_as_they_arrive(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """readany() hands over the first chunk before the upstream has written the next, then b"" at the end."""
    go_on = asyncio.Event()

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await go_on.wait()
        await conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
        await serve_forever(conn)

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    async with asyncio.timeout(1):
        assert await resp.readany() == b"first"
    go_on.set()
    assert await resp.readany() == b"second"
    assert await resp.readany() == b""
    assert await resp.readany() == b""
    assert resp.complete


async def test_unread_stream_pauses_the_upstream(upstream: UpstreamFactory, client: UpstreamClient) -> None:
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

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    last = -1
    while written != last:  # until the upstream's writes stall
        last = written
        await asyncio.sleep(0.05)
    assert written < total // 2  # blocked after the client's 1 MiB plus the kernel's socket buffers
    received = 0
    async with asyncio.timeout(5):
        while chunk := await resp.readany():
            assert chunk[:1] == bytes([received % 256])
            received += len(chunk)
    assert received == total
    assert up.accepted == 1


async def test_read_of_a_large_body_is_not_paused(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """read() collects a body far above the pause threshold."""
    body = b"z" * (4 * 1024 * 1024)
    up = await upstream(answering(response(body)))
    resp = await client.post(up.url, {}, BODY)
    await asyncio.sleep(0.05)  # let more than the threshold arrive before read() starts
    async with asyncio.timeout(5):
        assert await resp.read() == body


# -- content codings ----------------------------------------------------------------------------------------

TEXT = b"the quick brown fox jumps over the lazy dog " * 200


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("identity", bytes)],
)
async def test_read_decodes_the_content_coding(
    upstream: UpstreamFactory, client: UpstreamClient, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    """read() returns the body with its gzip/deflate content coding removed."""
    up = await upstream(answering(response(compress(TEXT), headers=f"content-encoding: {coding}\r\n")))
    resp = await client.post(up.url, {}, BODY)
    assert await resp.read() == TEXT


async def test_readany_decodes_a_gzip_stream(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """readany() decodes a gzip body arriving in pieces, then reports the end with b"" (no zlib error)."""
    packed = gzip.compress(TEXT)
    half = len(packed) // 2
    pieces = [packed[:10], packed[10:half], packed[half:]]

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in pieces:
            await asyncio.sleep(0.01)
            last = b"0\r\n\r\n" if piece is pieces[-1] else b""  # the end arrives with the last bytes
            await conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" + last)
        await serve_forever(conn)

    up = await upstream(handler)
    resp = await client.post(up.url, {}, BODY)
    assert await read_all(resp) == TEXT
    assert await resp.readany() == b""


async def test_read_twice_on_a_gzip_body(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A second read() of a gzip body returns b"" rather than a zlib error."""
    up = await upstream(answering(response(gzip.compress(TEXT), headers="content-encoding: gzip\r\n")))
    resp = await client.post(up.url, {}, BODY)
    assert await resp.read() == TEXT
    assert await resp.read() == b""


async def test_unsupported_content_coding_raises_protocol_error(
    upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """A body in a content coding the client cannot decode (br) makes post raise UpstreamProtocolError."""
    up = await upstream(answering(response(b"\x1b\x00", headers="content-encoding: br\r\n")))
    with pytest.raises(UpstreamProtocolError, match="unsupported content-encoding"):
        await client.post(up.url, {}, BODY)
    assert client.open_connections == 0


async def test_corrupt_gzip_body_raises_protocol_error(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body that is not valid gzip makes read() raise UpstreamProtocolError."""
    up = await upstream(answering(response(b"definitely not gzip", headers="content-encoding: gzip\r\n")))
    resp = await client.post(up.url, {}, BODY)
    with pytest.raises(UpstreamProtocolError, match="corrupt"):
        await resp.read()


async def test_truncated_gzip_body_raises_protocol_error(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A gzip body cut before its end (framing intact) makes read() raise UpstreamProtocolError, not return less."""
    cut = gzip.compress(TEXT)[:-20]
    up = await upstream(answering(response(cut, headers="content-encoding: gzip\r\n")))
    resp = await client.post(up.url, {}, BODY)
    with pytest.raises(UpstreamProtocolError, match="ended before"):
        await resp.read()


@pytest.mark.parametrize("method", ["read", "readany"])
async def test_concatenated_gzip_members_are_all_decoded(
    upstream: UpstreamFactory, client: UpstreamClient, method: str
) -> None:
    """A gzip body of several members (RFC 1952) decodes to all of them, not only the first."""
    up = await upstream(
        answering(response(gzip.compress(b"first,") + gzip.compress(b"second"), headers="content-encoding: gzip\r\n"))
    )
    resp = await client.post(up.url, {}, BODY)
    body = await resp.read() if method == "read" else await read_all(resp)
    assert body == b"first,second"


async def test_empty_body_with_a_content_coding_is_empty(upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """An empty body labelled gzip reads as empty (nothing was cut)."""
    up = await upstream(answering(response(b"", headers="content-encoding: gzip\r\n")))
    resp = await client.post(up.url, {}, BODY)
    assert await resp.read() == b""


# -- TLS ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with ``cryptography``) and its key, as PEM files."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "llm-sidecar test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


async def test_https_with_a_trusted_certificate(
    upstream: UpstreamFactory,
    client: UpstreamClient,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over https the client verifies against the system trust (here SSL_CERT_FILE) and reuses the connection."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    up = await upstream(answering(response(b"secure")), ssl_context=server_context(certificate))
    assert up.url.startswith("https://")
    for _ in range(2):
        resp = await client.post(up.url, {}, BODY, connect_s=2)
        assert await resp.read() == b"secure"
    assert up.accepted == 1
    assert up.requests[0].body == BODY


async def test_https_with_an_untrusted_certificate_fails_to_connect(
    upstream: UpstreamFactory, client: UpstreamClient, certificate: tuple[Path, Path]
) -> None:
    """A certificate the system does not trust makes post raise UpstreamConnectError."""
    up = await upstream(answering(response()), ssl_context=server_context(certificate))
    with pytest.raises(UpstreamConnectError, match="certificate verify failed"):
        await client.post(up.url, {}, BODY, connect_s=2)
    assert client.open_connections == 0
