"""The response cache keeps the sources an answer cites (docs/caching.md): an answer cited by one
dialect's provider, stored from a whole answer or from a stream (translated or relayed), is served on a
hit to the other dialect's SDK, whole and streamed, its citation where a live answer carries it and its
span over the same text; one upstream call."""

from __future__ import annotations

from typing import Any

from google.genai import types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from .cache_helpers import cache_policy, upstream_calls

CITING = [{"role": "user", "content": "Crème brûlée, 東京 🍮 fake:cite"}]
CITED_URL = "https://example.com/fake-source"


async def _openai(running: RunningSidecar, *, stream: bool) -> tuple[str, str, list[dict[str, Any]]]:
    """openai-python's answer to the citing question: the cache header, the text and the annotations (as
    dicts; streamed: the one chunk carrying them, which must come right before the finish chunk)."""
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="cached", messages=CITING, temperature=0, stream=stream
        )
        parsed = raw.parse()
        if not stream:
            message = parsed.choices[0].message
            annotations = [a.model_dump() for a in message.annotations or []]
            return raw.headers["x-sidecar-cache"], message.content or "", annotations
        chunks = [chunk async for chunk in parsed]
    deltas = [c.choices[0].delta.model_dump(exclude_none=True) for c in chunks if c.choices]
    cited = [i for i, delta in enumerate(deltas) if "annotations" in delta]
    assert len(cited) == 1 and chunks[cited[0] + 1].choices[0].finish_reason == "stop"
    text = "".join(delta.get("content") or "" for delta in deltas)
    return raw.headers["x-sidecar-cache"], text, deltas[cited[0]]["annotations"]


def _cited_by_openai(text: str, annotations: list[dict[str, Any]]) -> str:
    (annotation,) = annotations
    span = annotation["url_citation"]
    assert span["url"] == CITED_URL
    return text[span["start_index"] : span["end_index"]]


def _cited_by_gemini(text: str, metadata: Any) -> str:
    (citation,) = metadata.citations
    assert citation.uri == CITED_URL
    return str(text.encode()[citation.start_index : citation.end_index].decode())


async def test_a_gemini_answer_cited_in_a_translated_stream_is_served_from_the_cache_to_openai(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Stored from the stream translated for an OpenAI app (Gemini's bytes read as characters), then hit
    whole and streamed: each carries the url_citation over the text the Gemini fake cited."""
    url = await fake("g0")
    running = await sidecar(cache_policy([url], speaks="gemini"))
    answers = [await _openai(running, stream=stream) for stream in (True, False, True)]
    assert [header for header, _, _ in answers] == ["miss", "hit", "hit"]
    assert [_cited_by_openai(text, annotations) for _, text, annotations in answers] == ["fake:cite"] * 3
    assert await upstream_calls(running, url) == 1


async def test_an_openai_answer_cited_whole_is_served_from_the_cache_to_a_gemini_app(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Stored from OpenAI's whole answer (characters), then hit streamed and whole by google-genai: the
    last fragment's citation_metadata, and the candidate's, cover in bytes the text the OpenAI fake cited."""
    url = await fake("o0")
    running = await sidecar(cache_policy([url]))
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    contents = CITING[0]["content"]
    first = await client.aio.models.generate_content(model="cached", contents=contents, config=config)
    stream = await client.aio.models.generate_content_stream(model="cached", contents=contents, config=config)
    chunks = [chunk async for chunk in stream]
    again = await client.aio.models.generate_content(model="cached", contents=contents, config=config)
    assert [chunk.candidates[0].citation_metadata is not None for chunk in chunks][:-1] == [False] * (len(chunks) - 1)
    streamed = _cited_by_gemini(
        "".join(chunk.text or "" for chunk in chunks), chunks[-1].candidates[0].citation_metadata
    )
    whole = [_cited_by_gemini(answer.text or "", answer.candidates[0].citation_metadata) for answer in (first, again)]
    assert [streamed, *whole] == ["fake:cite"] * 3
    assert await upstream_calls(running, url) == 1


async def test_a_relayed_stream_s_citations_are_stored_with_it(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An OpenAI app's stream from OpenAI (relayed as it came) is stored with its annotations: the whole
    hit carries them."""
    url = await fake("o0")
    running = await sidecar(cache_policy([url]))
    answers = [await _openai(running, stream=stream) for stream in (True, False)]
    assert [header for header, _, _ in answers] == ["miss", "hit"]
    assert [_cited_by_openai(text, annotations) for _, text, annotations in answers] == ["fake:cite"] * 2
    assert await upstream_calls(running, url) == 1
