"""Citations an answer carries unasked, across dialects through the real sidecar: openai-python served by
a Gemini fake and google-genai by an OpenAI fake (``fake:cite``), the span covering the text the fake
cited after non-ASCII text (Gemini counts bytes, OpenAI characters)."""

from __future__ import annotations

from typing import Any

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .graded_dialects import gemini_sends, openai_sends, start

CITING = "Crème brûlée, 東京 🍮 fake:cite"
CITED_URL = "https://example.com/fake-source"


async def test_an_openai_app_reads_a_gemini_answers_citation(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A Gemini citation (bytes) reaches openai-python as message.annotations' url_citation whose character
    indices cover the text the fake cited, after non-ASCII text."""
    running, urls = await start(fake, sidecar)
    source = (await gemini_sends(urls["gemini"], CITING))["citationMetadata"]["citationSources"][0]
    cited = CITING.encode()[source["startIndex"] : source["endIndex"]].decode()
    async with openai_client(running) as client:
        answer = await client.chat.completions.create(model="to-gemini", messages=[{"role": "user", "content": CITING}])
    message = answer.choices[0].message
    (annotation,) = message.annotations or []
    span = annotation.url_citation
    assert (annotation.type, span.url) == ("url_citation", CITED_URL)
    assert (message.content or "")[span.start_index : span.end_index] == cited == "fake:cite"


async def test_a_gemini_app_reads_an_openai_answers_citation(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """An OpenAI url_citation (characters) reaches google-genai as citation_metadata whose byte indices cover
    the text the fake cited, after non-ASCII text."""
    running, urls = await start(fake, sidecar)
    annotation = (await openai_sends(urls["openai"], CITING))["message"]["annotations"][0]["url_citation"]
    cited = CITING[annotation["start_index"] : annotation["end_index"]]
    answer = await gemini_client(running.url).aio.models.generate_content(model="to-openai", contents=CITING)
    candidate = answer.candidates[0]  # type: ignore[index]
    (citation,) = candidate.citation_metadata.citations  # type: ignore[union-attr]
    assert (citation.uri, citation.title) == (CITED_URL, "Fake source")
    assert (answer.text or "").encode()[citation.start_index : citation.end_index].decode() == cited == "fake:cite"
