"""A streamed OpenAI hit's ``obfuscation`` padding, read by openai-python: drawn afresh for every hit (as
OpenAI draws it per chunk), and there when the entry came from a whole OpenAI answer and the caller left
``stream_options.include_obfuscation`` at its default (on)."""

from __future__ import annotations

from typing import Any

import orjson

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, whole_or_streamed
from .cache_helpers import cache_policy, upstream_calls

PROMPT = "tell me about the weather in four short words"


async def _stream(running: RunningSidecar, **options: Any) -> list[dict[str, Any]]:
    """A streamed chat completion through openai-python (usage asked, ``options`` added to
    ``stream_options``): each chunk's ``model_dump``."""
    async with openai_client(running) as client:
        chunks = await client.chat.completions.create(
            model="cached",
            temperature=0,
            stream=True,
            stream_options={"include_usage": True, **options},
            messages=[{"role": "user", "content": PROMPT}],
        )
        return [chunk.model_dump() async for chunk in chunks]


def _padded_events() -> list[bytes]:
    """An OpenAI stream as OpenAI writes it by default, each chunk with ``obfuscation`` characters."""
    head = {"id": "chatcmpl-CdXy", "object": "chat.completion.chunk", "created": 1764990000, "model": "gpt-4o-mini"}
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": ""}, None),
        *(({"content": word}, None) for word in ("sunny ", "and ", "mild ", "today")),
        ({}, "stop"),
    ]
    chunks = [
        {**head, "choices": [{"index": 0, "delta": d, "finish_reason": f}], "usage": None, "obfuscation": "Qx7"[:n]}
        for n, (d, f) in enumerate(deltas, 1)
    ]
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    chunks.append({**head, "choices": [], "usage": usage, "obfuscation": "p"})
    return [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks] + [b"data: [DONE]\n\n"]


async def test_two_streamed_hits_of_one_entry_are_padded_with_different_characters(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A padded OpenAI stream stored in memory, then asked twice more: both hits pad every chunk, with
    characters drawn for that hit (the two hits' paddings differ, as two live streams' would)."""
    upstream = await raw_upstream(whole_or_streamed(b"", _padded_events(), lambda request: True))
    running = await sidecar(cache_policy([upstream.base + "/v1"]))
    await _stream(running)
    first = [chunk["obfuscation"] for chunk in await _stream(running)]
    second = [chunk["obfuscation"] for chunk in await _stream(running)]
    assert len(upstream.requests) == 1
    assert all(isinstance(padding, str) and padding for padding in first + second)
    assert [len(padding) for padding in first] == [len(padding) for padding in second]
    assert first != second


async def test_a_whole_openai_answer_streamed_from_the_cache_is_padded_unless_turned_off(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A whole OpenAI answer stored, then asked as a stream with OpenAI's default (padding on): every
    chunk of the hit has ``obfuscation`` characters; asked with ``include_obfuscation: false``, none."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    async with openai_client(running) as client:
        await client.chat.completions.create(
            model="cached", temperature=0, messages=[{"role": "user", "content": PROMPT}]
        )
    padded = await _stream(running)
    bare = await _stream(running, include_obfuscation=False)
    assert await upstream_calls(running, url) == 1
    assert all(isinstance(chunk["obfuscation"], str) and chunk["obfuscation"] for chunk in padded)
    assert [chunk["obfuscation"] for chunk in bare] == [None] * len(padded)
    assert [chunk["choices"] for chunk in bare] == [chunk["choices"] for chunk in padded]
