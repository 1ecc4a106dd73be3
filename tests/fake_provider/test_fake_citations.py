"""``fake:cite``: a text answer cites a source for its last word, in each dialect's form and
unit (OpenAI characters, Gemini bytes of UTF-8), whole and streamed where each provider puts it, read
through the official SDKs."""

from __future__ import annotations

from typing import Any

from sidecar.fake_provider.conversation import CITED_TITLE, CITED_URL

TEXT = "Crème brûlée, 東京 🍮 fake:cite"


async def test_openai_answers_cite_the_last_word_in_characters(fake: Any, openai_for: Any) -> None:
    """message.annotations holds one url_citation whose character span is the answer's last word."""
    client = openai_for(await fake())
    answer = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": TEXT}])
    message = answer.choices[0].message
    (annotation,) = message.annotations or []
    cited = annotation.url_citation
    assert (annotation.type, cited.url, cited.title) == ("url_citation", CITED_URL, CITED_TITLE)
    assert (message.content or "")[cited.start_index : cited.end_index] == "fake:cite"


async def test_gemini_answers_cite_the_last_word_in_bytes(fake: Any, gemini_for: Any) -> None:
    """citationMetadata holds one source whose byte span (UTF-8) is the answer's last word."""
    client = gemini_for(await fake())
    answer = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=TEXT)
    (citation,) = answer.candidates[0].citation_metadata.citations
    assert citation.uri == CITED_URL
    assert (answer.text or "").encode()[citation.start_index : citation.end_index].decode() == "fake:cite"


async def test_answers_without_the_marker_cite_nothing(fake: Any, openai_for: Any, gemini_for: Any) -> None:
    """Without fake:cite: OpenAI's annotations are empty, Gemini's candidate has no citationMetadata."""
    server = await fake()
    answer = await openai_for(server).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "plain"}]
    )
    assert answer.choices[0].message.annotations == []
    gemini = await gemini_for(server).aio.models.generate_content(model="gemini-2.5-flash", contents="plain")
    assert gemini.candidates[0].citation_metadata is None


async def test_an_openai_stream_sends_the_citation_once_in_its_own_chunk_before_the_finish(
    fake: Any, openai_for: Any
) -> None:
    """Streamed, as OpenAI's search models send it: one chunk whose delta is the annotations alone, after
    the last content chunk and before the finish chunk, its indices in characters of the whole answer."""
    client = openai_for(await fake())
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": TEXT}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    deltas = [chunk.choices[0].delta.model_dump(exclude_none=True) for chunk in chunks]
    cited = [i for i, delta in enumerate(deltas) if "annotations" in delta]
    assert len(cited) == 1 and deltas[cited[0]].keys() == {"annotations"}
    assert chunks[cited[0] + 1].choices[0].finish_reason == "stop"
    assert all(not delta.get("content") for delta in deltas[cited[0] :])
    (annotation,) = deltas[cited[0]]["annotations"]
    span = annotation["url_citation"]
    text = "".join(delta.get("content") or "" for delta in deltas)
    assert (span["url"], span["title"]) == (CITED_URL, CITED_TITLE)
    assert text[span["start_index"] : span["end_index"]] == "fake:cite"


async def test_a_gemini_stream_cites_on_its_last_fragment_in_bytes_of_the_whole_answer(
    fake: Any, gemini_for: Any
) -> None:
    """Streamed: only the last fragment carries citationMetadata, its byte span over the whole answer's
    text (not over that fragment's), as google-genai reads the last fragment's as the answer's."""
    client = gemini_for(await fake())
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents=TEXT)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 1
    assert [chunk.candidates[0].citation_metadata is not None for chunk in chunks] == [False] * (len(chunks) - 1) + [
        True
    ]
    (citation,) = chunks[-1].candidates[0].citation_metadata.citations
    text = "".join(chunk.text or "" for chunk in chunks)
    assert citation.uri == CITED_URL
    assert text.encode()[citation.start_index : citation.end_index].decode() == "fake:cite"
