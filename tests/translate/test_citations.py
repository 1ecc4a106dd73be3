"""Citations an answer carries unasked, between OpenAI (``message.annotations`` url_citation, indices in
characters) and Gemini (``citationMetadata``, indices in bytes of UTF-8): the span covers the same text
after non-ASCII characters, malformed ones are left out, and Anthropic apps get none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import translate_response

from . import sdk

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
TEXT = "Crème brûlée — 東京 🍮 is cited here."
CITED = "cited here"
START = TEXT.index(CITED)  # characters
END = START + len(CITED)
BYTE_START = len(TEXT[:START].encode())
BYTE_END = len(TEXT[:END].encode())
URL = "https://example.com/recipe"


def gemini_answer(sources: Any, key: str = "citationSources") -> dict[str, Any]:
    candidate = {
        "content": {"role": "model", "parts": [{"text": TEXT[:10]}, {"text": TEXT[10:]}]},
        "finishReason": "STOP",
        "index": 0,
        "citationMetadata": {key: sources},
    }
    usage = {"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "g", "responseId": "r1"}


def openai_answer(annotations: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": TEXT, "refusal": None, "annotations": annotations}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    return {"id": "c1", "object": "chat.completion", "created": 1, "model": "o", "choices": [choice], "usage": usage}


def url_citation(start: Any = START, end: Any = END, **extra: Any) -> dict[str, Any]:
    return {
        "type": "url_citation",
        "url_citation": {"url": URL, "title": "Recipe", "start_index": start, **extra, "end_index": end},
    }


def translated(body: dict[str, Any], source: Dialect, target: Dialect) -> dict[str, Any]:
    return translate_response(body, source=source, target=target, operation=Operation.CHAT, model="m")


def test_bytes_and_characters_differ_before_the_span() -> None:
    """The sample holds accents, CJK and an emoji before the cited span: its byte and character indices
    differ, so a test that passes here converts."""
    assert (BYTE_START, BYTE_END) != (START, END)


@pytest.mark.parametrize("key", ["citationSources", "citations"])
def test_a_gemini_citation_reaches_an_openai_app_as_a_url_citation_over_the_same_text(key: str) -> None:
    """citationMetadata (bytes; the Gemini API's citationSources or Vertex AI's citations) becomes a
    url_citation whose character indices cover the same text, as openai-python reads it."""
    source = {"startIndex": BYTE_START, "endIndex": BYTE_END, "uri": URL, "license": "", "title": "Recipe"}
    body = translated(gemini_answer([source], key), GEM, OAI)
    client = sdk.openai_client(json.dumps(body).encode(), sdk.JSON)
    message = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]).choices[0].message
    (annotation,) = message.annotations or []
    cited = annotation.url_citation
    assert (annotation.type, cited.url, cited.title) == ("url_citation", URL, "Recipe")
    assert (message.content or "")[cited.start_index : cited.end_index] == CITED


def test_an_openai_url_citation_reaches_a_gemini_app_over_the_same_bytes() -> None:
    """A url_citation (characters) becomes citationMetadata whose byte indices cover the same text, as
    google-genai reads it."""
    body = translated(openai_answer([url_citation()]), OAI, GEM)
    client = sdk.gemini_client(json.dumps(body).encode(), sdk.JSON)
    candidate = client.models.generate_content(model="m", contents="hi").candidates[0]  # type: ignore[index]
    (citation,) = candidate.citation_metadata.citations  # type: ignore[union-attr]
    assert (citation.uri, citation.title) == (URL, "Recipe")
    assert TEXT.encode()[citation.start_index : citation.end_index].decode() == CITED


def test_a_gemini_source_without_a_title_gets_an_empty_one() -> None:
    """The Gemini API's sources have no title: openai-python requires one, so it is ``""``."""
    body = translated(gemini_answer([{"startIndex": BYTE_START, "endIndex": BYTE_END, "uri": URL}]), GEM, OAI)
    (annotation,) = body["choices"][0]["message"]["annotations"]
    assert annotation["url_citation"]["title"] == ""


@pytest.mark.parametrize(
    "source",
    [
        {"startIndex": 0, "endIndex": 4, "license": "mit"},
        {"startIndex": 0, "endIndex": 10_000, "uri": URL},
        {"startIndex": 5, "endIndex": 2, "uri": URL},
        {"startIndex": "0", "endIndex": 4, "uri": URL},
        "https://example.com",
    ],
    ids=["no-uri", "past-the-end", "backwards", "string-index", "not-an-object"],
)
def test_a_gemini_source_with_no_url_citation_form_is_left_out(source: Any) -> None:
    """No uri, a span outside the text, a malformed source: left out, the answer kept."""
    body = translated(gemini_answer([source]), GEM, OAI)
    assert body["choices"][0]["message"]["annotations"] == []
    assert body["choices"][0]["message"]["content"] == TEXT


@pytest.mark.parametrize(
    "annotation",
    [url_citation(0, 10_000), url_citation(4, 2), {"type": "file_citation", "file_citation": {}}, "x"],
    ids=["past-the-end", "backwards", "other-type", "not-an-object"],
)
def test_an_openai_annotation_with_no_citation_form_is_left_out(annotation: Any) -> None:
    """Other annotation types and malformed url_citations are left out, the answer kept."""
    body = translated(openai_answer([annotation]), OAI, GEM)
    assert "citationMetadata" not in body["candidates"][0]


@pytest.mark.parametrize(
    ("body", "source"),
    [
        (openai_answer([url_citation()]), OAI),
        (gemini_answer([{"startIndex": BYTE_START, "endIndex": BYTE_END, "uri": URL}]), GEM),
    ],
)
def test_an_anthropic_app_gets_no_citation(body: dict[str, Any], source: Dialect) -> None:
    """Anthropic's citations point into the request or carry an index only Anthropic makes: an Anthropic
    app's answer from OpenAI or Gemini has its text and no citations."""
    answer = translated(body, source, ANT)
    assert [block.get("citations") for block in answer["content"]] == [None]
    assert answer["content"][0]["text"] == TEXT
