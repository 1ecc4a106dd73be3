"""A Gemini stream relayed to a Gemini app goes as the provider's bytes, while the sidecar counts from
its own reading of them: where the two could read an event differently, they must agree. An event whose
JSON names a key twice (``usageMetadata``, ``finishReason``): Python's ``json`` (google-genai's) and
orjson (the sidecar's) both keep the last one, so the tokens and cost the access line says are the ones
the app's SDK reads. A raw upstream writes the stream; google-genai reads it through a real sidecar."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, paced

PRICE = "{input_per_mtok: 1000000, output_per_mtok: 2000000}"  # $1 an input token, $2 an output token


def usage(prompt: int, candidates: int) -> bytes:
    return orjson.dumps({"promptTokenCount": prompt, "candidatesTokenCount": candidates})


def text(part: str, finish: bytes = b"") -> bytes:
    return b'{"candidates":[{"content":{"role":"model","parts":[{"text":"' + part.encode() + b'"}]},"index":0' + finish


async def gemini_sidecar(raw_upstream: UpstreamFactory, sidecar: SidecarFactory, events: list[bytes]) -> RunningSidecar:
    """The sidecar in front of a Gemini upstream writing ``events`` (model ``m``)."""
    upstream = await raw_upstream(paced([b"data: " + event + b"\r\n\r\n" for event in events]))
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: KEY}}}}\n"
        f"models:\n  m: {{provider: p, model: up, price: {PRICE}}}\n"
    )
    return await sidecar(policy, env={"KEY": "k"})


async def relayed(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, events: list[bytes]
) -> tuple[RunningSidecar, list[Any]]:
    """The sidecar in front of a Gemini upstream writing ``events``, and the chunks google-genai read."""
    running = await gemini_sidecar(raw_upstream, sidecar, events)
    models = gemini_client(running.url).aio.models
    chunks = [chunk async for chunk in await models.generate_content_stream(model="m", contents="hi")]
    return running, chunks


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


def test_python_json_and_orjson_keep_the_same_duplicate() -> None:
    """Both parsers keep a key's last value (the ground the relay stands on)."""
    data = b'{"usageMetadata":{"promptTokenCount":100},"usageMetadata":{"promptTokenCount":7}}'
    assert json.loads(data) == orjson.loads(data) == {"usageMetadata": {"promptTokenCount": 7}}


async def test_a_duplicated_usage_is_counted_as_the_app_reads_it(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The last event names ``usageMetadata`` twice: the access line's tokens and cost are the second's,
    which is also the usage google-genai gives the app."""
    last = text("two", b',"finishReason":"STOP"}],')
    last += b'"usageMetadata":' + usage(900, 900) + b',"usageMetadata":' + usage(3, 2) + b"}"
    running, chunks = await relayed(raw_upstream, sidecar, gemini_client, [text("one ", b"}]}"), last])
    read = chunks[-1].usage_metadata
    line = access_line(running)
    assert (read.prompt_token_count, read.candidates_token_count) == (3, 2)
    assert (line["input_tokens"], line["output_tokens"], line["cost_usd"]) == (3, 2, 7.0)


async def test_a_duplicated_finish_reason_is_read_as_the_app_reads_it(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A candidate naming ``finishReason`` twice (``MAX_TOKENS``, then ``STOP``): the app reads ``STOP``
    and the stream ends cleanly (``ok``), its text whole."""
    last = text("two", b',"finishReason":"MAX_TOKENS","finishReason":"STOP"}],"usageMetadata":')
    last += usage(3, 2) + b"}"
    running, chunks = await relayed(raw_upstream, sidecar, gemini_client, [text("one ", b"}]}"), last])
    assert "".join(chunk.text for chunk in chunks) == "one two"
    assert chunks[-1].candidates[0].finish_reason == "STOP"
    assert access_line(running)["outcome"] == "ok"


async def test_a_null_finish_reason_does_not_end_the_stream(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A fragment with ``"finishReason": null`` (as a server that writes every field may send) is not the
    last: the app gets the whole answer and the sidecar counts its usage (the stream used to end there,
    cleanly, the rest of the answer lost and no usage counted)."""
    last = text("two", b',"finishReason":"STOP"}],"usageMetadata":') + usage(3, 2) + b"}"
    first = text("one ", b',"finishReason":null}]}')
    running, chunks = await relayed(raw_upstream, sidecar, gemini_client, [first, last])
    assert "".join(chunk.text for chunk in chunks) == "one two"
    line = access_line(running)
    assert (line["outcome"], line["input_tokens"], line["output_tokens"]) == ("ok", 3, 2)


async def test_a_blocked_prompt_streams_its_block_reason(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A blocked prompt's stream (one fragment: ``promptFeedback.blockReason``, no candidate) reaches the
    app as Gemini sent it, the block reason in google-genai's ``prompt_feedback``; it used to end with a
    ``stream_truncated`` error event, which google-genai raised as a 502."""
    blocked = b'{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":' + usage(3, 0) + b',"modelVersion":"up"}'
    running, chunks = await relayed(raw_upstream, sidecar, gemini_client, [blocked])
    assert [chunk.prompt_feedback.block_reason for chunk in chunks] == ["SAFETY"]
    assert access_line(running)["outcome"] == "ok"


async def test_a_blocked_prompt_reaches_an_openai_app_as_a_content_filter_stop(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Translated, the blocked prompt's stream ends with ``finish_reason`` ``content_filter``, cleanly."""
    blocked = b'{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":' + usage(3, 0) + b',"modelVersion":"up"}'
    running = await gemini_sidecar(raw_upstream, sidecar, [blocked])
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        reasons = [choice.finish_reason async for chunk in stream for choice in chunk.choices]
    assert reasons[-1] == "content_filter"
    assert access_line(running)["outcome"] == "ok"
