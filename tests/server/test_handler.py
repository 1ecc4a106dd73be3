"""The proxy handler's order: the answer is handed to the socket first, then its bookkeeping (the access
line, the request's metrics, the span's end), in the same task; nothing of it lost, none of it the app's
problem."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from sidecar.server.exchange import Exchange

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..listening import port_zero, wait_ports
from ..waiting import until
from .cache_helpers import written
from .metric_samples import metric_samples
from .raw import read_response

BIG_REPLY = "x" * (8 * 1024 * 1024)  # more than loopback's socket buffers hold: writing it waits for the app
REQUEST = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + "models:\n  m: {provider: p, model: up}\nroutes:\n  - {name: all, target: m}\n"
    )


async def open_slow_reader(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection whose receive buffer is small (no autotuning): an answer larger than the
    sidecar's send buffer stays partly unwritten until this side reads it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=4096)


def port_of(running: RunningSidecar) -> int:
    return int(running.url.rsplit(":", 1)[1])


def post(body: bytes = REQUEST) -> bytes:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}"
    )
    return head.encode() + b"\r\n\r\n" + body


async def read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The body of the answer whose ``head`` was read (its Content-Length)."""
    found = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    assert found is not None
    return await asyncio.wait_for(reader.readexactly(int(found[1])), 10)


def access_lines(running: RunningSidecar) -> list[dict[str, Any]]:
    return [line for line in running.log_lines() if line.get("event") == "access"]


async def hang_up_after_the_head(running: RunningSidecar) -> None:
    """Send the request, read the head of its (large) answer, close the connection at once; return once
    its access line is made (at most 2.5 s)."""
    reader, writer = await open_slow_reader(port_of(running))
    writer.write(post())
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.transport.abort()
    for _ in range(50):
        await asyncio.sleep(0.05)
        if access_lines(running):
            break


@pytest.mark.parametrize("answer", ["proxied", "cache hit"])
async def test_the_access_line_is_made_once_the_answer_is_handed_to_the_socket(
    fake: FakeFactory, sidecar: SidecarFactory, answer: str
) -> None:
    """An answer larger than the socket's buffers (the upstream's, or the same from the memory cache),
    read by the app only after a pause: its access line is made after the app began reading the rest (the
    answer went out first), and its latency_ms counts the wait (it was made before the answer's first
    byte was written)."""
    text = policy(await fake("f", reply=BIG_REPLY))
    if answer == "cache hit":
        text = text.replace("target: m}", "target: m, cache: {enabled: true, cacheable: always, ttl_s: 60}}")
        text += "cache: {max_entry_bytes: 33554432}\n"
    running = await sidecar(text)
    if answer == "cache hit":  # the miss that stores it, read at once
        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", port_of(running))
        first_writer.write(post())
        await read_response(first_reader, timeout=20)
        first_writer.close()
        await first_writer.wait_closed()
        await written(running)  # the store runs after the answer
        running.log_lines()  # flushed
        running.logs.seek(0)
        running.logs.truncate()
    reader, writer = await open_slow_reader(port_of(running))
    writer.write(post())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # the answer is being written
    [connection] = running.listener.connections
    await until(lambda: connection.writing_paused)  # the buffers are full: the sidecar's write waits for the app
    await asyncio.sleep(0.5)  # the pause that latency_ms must count (the quantity measured, not a wait)
    assert connection.writing_paused and access_lines(running) == []  # not taken yet: no bookkeeping yet
    resumed = time.time()
    assert BIG_REPLY.encode() in await read_body(reader, head)
    writer.close()
    [line] = await until(lambda: access_lines(running))
    assert line["status"] == 200 and line["ts"] >= resumed and line["latency_ms"] >= 500
    assert line.get("cache") == ("hit" if answer == "cache hit" else None)


