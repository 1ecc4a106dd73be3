"""What the process's account of held bytes (``held_bytes``) counts beyond a body's read: a stream held
whole for its quality gates, a stream's preamble held back before its first content event, an answer
waiting for a slow app to read it, what a shadowed request's background calls keep, and an ensemble's
member answers waiting for the vote. Each past a small ceiling fails its one request or call as the body
reads do (``held_bytes_full``), and the account is back at 0 after."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tracemalloc

import aiohttp

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory
from ..waiting import until
from .ensemble_policies import ensemble_route, models_policy
from .hostile_upstreams import chain_policy, chat_answer, head, hostile, one_model_policy, stream_fell_back
from .shadow_calls import ask, shadowed, status_rows

MiB = 1024 * 1024


def stream_answer(events: list[bytes]) -> bytes:
    """A whole OpenAI chat stream answer, with its head: ``events`` (chunks' JSON), a finish, ``[DONE]``."""
    body = b"".join(b"data: " + event + b"\n\n" for event in events)
    body += b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"b","choices":[{"index":0,'
    body += b'"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    return head(b"content-type: text/event-stream\r\n", body)


def chunk(delta: bytes, pad: bytes = b"") -> bytes:
    return (
        b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"b",' + pad + b'"choices":[{"index":0,'
        b'"delta":' + delta + b',"finish_reason":null}]}'
    )


CONTENT = chunk(b'{"content":"' + b"y" * 65536 + b'"}')  # 64 KiB of an answer


def gated_chain(bad: str, good: str) -> str:
    return chain_policy(bad, good).replace(
        "target: [bad, good]}", "target: [bad, good], gates: {regex: {pattern: 'y|fine'}}}"
    )


async def test_a_stream_held_for_its_gates_past_the_ceiling_falls_back_and_lets_go(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A gated stream of 1 MiB of content (held whole for the gate, counted 4 times) past a 2 MiB ceiling
    fails as held_bytes_full before the app saw a byte; the next target's stream passes the gate and is
    sent; the account is back at 0 with one refusal, its peak what the sent stream held."""
    bad = await raw_upstream(hostile(stream_answer([CONTENT] * 16)))
    running = await sidecar(gated_chain(bad.base, await fake("good", reply="fine")), max_held_bytes=2 * MiB)
    assert b"y" * 100 not in await stream_fell_back(running)
    (access,) = running.access_lines()
    assert access["attempt_log"] == ["bad:held_bytes_full", "good:ok"]
    assert 0 < running.state.held.peak <= 2 * MiB


async def test_a_preamble_held_back_past_the_ceiling_falls_back_and_lets_go(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A stream of role-only chunks padded to 256 KiB each (all held back before the first content
    event, each counted 3 times) past a 2 MiB ceiling fails as held_bytes_full; the next target's stream
    is relayed; the account is back at 0."""
    role = chunk(b'{"role":"assistant"}', b'"pad":"' + b"x" * (256 * 1024) + b'",')
    bad = await raw_upstream(hostile(stream_answer([role] * 8 + [CONTENT])))
    await stream_fell_back(await sidecar(chain_policy(bad.base, await fake("good")), max_held_bytes=2 * MiB))


async def test_a_refused_preambles_bill_estimate_does_not_copy_what_was_held_back_whole(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A stream of role-only chunks padded to 512 KiB each, refused at the 24th under a 36 MiB ceiling
    (about 12 MiB held back): the failure's bill estimate reads the held events one at a time, so the
    memory this process allocated at its peak (tracemalloc: sidecar, provider and app) stays under 40 MiB
    (24 MiB; 61 MiB with the held bytes joined and all their events parsed at once); the next target
    serves."""
    role = chunk(b'{"role":"assistant"}', b'"pad":"' + b"x" * (512 * 1024) + b'",')
    bad = await raw_upstream(hostile(stream_answer([role] * 30 + [CONTENT])))
    running = await sidecar(chain_policy(bad.base, await fake("good")), max_held_bytes=36 * MiB)
    tracemalloc.start()
    try:
        await stream_fell_back(running)
        _held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MiB


async def test_an_answer_an_app_does_not_read_stays_counted_until_read(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A 16 MiB answer written to an app that reads none of it stays in the account (twice its size)
    while it waits: another call for the same answer is then refused (502 held_bytes_full) under a 64 MiB
    ceiling it alone fits; once the app has read its answer, whole, the account is back at 0."""
    answer = chat_answer(b"y" * (16 * MiB))
    running = await sidecar(one_model_policy((await raw_upstream(hostile(answer))).base), max_held_bytes=64 * MiB)
    request = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
    app = socket.socket()
    app.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the app's socket takes little of it
    app.setblocking(False)
    host, port = running.url.removeprefix("http://").split(":")
    await asyncio.get_running_loop().sock_connect(app, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=app)
    try:
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(request), request)
        )
        await until(lambda: running.state.held.held, lambda held: held >= 32 * MiB)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{running.url}/v1/chat/completions", data=request) as other,
        ):
            assert (other.status, (await other.json())["error"]["code"]) == (502, "held_bytes_full")
        await reader.readuntil(b"\r\n\r\n")
        assert (await reader.readexactly(len(answer) - answer.index(b"\r\n\r\n") - 4)).endswith(b"}")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    await until(lambda: running.state.held.held, lambda held: held == 0)


async def test_a_shadow_call_past_the_ceiling_is_skipped_and_the_served_answer_unharmed(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A shadowed request of 900 KiB: what its shadow call would keep until it ends (the served answer's
    text, the request 3 times), with the request's own bytes, passes a 3 MiB ceiling, so the call is
    skipped (a refusal counted); openai-python got its answer."""
    urls = [await fake("f0", reply="served"), await fake("f1", reply="served")]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)), max_held_bytes=3 * MiB)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="served", messages=[{"role": "user", "content": "x" * (900 * 1024)}]
        )
    assert raw.parse().choices[0].message.content == "served" and raw.headers["x-sidecar-shadow"] == "sampled"
    rows = await status_rows(running, 1)
    assert [(r["skipped"], r["compared"]) for r in rows] == [(1, 0)]
    assert (running.state.held.held, running.state.held.refusals) == (0, 1)


async def test_a_shadow_call_keeps_the_served_answer_counted_until_it_ends(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A shadowed 256 KiB answer whose candidate answers after 1 s: while the call runs the account holds
    what it keeps (the answer's text and the request); once it is compared, the account is back at 0."""
    urls = [await fake("f0", reply="y" * (256 * 1024)), await fake("f1", reply="y", latency_ms=1000)]
    running = await sidecar(models_policy(urls, shadowed("m1"), speaks=("openai",)))
    await ask(running)
    assert running.state.held.held > 256 * 1024
    rows = await status_rows(running, 1)
    assert rows[0]["compared"] == 1
    await until(lambda: running.state.held.held, lambda held: held == 0)


async def test_an_ensemble_members_answer_waiting_for_the_vote_stays_counted(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An ensemble whose first member answers 1 MiB at once and whose second answers 1 MiB after 1.5 s,
    under a 4.5 MiB ceiling: the first answer waits for the vote in the account (4 times its size), so the
    second one's read (three times its size) passes the ceiling and fails as held_bytes_full (each fits
    alone); once the vote is over the account is back at 0, one refusal counted."""
    big = "y" * MiB
    urls = [await fake("f0", reply=big), await fake("f1", reply=big, latency_ms=1500)]
    policy = models_policy(urls, ensemble_route("m0, m1", "early_quorum: false"), speaks=("openai",))
    running = await sidecar(policy, max_held_bytes=4 * MiB + MiB // 2)
    request = {"model": "vote", "messages": [{"role": "user", "content": "hello"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=request) as response,
    ):
        await response.read()
    (line,) = running.access_lines()
    assert sorted(line["attempt_log"]) == ["m0:ok", "m1:held_bytes_full"]
    await until(lambda: running.state.held.held, lambda held: held == 0)
    assert running.state.held.refusals == 1
