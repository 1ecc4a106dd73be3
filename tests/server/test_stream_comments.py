"""SSE comments (``: keep-alive``) an upstream writes between events after the first content reach an
OpenAI or Anthropic app, whose SDKs skip them, also when the relay reads the events one by one (a
translated stream, a read it must look into); before 2026-12-05 those were dropped, and only a read the
relay forwarded unparsed kept them. A Gemini app never gets one: google-genai fails on a comment line
(``UnknownApiResponseError``). Before the first content the caller has no stream yet: comments then go
nowhere. A raw upstream writes the events, each list item one write (one read for the sidecar)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, paced

COMMENT = b": keep-alive\n\n"
CHUNK = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "usage": None}


def openai_event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """An OpenAI chunk with ``"usage": null`` (as OpenAI sends it when usage is asked): a read the relay
    must look into."""
    chunk = {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


OPENAI_READS = [
    COMMENT,
    openai_event({"role": "assistant", "content": ""}),
    COMMENT,
    openai_event({"content": "one "}),
    COMMENT,
    openai_event({"content": "two"}) + COMMENT,
    openai_event({}, finish="stop") + b"data: [DONE]\n\n",
]


def anthropic_event(name: str, body: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **body}) + b"\n\n"


ANTHROPIC_READS = [
    COMMENT,
    anthropic_event(
        "message_start",
        {"message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "up", "content": []}},
    ),
    anthropic_event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    COMMENT,
    anthropic_event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "one "}}),
    COMMENT,
    anthropic_event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "two"}}) + COMMENT,
    anthropic_event("content_block_stop", {"index": 0})
    + anthropic_event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}})
    + anthropic_event("message_stop", {}),
]


async def sidecar_for(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, dialect: str, reads: list[bytes]
) -> RunningSidecar:
    """The sidecar in front of an upstream of ``dialect`` writing ``reads`` (model ``m``)."""
    upstream = await raw_upstream(paced(reads))
    base = f"{upstream.base}/v1" if dialect == "openai" else upstream.base
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: up}\n"
    )
    return await sidecar(policy, env={"KEY": "sk-x"})


async def raw_stream(running: RunningSidecar, path: str, body: dict[str, Any]) -> bytes:
    async with aiohttp.ClientSession() as session, session.post(running.url + path, json=body) as got:
        assert got.status == 200
        return await got.read()


OPENAI_BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC_BODY = {**OPENAI_BODY, "max_tokens": 50}


async def test_comments_after_the_first_content_reach_an_openai_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A same-dialect stream whose reads the relay looks into (``"usage": null`` in each) passes on the
    two comments after the first content event, not the two before it; openai-python reads the text."""
    running = await sidecar_for(raw_upstream, sidecar, "openai", OPENAI_READS)
    streamed = await raw_stream(running, "/v1/chat/completions", OPENAI_BODY)
    assert streamed.count(COMMENT) == 2 and streamed.endswith(b"data: [DONE]\n\n")
    assert not streamed.startswith(COMMENT)
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(**OPENAI_BODY)  # type: ignore[call-overload]
        text = "".join([c.delta.content or "" async for chunk in stream for c in chunk.choices])
    assert text == "one two"


async def test_comments_pass_through_a_translated_stream_to_an_anthropic_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI upstream's comments after the first content reach an Anthropic app, whose SDK skips them."""
    running = await sidecar_for(raw_upstream, sidecar, "openai", OPENAI_READS)
    streamed = await raw_stream(running, "/v1/messages", ANTHROPIC_BODY)
    assert streamed.count(COMMENT) == 2 and b"event: message_stop" in streamed
    async with anthropic_client(running) as client:
        request = {key: value for key, value in ANTHROPIC_BODY.items() if key != "stream"}
        async with client.messages.stream(**request) as stream:  # type: ignore[arg-type]
            message = await stream.get_final_message()
    assert message.content[0].text == "one two"  # type: ignore[union-attr]


async def test_comments_pass_through_a_translated_stream_to_an_openai_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic upstream's comments after the first content reach an OpenAI app."""
    running = await sidecar_for(raw_upstream, sidecar, "anthropic", ANTHROPIC_READS)
    streamed = await raw_stream(running, "/v1/chat/completions", OPENAI_BODY)
    assert streamed.count(COMMENT) == 2 and streamed.endswith(b"data: [DONE]\n\n")
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(**OPENAI_BODY)  # type: ignore[call-overload]
        text = "".join([c.delta.content or "" async for chunk in stream for c in chunk.choices])
    assert text == "one two"


GEMINI_PATH = "/v1beta/models/m:streamGenerateContent?alt=sse"
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def gemini_event(text: str, finish: str | None = None) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return b"data: " + orjson.dumps({"candidates": [candidate], "responseId": "r"}) + b"\n\n"


async def test_a_gemini_app_gets_no_comment(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini upstream's read of a comment alone after the first content is not passed on (it was,
    unparsed, before 2026-12-05), nor an OpenAI upstream's: google-genai reads the whole text."""
    gemini_reads = [gemini_event("one "), COMMENT, gemini_event("two", finish="STOP")]
    for dialect, reads in (("gemini", gemini_reads), ("openai", OPENAI_READS)):
        running = await sidecar_for(raw_upstream, sidecar, dialect, reads)
        assert COMMENT not in await raw_stream(running, GEMINI_PATH, GEMINI_BODY)
        models = gemini_client(running.url).aio.models
        text = [chunk.text or "" async for chunk in await models.generate_content_stream(model="m", contents="hi")]
        assert "".join(text) == "one two", dialect