async def test_the_answered_calls_telemetry_follows_the_answer_with_the_calls_own_timings(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """While a large answer is being written (the app pauses), /metrics counts neither the request nor
    its upstream call; once the app took it, both, and the call's duration is its own (not the wait).

    The call ran between the request's sending and its answer's head; the pause is made longer than
    that, so a call duration that counted the pause could not pass for one that did not, however slow
    a loaded machine makes the call."""
    running = await sidecar(policy(await fake("f", reply=BIG_REPLY)))
    reader, writer = await open_slow_reader(port_of(running))
    sent = time.monotonic()
    writer.write(post())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    call_bound_s = time.monotonic() - sent
    pause_s = max(0.5, call_bound_s) + 0.1
    [connection] = running.listener.connections
    await until(lambda: connection.writing_paused)  # the buffers are full: the sidecar's write waits for the app
    await asyncio.sleep(pause_s)  # the pause that the request's duration must count (the quantity measured)
    during = await metric_samples(running)
    await read_body(reader, head)
    writer.close()
    after = await until(lambda: metric_samples(running), lambda s: s.get("llm_sidecar_requests_total"))
    assert during.get("llm_sidecar_upstream_attempts_total", 0) == 0
    assert during.get("llm_sidecar_requests_total", 0) == 0
    assert after["llm_sidecar_upstream_attempts_total"] == 1 and after["llm_sidecar_requests_total"] == 1
    assert after["gen_ai_client_operation_duration_seconds_sum"] < call_bound_s
    assert after["llm_sidecar_request_duration_seconds_sum"] >= pause_s


async def test_the_spans_end_times_are_the_calls_end_and_the_answers_hand_off(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A traced request whose large answer the app takes after a pause: its CLIENT span ends when the
    upstream call ended (before the pause), its SERVER span once the answer was handed to the socket."""
    running = await sidecar(policy(await fake("f", reply=BIG_REPLY)))
    reader, writer = await open_slow_reader(port_of(running))
    writer.write(post())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    [connection] = running.listener.connections
    await until(lambda: connection.writing_paused)  # the buffers are full: the sidecar's write waits for the app
    await asyncio.sleep(0.5)  # the pause between the call's end and the answer's hand-off (the quantity measured)
    resumed_ns = time.time_ns()
    await read_body(reader, head)
    writer.close()
    ended = await until(running.spans.get_finished_spans, lambda ended: "SERVER" in {s.kind.name for s in ended})
    spans = {span.kind.name: span for span in ended}
    client, server = spans["CLIENT"], spans["SERVER"]
    assert client.end_time is not None and server.end_time is not None
    assert client.end_time < resumed_ns - 400_000_000 and server.end_time >= resumed_ns


async def test_an_app_that_hangs_up_while_its_answer_is_written_is_logged_once_with_its_status(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The app reads the head of a large answer and closes the connection: one access line, with the
    answer's status and the served model (it was answered and its call made), and no error logged."""
    running = await sidecar(policy(await fake("f", reply=BIG_REPLY)))
    await hang_up_after_the_head(running)
    [line] = await until(lambda: access_lines(running))  # written once the sidecar has seen the hang-up
    assert (line["status"], line["served_model"]) == (200, "m")
    assert not [line for line in running.log_lines() if line.get("level") == "error"]


async def test_the_drain_waits_for_the_bookkeeping_of_an_answer_being_written(
    fake: FakeFactory, tmp_path: Path
) -> None:
    """SIGTERM while a large answer is being written (the app reads it only afterwards): the process
    exits 0 once it is written and its access line is on stdout."""
    path = tmp_path / "policy.yaml"
    path.write_text(policy(await fake("f", reply=BIG_REPLY)))
    ports = tmp_path / "sidecar.ports"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "10", "SIDECAR_LOG_LEVEL": "info"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "run", "--policy", str(path), *port_zero(ports),
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        port = (await asyncio.to_thread(wait_ports, ports, proc))["port"]
        reader, writer = await open_slow_reader(port)
        writer.write(post())
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout is not None
        before = b""
        while b'"draining"' not in before:  # the sidecar has the signal: its drain began
            before += await asyncio.wait_for(proc.stdout.readline(), 30)
            assert before.endswith(b"\n"), before  # not EOF: the process runs on
        assert proc.returncode is None
        received = 0
        while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
            received += len(chunk)
        writer.close()
        await writer.wait_closed()
        assert received >= len(BIG_REPLY)
        out = before + await asyncio.wait_for(proc.stdout.read(), 20)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    [line] = [line for line in map(orjson.loads, out.splitlines()) if line.get("event") == "access"]
    assert line["status"] == 200


def failing_stage() -> Callable[[Exchange, Callable[[Exchange], Awaitable[web.StreamResponse]]], Awaitable[Any]]:
    """A plug-in stage with a bug: it leaves on the exchange a value the access line's JSON writer
    cannot write (bytes), so the request's bookkeeping raises."""

    async def stage(exchange: Exchange, next_stage: Callable[[Exchange], Awaitable[web.StreamResponse]]) -> Any:
        response = await next_stage(exchange)
        exchange.hedge_cut = b"\xff"  # type: ignore[assignment]
        return response

    return stage


async def test_a_failure_in_the_bookkeeping_reaches_neither_the_app_nor_its_connection(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The bookkeeping raises: the app gets its answer (200) and its connection stays open for the next
    request; each failure is logged once (``bookkeeping_error``, with the request id)."""
    running = await sidecar(policy(await fake("f")), stages=[failing_stage()])
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(running))
    answers = []
    for _ in range(2):  # the same connection, one request after the other
        writer.write(post())
        answers.append(await read_response(reader))
    writer.close()
    assert [status for status, _, _ in answers] == [200, 200]
    assert all(orjson.loads(body)["choices"] for _, _, body in answers)
    errors = [line for line in running.log_lines() if line.get("level") == "error"]
    assert [line["event"] for line in errors] == ["bookkeeping_error"] * 2
    assert {line["request_id"] for line in errors} == {headers["x-sidecar-request-id"] for _, headers, _ in answers}


def priced_policy(url: str, extra: str = "") -> str:
    """``policy`` with a price on the model (the access line's cost), and ``extra`` on its route."""
    text = policy(url).replace("model: up}", "model: up, price: {input_per_mtok: 1, output_per_mtok: 2}}")
    return text.replace("target: m}", f"target: m{extra}}}")


@pytest.mark.parametrize("route", ["plain", "cached"])
async def test_an_answers_usage_reaches_its_access_line_metrics_and_client_span(
    fake: FakeFactory, sidecar: SidecarFactory, route: str
) -> None:
    """A proxied answer's usage (read by the handler just before the answer's head on a route no stage
    reads it before; as it passes on a cached one): the access line's tokens and cost, the token metric
    and the CLIENT span's usage attributes say what the provider reported."""
    extra = ", cache: {enabled: true, cacheable: always, ttl_s: 60}" if route == "cached" else ""
    running = await sidecar(priced_policy(await fake("f"), extra))
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(running))
    writer.write(post())
    status, _, body = await read_response(reader)
    writer.close()
    usage = orjson.loads(body)["usage"]
    sent = (usage["prompt_tokens"], usage["completion_tokens"])
    assert status == 200 and min(sent) > 0
    [line] = await until(lambda: access_lines(running))
    assert (line["input_tokens"], line["output_tokens"]) == sent
    assert line["cost_usd"] == round((sent[0] * 1 + sent[1] * 2) / 1e6, 8)
    samples = await metric_samples(running)
    assert samples["gen_ai_client_token_usage_sum"] == sum(sent)
    [client] = [span for span in running.spans.get_finished_spans() if span.kind.name == "CLIENT"]
    assert client.attributes is not None
    assert (client.attributes["gen_ai.usage.input_tokens"], client.attributes["gen_ai.usage.output_tokens"]) == sent


async def test_an_app_that_hangs_up_while_its_answer_is_written_still_has_its_usage_logged(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The app reads the head of a large answer and closes the connection: its access line still has the
    tokens and cost of the answer it was sent (read before its head, logged after the app left)."""
    running = await sidecar(priced_policy(await fake("f", reply=BIG_REPLY)))
    await hang_up_after_the_head(running)
    [line] = access_lines(running)
    assert line["status"] == 200 and line["input_tokens"] > 0 and line["output_tokens"] > 0
    assert line["cost_usd"] == round((line["input_tokens"] * 1 + line["output_tokens"] * 2) / 1e6, 8)


async def test_the_answering_calls_breaker_success_follows_the_answer_with_the_calls_own_duration(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """While a large answer is being written (the app pauses), its target's breaker has not counted the
    call yet; once the app took it, one call, no failure, and not slow: its duration is the call's own,
    not the pause (``slow_call_s`` between the two).

    The pause is made longer than the call could have been, however slow a loaded machine makes it."""
    breaker = "defaults:\n  breaker: {window_size: 10, minimum_calls: 100, slow_call_s: 0.4}\n"
    running = await sidecar(policy(await fake("f", reply=BIG_REPLY)) + breaker)
    reader, writer = await open_slow_reader(port_of(running))
    sent = time.monotonic()
    writer.write(post())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    call_bound_s = time.monotonic() - sent
    [connection] = running.listener.connections
    await until(lambda: connection.writing_paused)  # the buffers are full: the sidecar's write waits for the app
    await asyncio.sleep(0.5)  # the pause the call's duration must not count (the quantity measured)
    during = running.state.targets.snapshot()["p/up"]["breaker"]
    await read_body(reader, head)
    writer.close()
    await until(lambda: access_lines(running))  # the bookkeeping is done
    after = running.state.targets.snapshot()["p/up"]["breaker"]
    assert during["calls_in_window"] == 0
    assert (after["calls_in_window"], after["failures_in_window"]) == (1, 0)
    if call_bound_s < 0.4:  # a call slower than slow_call_s on a loaded machine is slow of itself
        assert after["slow_calls_in_window"] == 0


async def test_an_app_that_hangs_up_while_its_answer_is_written_still_has_its_call_counted(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The app reads the head of a large answer and closes the connection: its call still reaches its
    target's breaker as a success (counted after the answer, which the app left)."""
    running = await sidecar(policy(await fake("f", reply=BIG_REPLY)))
    await hang_up_after_the_head(running)
    await until(lambda: access_lines(running))
    breaker = running.state.targets.snapshot()["p/up"]["breaker"]
    assert (breaker["calls_in_window"], breaker["failures_in_window"], breaker["state"]) == (1, 0, "closed")
