"""Citations in streams through the real sidecar, read by the official SDKs (``fake:cite``: the fakes
stream them as their providers do, see sidecar/fake_provider): openai-python streaming from Gemini gets
the annotations chunk OpenAI's search models send, google-genai streaming from OpenAI gets the last
fragment's citationMetadata, each span over the text the fake cited after non-ASCII text; same-dialect
streams relay the provider's own; an Anthropic app's stream carries none and its text whole."""

from __future__ import annotations

from typing import Any

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .three_dialects import start

CITING = "Crème brûlée, 東京 🍮 fake:cite"
CITED_URL = "https://example.com/fake-source"


async def _openai_stream(running: Any, model: str) -> tuple[str, list[dict[str, Any]]]:
    """openai-python's streamed text and each chunk's delta (extra fields included: ``annotations``)."""
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": CITING}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    deltas = [
        {**c.choices[0].delta.model_dump(exclude_none=True), "finish": c.choices[0].finish_reason} for c in chunks
    ]
    return "".join(delta.get("content") or "" for delta in deltas), deltas


async def test_an_openai_app_streaming_from_gemini_gets_the_annotations_chunk(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """One chunk carries the url_citation (as OpenAI's search models send it), right before the finish
    chunk; its character span over the streamed text is what the Gemini fake cited in bytes."""
    running, _ = await start(fake, sidecar)
    text, deltas = await _openai_stream(running, "to-gemini")
    cited = [i for i, delta in enumerate(deltas) if "annotations" in delta]
    assert len(cited) == 1 and deltas[cited[0] + 1]["finish"] == "stop"
    (annotation,) = deltas[cited[0]]["annotations"]
    span = annotation["url_citation"]
    assert (annotation["type"], span["url"]) == ("url_citation", CITED_URL)
    assert text[span["start_index"] : span["end_index"]] == "fake:cite"


async def test_openai_python_s_stream_helper_gives_the_final_message_its_annotations(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``chat.completions.stream`` accumulates the chunks (two lists of annotations would make it raise):
    the final completion's message.annotations is the typed url_citation over its content."""
    running, _ = await start(fake, sidecar)
    async with (
        openai_client(running) as client,
        client.chat.completions.stream(model="to-gemini", messages=[{"role": "user", "content": CITING}]) as stream,
    ):
        final = await stream.get_final_completion()
    message = final.choices[0].message
    (annotation,) = message.annotations or []
    span = annotation.url_citation
    assert span.url == CITED_URL
    assert (message.content or "")[span.start_index : span.end_index] == "fake:cite"


async def test_a_gemini_app_streaming_from_openai_gets_the_last_fragment_s_citation(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The OpenAI annotations chunk reaches google-genai as the last fragment's citation_metadata, its byte
    span over the whole streamed text the OpenAI fake cited in characters; no other fragment has one."""
    running, _ = await start(fake, sidecar)
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="to-openai", contents=CITING)
    chunks = [chunk async for chunk in stream]
    marks = [chunk.candidates[0].citation_metadata is not None for chunk in chunks]
    assert marks == [False] * (len(chunks) - 1) + [True]
    (citation,) = chunks[-1].candidates[0].citation_metadata.citations
    text = "".join(chunk.text or "" for chunk in chunks)
    assert (citation.uri, citation.title) == (CITED_URL, "Fake source")
    assert text.encode()[citation.start_index : citation.end_index].decode() == "fake:cite"


async def test_same_dialect_streams_relay_the_provider_s_own_citations(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """An OpenAI app streaming from OpenAI and a Gemini app from Gemini get their provider's citations as
    it sent them (forwarded, not translated)."""
    running, _ = await start(fake, sidecar)
    text, deltas = await _openai_stream(running, "to-openai")
    (annotation,) = next(delta["annotations"] for delta in deltas if "annotations" in delta)
    assert text[annotation["url_citation"]["start_index"] : annotation["url_citation"]["end_index"]] == "fake:cite"
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="to-gemini", contents=CITING)
    chunks = [chunk async for chunk in stream]
    (citation,) = chunks[-1].candidates[0].citation_metadata.citations
    gemini_text = "".join(chunk.text or "" for chunk in chunks)
    assert gemini_text.encode()[citation.start_index : citation.end_index].decode() == "fake:cite"


async def test_an_anthropic_app_streaming_a_cited_answer_gets_its_text_and_no_citation(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """From Gemini and from OpenAI: anthropic-python's stream ends normally with the whole text, and no
    block carries a citation (Anthropic refuses one it did not make when the app sends it back)."""
    running, _ = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        for model in ("to-gemini", "to-openai"):
            async with client.messages.stream(
                model=model, max_tokens=100, messages=[{"role": "user", "content": CITING}]
            ) as stream:
                final = await stream.get_final_message()
            (block,) = final.content
            assert block.type == "text" and block.text.endswith("fake:cite") and not block.citations
