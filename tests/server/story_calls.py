"""One request to the route ``story`` (tests/server/one_story.py) through an official SDK of each
dialect, whole or streamed, read to its end: the answer's text and the response's headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..conftest import RunningSidecar
from ..sdk_clients import anthropic_client, openai_client


async def _openai(running: RunningSidecar, text: str, stream: bool, headers: dict[str, str]) -> tuple[str, Any]:
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="story",
            messages=[{"role": "user", "content": text}],
            temperature=0,
            stream=stream,
            extra_headers=headers,
        )
        answer = raw.parse()
        if not stream:
            return answer.choices[0].message.content or "", raw.headers
        return "".join([c.choices[0].delta.content or "" async for c in answer if c.choices]), raw.headers


async def _anthropic(running: RunningSidecar, text: str, stream: bool, headers: dict[str, str]) -> tuple[str, Any]:
    async with anthropic_client(running) as client:
        raw = await client.messages.with_raw_response.create(
            model="story",
            max_tokens=200,
            extra_body={"temperature": 0},  # anthropic 2.x has no temperature argument
            messages=[{"role": "user", "content": text}],
            stream=stream,
            extra_headers=headers,
        )
        answer = await raw.parse()
        if not stream:
            return "".join(block.text for block in answer.content if block.type == "text"), raw.headers
        deltas = [e.delta async for e in answer if e.type == "content_block_delta"]
        pieces = [delta.text for delta in deltas if delta.type == "text_delta"]
        return "".join(pieces), raw.headers


def gemini_ask(make_client: Callable[[str | None], Any]) -> Any:
    """The Gemini form of ``ask`` for ``make_client`` (the ``gemini_client`` fixture)."""

    async def ask(running: RunningSidecar, text: str, stream: bool, headers: dict[str, str]) -> tuple[str, Any]:
        models = make_client(running.url).aio.models
        config = {"temperature": 0, "http_options": {"headers": headers}}
        if not stream:
            answer = await models.generate_content(model="story", contents=text, config=config)
            return answer.text or "", answer.sdk_http_response.headers
        stream_of = await models.generate_content_stream(model="story", contents=text, config=config)
        chunks = [chunk async for chunk in stream_of]
        return "".join(chunk.text or "" for chunk in chunks), chunks[0].sdk_http_response.headers

    return ask


ASKS = {"openai": _openai, "anthropic": _anthropic}


def asker(dialect: str, make_gemini: Callable[[str | None], Any]) -> Any:
    """``ask(running, text, stream, headers)`` in ``dialect``'s SDK."""
    return gemini_ask(make_gemini) if dialect == "gemini" else ASKS[dialect]
