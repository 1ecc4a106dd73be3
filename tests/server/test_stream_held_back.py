"""What the relay holds back before the commit point (server.stream) is sent once, and a failure before
it counts it once: a raw upstream writes the stream's events in chosen reads, the OpenAI SDK reads it."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson

from sidecar.routing.tokens import estimate_joined

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from ..upstream.raw import ServerConn, UpstreamFactory
from .budget_policies import budget_rows

HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n"
MESSAGES: Any = [{"role": "user", "content": "Label this ticket."}]


def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One OpenAI chat chunk as an SSE event."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": [choice]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def framed(data: bytes) -> bytes:
    """``data`` as one HTTP chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def policy(upstream: str, routes: str, fallback: str | None = None) -> str:
    """m0 on the raw upstream (OpenAI), m1 on ``fallback`` (a fake) if given, and ``routes``."""
    text = f"version: 1\nproviders:\n  raw: {{dialect: openai, base_url: '{upstream}/v1', api_key: {{env: KEY}}}}\n"
    text += provider_block("good", fallback, "openai") if fallback else ""
    text += "models:\n  m0: {provider: raw, model: up, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
    text += "  m1: {provider: good, model: g}\n" if fallback else ""
    return text + "routes:\n" + routes


async def test_a_stream_committed_for_holding_too_much_preamble_sends_it_once(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """40 role-only chunks in one read, more than the relay holds back before content: the stream commits
    with them, and the app gets each once (before: the read that overflowed was sent twice)."""
    preamble = event({"role": "assistant", "content": ""}) * 40
    rest = event({"content": "hello"}) + event({}, "stop") + b"data: [DONE]\n\n"

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(HEAD + framed(preamble))
            await asyncio.sleep(0.3)  # the preamble is read alone
            await conn.send(framed(rest) + b"0\r\n\r\n")

    upstream = await raw_upstream(handler)
    running = await sidecar(policy(upstream.base, "  - {match: {model: chain}, target: [m0]}\n"), env={"KEY": "k"})
    client = sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key")
    stream = await client.chat.completions.create(model="chain", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    await client.close()
    roles = [c for c in chunks if c.choices and c.choices[0].delta.role and not c.choices[0].delta.content]
    assert len(roles) == 40
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello"


async def test_a_held_stream_cut_after_one_read_counts_its_text_once(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A gated route holds the stream whole; the first target's, all its content in one read and then cut,
    is charged its prompt and its text once (before: the last read's text was counted twice)."""
    pieces = [" ".join(f"word{i}x{j}" for j in range(30)) + " " for i in range(20)]
    body = event({"role": "assistant", "content": ""}) + b"".join(event({"content": p}) for p in pieces)

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(HEAD + framed(body))
            await asyncio.sleep(0.3)  # read whole, then the connection is cut mid-stream
            conn.reset()
            return

    upstream = await raw_upstream(handler)
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    answer_format: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": schema}}
    routes = "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {}\n"
    limits = "budgets:\n  limits:\n    - {name: tokens-month, measure: tokens, amount: 1000000, window: month}\n"
    good = await fake("f1", reply='{"label": "bug"}')
    running = await sidecar(policy(upstream.base, routes, good) + limits, env={"KEY": "k"})
    client = sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key")
    stream = await client.chat.completions.create(
        model="gated",
        messages=MESSAGES,
        response_format=answer_format,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    await client.close()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == '{"label": "bug"}'
    usage = chunks[-1].usage
    assert usage is not None
    used = (await budget_rows(running))["tokens-month/*"]["used"]
    failed = used - usage.prompt_tokens - usage.completion_tokens
    text = estimate_joined(pieces)
    assert 0 < failed - text < text / 2  # the prompt's estimate (the schema in it) beside the text, once
