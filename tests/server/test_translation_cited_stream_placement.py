"""Streamed citations placed where a provider may put them but the fakes do not: a Gemini fragment in the
middle of the answer (not the last) whose ``citationMetadata`` spans bytes of the text streamed so far,
after non-ASCII text, with more text after it; an OpenAI annotations chunk before the text ends. Each
reaches the other dialect's app over the same text: openai-python's annotation in characters of the
whole content, google-genai's last fragment's citation in bytes. Raw upstreams write the streams."""

from __future__ import annotations

from typing import Any

import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, paced

URL = "https://example.com/source"
BEFORE, CITED, AFTER = "Crème brûlée, 東京 🍮 ", "the cited words", " and more text after them."


async def sidecar_on(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, dialect: str, events: list[bytes]
) -> RunningSidecar:
    upstream = await raw_upstream(paced(events, gap_s=0.02))
    suffix = "/v1" if dialect == "openai" else ""
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{upstream.base}{suffix}', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: up}\n"
    )
    return await sidecar(policy, env={"KEY": "k"})


def gemini_fragment(text: str, **extra: Any) -> bytes:
    candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0, **extra}
    return b"data: " + orjson.dumps({"candidates": [candidate]}) + b"\r\n\r\n"


async def test_a_gemini_citation_on_a_middle_fragment_reaches_an_openai_app_over_its_text(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The cited fragment is the second of three; the span (bytes of the text so far) becomes one
    url_citation in characters of the whole content, over the cited words, before the finish chunk."""
    start = len(BEFORE.encode())
    source = {"startIndex": start, "endIndex": start + len(CITED.encode()), "uri": URL}
    events = [
        gemini_fragment(BEFORE),
        gemini_fragment(CITED, citationMetadata={"citationSources": [source]}),
        gemini_fragment(AFTER, finishReason="STOP"),
    ]
    running = await sidecar_on(raw_upstream, sidecar, "gemini", events)
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    deltas = [chunk.choices[0].delta.model_dump(exclude_none=True) for chunk in chunks if chunk.choices]
    text = "".join(delta.get("content") or "" for delta in deltas)
    assert text == BEFORE + CITED + AFTER
    (annotation,) = [a for delta in deltas for a in delta.get("annotations", [])]
    span = annotation["url_citation"]
    assert (span["url"], text[span["start_index"] : span["end_index"]]) == (URL, CITED)


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "up"}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def test_an_openai_annotation_before_the_text_ends_reaches_a_gemini_app_over_its_text(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The annotations chunk comes before the cited words are streamed (its span in characters of the
    whole content): google-genai's last fragment carries the citation, in bytes, over the cited words."""
    start = len(BEFORE)
    annotation = {
        "type": "url_citation",
        "url_citation": {"url": URL, "title": "t", "start_index": start, "end_index": start + len(CITED)},
    }
    events = [
        openai_chunk({"role": "assistant", "content": BEFORE}),
        openai_chunk({"annotations": [annotation]}),
        openai_chunk({"content": CITED}),
        openai_chunk({"content": AFTER}),
        openai_chunk({}, finish="stop"),
        b"data: [DONE]\n\n",
    ]
    running = await sidecar_on(raw_upstream, sidecar, "openai", events)
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
    chunks = [chunk async for chunk in stream]
    text = "".join(chunk.text or "" for chunk in chunks)
    assert text == BEFORE + CITED + AFTER
    (citation,) = chunks[-1].candidates[0].citation_metadata.citations
    assert (citation.uri, text.encode()[citation.start_index : citation.end_index].decode()) == (URL, CITED)
