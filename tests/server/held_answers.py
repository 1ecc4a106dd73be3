"""An OpenAI upstream that holds its answers until the test releases them, and the calls and waits the
single-flight tests make through the sidecar (raw HTTP: every field and header seen)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from ..conftest import RunningSidecar
from ..translate import streams
from ..translate.responses import openai_body
from ..upstream.raw import ServerConn, response
from .cache_helpers import PROMPT

WAITING = "{enabled: true, single_flight_wait_s: 10}"
ERROR = b'{"error": {"message": "bad request", "type": "invalid_request_error"}}'


def held(release: asyncio.Event, *, first_fails: bool = False) -> Callable[[ServerConn], Awaitable[None]]:
    """An OpenAI upstream that answers once ``release`` is set: a stream's first event at once, the rest
    then; a whole answer then (the very first request's a 400 with ``first_fails``)."""
    seen: list[int] = []

    async def handler(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            seen.append(1)
            first = len(seen) == 1
            if b'"stream":true' not in request.body:
                await release.wait()
                if first_fails and first:
                    await conn.send(response(ERROR, "400 Bad Request", "content-type: application/json\r\n"))
                else:
                    await conn.send(
                        response(orjson.dumps(openai_body("text")), headers="content-type: application/json\r\n")
                    )
                continue
            head, _, rest = streams.OPENAI_TEXT.encode().partition(b"\n\n")
            await conn.send(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n"
                + _chunk(head + b"\n\n")
            )
            await release.wait()
            try:
                await conn.send(_chunk(rest) + b"0\r\n\r\n")
            except ConnectionError:
                return

    return handler


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def call(session: aiohttp.ClientSession, running: RunningSidecar, stream: bool) -> tuple[int, str, str]:
    """One chat request: its status, x-sidecar-cache and the answer's text (whole or streamed)."""
    body = {"model": "cached", "messages": PROMPT, "temperature": 0, "stream": stream}
    async with session.post(f"{running.url}/v1/chat/completions", json=body) as answer:
        data = await answer.read()
        state = answer.headers["x-sidecar-cache"]
        if answer.status != 200:
            return answer.status, state, ""
    if not stream:
        return 200, state, orjson.loads(data)["choices"][0]["message"]["content"]
    events = [line[6:] for line in data.decode().splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    text = "".join(c["delta"].get("content") or "" for e in events for c in orjson.loads(e)["choices"])
    return 200, state, text


async def in_flight(running: RunningSidecar, count: int, *, below: bool = False) -> None:
    """Wait (at most 10 s) until ``count`` requests (or, ``below``, fewer) are in the sidecar."""
    for _ in range(1000):
        async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as answer:
            text = await answer.text()
        line = next(line for line in text.splitlines() if line.startswith("llm_sidecar_requests_in_flight "))
        if (float(line.split()[1]) < count) if below else (float(line.split()[1]) >= count):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"in flight never {'below' if below else 'reached'} {count} within 10 s")
