"""Cached answers served in every dialect, streamed or whole, with the official SDKs: an entry made from
one wire dialect's answer replayed to a caller of another, tool calls, usage and reasoning kept."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client, sdk_client
from ..translate import streams
from ..upstream.raw import ServerConn, UpstreamFactory, chunked, serve_forever
from .cache_helpers import cache_policy, upstream_calls

WEATHER_TOOLS = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}},
]


async def anthropic_upstream(raw_upstream: UpstreamFactory) -> Any:
    """A raw Anthropic upstream that streams the recorded answer with thinking, text and two tool calls."""
    answer = chunked(streams.ANTHROPIC_TOOLS.encode(), headers="content-type: text/event-stream\r\n")

    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    return await raw_upstream(handler)


async def anthropic_stream(url: str) -> tuple[Any, list[str], dict[str, str]]:
    """One streamed Anthropic request: the final message, the text deltas, the response headers."""
    async with (
        sdk_client(anthropic.AsyncAnthropic, base_url=url, api_key="x") as client,
        client.messages.stream(
            model="cached",
            max_tokens=1024,
            messages=[{"role": "user", "content": "weather in Boston?"}],
            tools=WEATHER_TOOLS,
            extra_body={"temperature": 0},
        ) as stream,
    ):
        deltas = [
            e.delta.text async for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"
        ]
        final = await stream.get_final_message()
        headers = dict(stream.response.headers)
    return final, deltas, headers


async def test_an_anthropic_stream_is_replayed_with_thinking_tools_and_usage(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A streamed Anthropic answer (thinking with its signature, text, two tool calls) is replayed from the
    cache to the Anthropic SDK block for block, with its usage and the original text fragments."""
    upstream = await anthropic_upstream(raw_upstream)
    running = await sidecar(cache_policy([upstream.base], speaks="anthropic"))
    live, live_deltas, live_headers = await anthropic_stream(running.url)
    cached, cached_deltas, cached_headers = await anthropic_stream(running.url)
    assert (live_headers["x-sidecar-cache"], cached_headers["x-sidecar-cache"]) == ("miss", "hit")
    assert len(upstream.requests) == 1
    assert [b.model_dump() for b in cached.content] == [b.model_dump() for b in live.content]
    assert [b.type for b in cached.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert cached.content[0].signature == "EqQBCgIYAhIM"
    assert cached.stop_reason == "tool_use"
    assert (cached.usage.input_tokens, cached.usage.output_tokens) == (82, 41)
    assert cached_deltas == live_deltas


async def test_an_anthropic_answer_is_replayed_to_an_openai_stream_with_tool_calls_and_usage(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An answer an Anthropic upstream streamed to an OpenAI caller is stored in the common form and
    replayed as an OpenAI stream: the same tool calls and reasoning, usage with include_usage."""
    upstream = await anthropic_upstream(raw_upstream)
    running = await sidecar(cache_policy([upstream.base], speaks="anthropic"))

    async def one() -> tuple[list[Any], str]:
        async with openai_client(running) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="cached",
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
                messages=[{"role": "user", "content": "weather in Boston?"}],
            )
            chunks = [chunk async for chunk in raw.parse()]
        return chunks, raw.headers["x-sidecar-cache"]

    live, live_state = await one()
    cached, cached_state = await one()
    assert (live_state, cached_state) == ("miss", "hit")
    assert len(upstream.requests) == 1

    def summary(chunks: list[Any]) -> tuple[Any, ...]:
        calls: dict[int, list[str]] = {}
        reasoning = text = ""
        for chunk in chunks:
            for choice in chunk.choices:
                delta = choice.delta
                text += delta.content or ""
                reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
                for call in delta.tool_calls or ():
                    entry = calls.setdefault(call.index, ["", ""])
                    entry[0] += (call.function and call.function.name) or ""
                    entry[1] += (call.function and call.function.arguments) or ""
        usage = chunks[-1].usage
        finish = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
        return text, reasoning, calls, finish, (usage.prompt_tokens, usage.completion_tokens)

    assert summary(cached) == summary(live)
    text, _, calls, finish, usage = summary(cached)
    assert text == "Let me check." and finish == ["tool_calls"] and usage == (82, 41)
    assert [name for name, _ in calls.values()] == ["get_weather", "get_time"]


async def test_a_gemini_caller_gets_a_stream_from_an_entry_a_whole_answer_made(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai: a whole answer (from an OpenAI upstream) is stored, and the same request streamed
    is served from it, word by word, with its usage."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    whole = await client.aio.models.generate_content(model="cached", contents="summarise the report", config=config)
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model="cached", contents="summarise the report", config=config
        )
    ]
    assert await upstream_calls(running, url) == 1
    assert len(chunks) > 1
    assert "".join(chunk.text or "" for chunk in chunks) == whole.text
    assert chunks[-1].usage_metadata.candidates_token_count == whole.usage_metadata.candidates_token_count


async def test_an_openai_caller_gets_a_whole_answer_from_an_entry_a_stream_made(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The OpenAI SDK: a streamed answer (from a Gemini upstream) is stored, and the same request without
    stream is served from it whole."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks="gemini"))
    messages = [{"role": "user", "content": "stream then ask whole"}]
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(model="cached", temperature=0, messages=messages, stream=True)
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        raw = await client.chat.completions.with_raw_response.create(model="cached", temperature=0, messages=messages)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert raw.parse().choices[0].message.content == streamed
    assert await upstream_calls(running, url) == 1


async def test_whole_hits_in_every_dialect_are_sdk_answers_with_fresh_ids(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Repeated whole hits (served from the body kept for the caller's dialect) parse with each official
    SDK as the live answer did: the same text and usage, the upstream's model, a fresh id every time."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    async with openai_client(running) as client:
        openai_answers = [
            await client.chat.completions.create(
                model="cached", temperature=0, messages=[{"role": "user", "content": "hi"}]
            )
            for _ in range(3)
        ]
    async with anthropic_client(running) as client:
        anthropic_answers = [
            await client.messages.create(
                model="cached",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"temperature": 0},
            )
            for _ in range(3)
        ]
    gemini = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    gemini_answers = [
        await gemini.aio.models.generate_content(model="cached", contents="hi", config=config) for _ in range(3)
    ]
    assert await upstream_calls(running, url) == 3  # one per dialect: each caller dialect has its own entry
    for answers, ident, text, usage in (
        (openai_answers, "id", lambda a: a.choices[0].message.content, lambda a: a.usage.completion_tokens),
        (anthropic_answers, "id", lambda a: a.content[0].text, lambda a: a.usage.output_tokens),
        (gemini_answers, "response_id", lambda a: a.text, lambda a: a.usage_metadata.candidates_token_count),
    ):
        live, *hits = answers
        assert len({getattr(a, ident) for a in answers}) == 3
        for hit in hits:
            assert (text(hit), usage(hit)) == (text(live), usage(live))


async def test_streamed_hits_in_every_dialect_are_sdk_streams_with_fresh_ids(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Repeated streamed hits (the stream rendered once and kept, then written again with a fresh id)
    read with each official SDK as the live stream did: the same text and usage, a new id each time."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    openai_reads = []
    async with openai_client(running) as client:
        for _ in range(3):
            stream = await client.chat.completions.create(
                model="cached",
                temperature=0,
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            openai_reads.append((chunks[0].id, text, chunks[-1].usage.completion_tokens))  # type: ignore[union-attr]
    anthropic_reads = []
    async with anthropic_client(running) as client:
        for _ in range(3):
            async with client.messages.stream(
                model="cached",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"temperature": 0},
            ) as events:
                message = await events.get_final_message()
            anthropic_reads.append((message.id, message.content[0].text, message.usage.output_tokens))  # type: ignore[union-attr]
    gemini = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    gemini_reads = []
    for _ in range(3):
        stream = await gemini.aio.models.generate_content_stream(model="cached", contents="hi", config=config)
        chunks = [c async for c in stream]
        usage = chunks[-1].usage_metadata
        assert usage is not None
        text = "".join(c.text or "" for c in chunks)
        gemini_reads.append((chunks[0].response_id, text, usage.candidates_token_count))
    assert await upstream_calls(running, url) == 3  # one per dialect: each caller dialect has its own entry
    for reads in (openai_reads, anthropic_reads, gemini_reads):
        assert len({ident for ident, _, _ in reads}) == 3
        live, *hits = reads
        assert live[1]
        for hit in hits:
            assert hit[1:] == live[1:]


async def _streamed_model(running_url: str, dialect: str, gemini_client: Any) -> tuple[str, str | None]:
    """One streamed request of a ``dialect`` SDK: its x-sidecar-cache and the model the stream names."""
    if dialect == "openai":
        async with sdk_client(openai.AsyncOpenAI, base_url=f"{running_url}/v1", api_key="x") as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="cached", temperature=0, stream=True, messages=[{"role": "user", "content": "weather?"}]
            )
            chunks = [chunk async for chunk in raw.parse()]
        return raw.headers["x-sidecar-cache"], chunks[0].model
    if dialect == "anthropic":
        final, _, headers = await anthropic_stream(running_url)
        return headers["x-sidecar-cache"], final.model
    client = gemini_client(running_url)
    config = types.GenerateContentConfig(temperature=0)
    stream = await client.aio.models.generate_content_stream(model="cached", contents="weather?", config=config)
    pieces = [piece async for piece in stream]
    return pieces[0].sdk_http_response.headers["x-sidecar-cache"], pieces[0].model_version


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini"])
async def test_a_streamed_hit_names_the_model_the_live_stream_named(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, dialect: str
) -> None:
    """A provider streams its dated model name (``gpt-4o-mini-2024-07-18`` for the target's ``up0``): the
    SDK of its dialect reads that name from the streamed hit too, as from the live stream (a stored
    stream's entry kept the target's ``up0``, where a stored whole answer's kept the provider's name)."""
    answer = chunked(streams.UPSTREAM[(dialect, "tools")].encode(), headers="content-type: text/event-stream\r\n")

    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    upstream = await raw_upstream(handler)
    running = await sidecar(cache_policy([upstream.base], speaks=dialect))
    live = await _streamed_model(running.url, dialect, gemini_client)
    hit = await _streamed_model(running.url, dialect, gemini_client)
    assert len(upstream.requests) == 1
    assert (live[0], hit[0]) == ("miss", "hit")
    assert live[1] not in (None, "up0")
    assert hit[1] == live[1]
