"""``fake:cite``: an unstreamed text answer cites a source for its last word, in each dialect's form and
unit (OpenAI characters, Gemini bytes of UTF-8), read through the official SDKs."""

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
