"""A stream the drain timeout cuts while its write is blocked (the app stopped reading: the sockets'
buffers are full), with a real sidecar process and SIGTERM: the access line says the drain cut it
(503, ``drain_cut``), as for a stream cut between writes, not a success."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import orjson

from ..listening import port_zero, wait_ports
from ..upstream.raw import ServerConn, UpstreamFactory

CHUNK = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
EVENT = b"data: " + orjson.dumps({**CHUNK, "choices": [{"index": 0, "delta": {"content": "w" * 900}}]}) + b"\n\n"


async def endless(conn: ServerConn) -> None:
    """An OpenAI upstream streaming 1 KB events as fast as the sidecar takes them, for 60 s at most."""
    if await conn.read_request() is None:
        return
    await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    first = {**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]}
    head = b"data: " + orjson.dumps(first) + b"\n\n"
    await conn.send(f"{len(head):x}\r\n".encode() + head + b"\r\n")
    payload = f"{len(EVENT) * 16:x}\r\n".encode() + EVENT * 16 + b"\r\n"
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    try:
        while loop.time() < end:
            await conn.send(payload)
    except ConnectionError:
        pass


async def test_a_stream_whose_write_is_blocked_at_the_drain_timeout_is_logged_drain_cut(
    raw_upstream: UpstreamFactory, tmp_path: Path
) -> None:
    """An app that reads the stream's head and then nothing (a 4 KB receive buffer) while the upstream
    streams on: at SIGTERM's drain timeout (1 s) the sidecar's write waits for the app's full socket.
    The access line says 503, ``drain_cut`` (it said 500: aiohttp's wait for the socket, cancelled with
    the handler, stays cancelled, and the drain's own error event met it), and the sidecar exits 0."""
    upstream = await raw_upstream(endless)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        f"  up: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: up, model: m}\n"
    )
    ports, log = tmp_path / "sidecar.ports", tmp_path / "sidecar.log"
    env = {**os.environ, "SIDECAR_DRAIN_TIMEOUT_S": "1", "SIDECAR_LOG_LEVEL": "info", "KEY": "k"}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports), env=env, stdout=out
        )
    try:
        port = (await asyncio.to_thread(wait_ports, ports, proc, log))["port"]
        app = socket.socket()
        app.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        app.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(app, ("127.0.0.1", port))
        body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
        head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n"
        await loop.sock_sendall(app, head.encode() + body)
        assert (await asyncio.wait_for(loop.sock_recv(app, 1024), 10)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(1.5)  # the app reads no more: the sidecar's write blocks
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=15)
        app.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    (line,) = [line for line in lines if line.get("event") == "access"]
    assert (line["status"], line["outcome"], line["stream_error"]) == (503, "drain_cut", "drain_cut")
