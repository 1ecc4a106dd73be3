"""A provider whose stream chunks carry fields of the wrong type (a number or a list for content, an
object for tool arguments, a number for a tool's name): the stream decoder reads what has the right type
and skips the rest, so a caller whose stream is decoded (translated to another dialect, or tapped for a
shadow comparison) gets its answer, never a 500 or a stream cut by an internal error. A raw upstream
writes the chunks; a real sidecar relays them."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory, chunked
from ..waiting import until

CHUNK = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def chunk(delta: Any, finish: Any = None) -> dict[str, Any]:
    return {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


LIES = {
    "content a number": chunk({"content": 5}),
    "content a list": chunk({"content": [{"type": "text", "text": "a"}]}),
    "refusal a number": chunk({"refusal": 5}),
    "tool arguments an object": chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": {"a": 1}}}]}),
    "tool name a number": chunk({"tool_calls": [{"index": 0, "id": 5, "function": {"name": 5, "arguments": "{}"}}]}),
    "tool index a list": chunk({"tool_calls": [{"index": [0], "id": "c", "function": {"name": "f"}}]}),
    "finish reason a list": chunk({}, finish=[1]),
    "delta a string": chunk("hi"),
}


def streaming(sse: list[bytes]) -> Any:
    """A server answering every request with the events ``sse``, chunked."""

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(chunked(*sse, headers="content-type: text/event-stream\r\n"))

    return handler


def liar(lie: dict[str, Any]) -> Any:
    """An OpenAI server streaming "hi", then the lie, then a stop and its usage."""
    events = [chunk({"role": "assistant", "content": "hi"}), lie, chunk({}, finish="stop")]
    events.append({**CHUNK, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    sse = [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    return streaming(sse)


def shadowed_policy(served: str, candidate: str, dialect: str = "openai") -> str:
    suffix = "/v1" if dialect == "openai" else ""  # anthropic, gemini: the host alone
    return (
        "version: 1\nproviders:\n"
        f"  p0: {{dialect: {dialect}, base_url: '{served}{suffix}', api_key: {{env: KEY}}}}\n"
        f"  p1: {{dialect: {dialect}, base_url: '{candidate}{suffix}', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p0, model: up0}\n  m1: {provider: p1, model: up1}\n"
        "routes:\n  - {name: r, match: {model: r}, target: [m0], shadow: {candidates: [m1], sample: 1.0}}\n"
    )


CALLERS = {
    "openai": ("/v1/chat/completions", {}, b"hi"),
    "anthropic": ("/v1/messages", {"anthropic-version": "2023-06-01"}, b'"text":"hi"'),
}


async def assert_served(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, handler: Any, dialect: str, caller: str
) -> None:
    """Two upstreams (served and shadow candidate) answering with ``handler``: the caller's stream is a
    200 holding "hi" and ending cleanly, no internal error is logged, and the candidate's call (in the
    background) ends without failing inside."""
    upstreams = [await raw_upstream(handler) for _ in range(2)]
    running = await sidecar(shadowed_policy(upstreams[0].base, upstreams[1].base, dialect), env={"KEY": "sk-x"})
    path, headers, text = CALLERS[caller]
    body = {"model": "r", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=headers) as answer,
    ):
        status, streamed = answer.status, await answer.read()
    assert status == 200 and text in streamed
    assert b"[DONE]" in streamed or b"message_stop" in streamed
    # the served stream was relayed whole (the lie skipped), so the candidate was asked, in the background:
    # its call (the same lie, answered to a request not streamed) has run to its end without failing inside
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    await running.shadow_calls_ended()
    assert line["shadow"] == "sampled" and upstreams[1].requests
    assert "shadow_failed" not in running.logs.getvalue().decode()
    assert "internal_error" not in running.logs.getvalue().decode()


def block(index: Any, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def block_delta(delta: dict[str, Any], index: Any = 0) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


ANTHROPIC_LIES = {
    "text a number": block_delta({"type": "text_delta", "text": 5}),
    "text block a list": block(1, {"type": "text", "text": [1]}),
    "thinking a number": block(1, {"type": "thinking", "thinking": 5}),
    "tool name a number": block(1, {"type": "tool_use", "id": 5, "name": 5, "input": {}}),
    "tool json a number": block_delta({"type": "input_json_delta", "partial_json": 5}, index=1),
    "stop reason a list": {"type": "message_delta", "delta": {"stop_reason": [1]}},
}


def anthropic_liar(lie: dict[str, Any]) -> Any:
    """An Anthropic server streaming "hi", a tool block, then the lie, then the end."""
    message = {"id": "msg_x", "type": "message", "role": "assistant", "content": [], "model": "m"}
    message["usage"] = {"input_tokens": 1, "output_tokens": 0}
    events = [
        {"type": "message_start", "message": message},
        block(0, {"type": "text", "text": ""}),
        block_delta({"type": "text_delta", "text": "hi"}),
        lie,
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
        {"type": "message_stop"},
    ]
    sse = [f"event: {e['type']}\ndata: ".encode() + orjson.dumps(e) + b"\n\n" for e in events]
    return streaming(sse)


def candidate(part: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0, **extra}]}


GEMINI_LIES = {
    "text a number": candidate({"text": 5}),
    "text a list": candidate({"text": [1]}),
    "thought a number": candidate({"text": 5, "thought": True}),
    "call name a number": candidate({"functionCall": {"id": 5, "name": 5, "args": {}}}),
    "finish reason a list": candidate({"text": ""}, finishReason=[1]),
}


def gemini_liar(lie: dict[str, Any]) -> Any:
    """A Gemini server streaming "hi", then the lie, then a stop with its usage."""
    usage = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}
    events = [candidate({"text": "hi"}), lie, {**candidate({"text": ""}, finishReason="STOP"), "usageMetadata": usage}]
    sse = [b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events]
    return streaming(sse)


SERVERS = {
    **{f"openai: {lie}": ("openai", liar(event)) for lie, event in LIES.items()},
    **{f"anthropic: {lie}": ("anthropic", anthropic_liar(event)) for lie, event in ANTHROPIC_LIES.items()},
    **{f"gemini: {lie}": ("gemini", gemini_liar(event)) for lie, event in GEMINI_LIES.items()},
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("server", SERVERS)
async def test_an_event_of_the_wrong_shape_is_skipped(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, server: str, caller: str
) -> None:
    """From an OpenAI, Anthropic or Gemini upstream, to an OpenAI or Anthropic caller: the caller's stream
    is a 200 holding "hi" and ending cleanly; no internal error is logged."""
    dialect, handler = SERVERS[server]
    await assert_served(raw_upstream, sidecar, handler, dialect, caller)
