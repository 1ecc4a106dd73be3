"""Citations in translated streams (docs/translation.md, "Log-probabilities and citations"): an OpenAI
search model's ``delta.annotations`` chunk and a Gemini fragment's ``citationMetadata`` (bytes of the
whole answer so far) reach the other dialect's caller where its own provider puts them, over the same
text; a stream without citations is written as before."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from sidecar.dialects import Operation
from sidecar.dialects.registry import dialect_named
from sidecar.sse import SSEEvent, SSEParser
from sidecar.translate import StreamTranslator, new_stream_translator
from sidecar.translate.deltas import Cited

PIECES = ["Crème brûlée — ", "東京 🍮 is ", "cited here."]
TEXT = "".join(PIECES)
CITED = "cited here"
START = TEXT.index(CITED)
END = START + len(CITED)
BYTE_START, BYTE_END = len(TEXT[:START].encode()), len(TEXT[:END].encode())
URL = "https://example.com/recipe"


def translator(source: str, caller: str) -> StreamTranslator:
    return new_stream_translator(
        source=dialect_named(source),
        target=dialect_named(caller),
        operation=Operation.CHAT,
        model="m",
        include_usage=False,
    )


def _oa(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "x", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n"


def _annotation(start: int = START, end: int = END) -> dict[str, Any]:
    cited = {"url": URL, "title": "Recipe", "start_index": start, "end_index": end}
    return {"type": "url_citation", "url_citation": cited}


def openai_stream(annotations: list[dict[str, Any]] | None) -> bytes:
    """An OpenAI search model's stream: role chunk, content chunks, the annotations chunk, the finish."""
    out = [_oa({"role": "assistant", "content": ""})] + [_oa({"content": piece}) for piece in PIECES]
    if annotations is not None:
        out.append(_oa({"annotations": annotations}))
    out += [_oa({}, "stop"), "data: [DONE]\n\n"]
    return "".join(out).encode()


def _gem(text: str, **candidate: Any) -> str:
    body = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0, **candidate}]}
    return f"data: {json.dumps({**body, 'responseId': 'r1'})}\n\n"


def _sources(start: int = BYTE_START, end: int = BYTE_END) -> dict[str, Any]:
    return {"citationSources": [{"startIndex": start, "endIndex": end, "uri": URL, "title": "Recipe"}]}


def gemini_stream(metadata: dict[str, Any] | None, *, early: bool = False) -> bytes:
    """A Gemini stream whose last fragment (and with ``early`` also the one after the cited text, the
    same sources) carries ``citationMetadata`` in bytes of the whole answer."""
    extra = {"citationMetadata": metadata} if metadata is not None else {}
    out = [_gem(PIECES[0]), _gem(PIECES[1]), _gem(PIECES[2], **(extra if early else {}))]
    out.append(_gem("", finishReason="STOP", **extra))
    return "".join(out).encode()


def translate(source: str, caller: str, data: bytes) -> list[Any]:
    """The caller's events' JSON bodies (``[DONE]`` as the string)."""
    stream = translator(source, caller)
    parser = SSEParser()
    events: list[SSEEvent] = []
    for event in parser.feed(data) + parser.close():
        events += stream.feed(event)
    events += stream.finish()
    return [event.data.decode() if event.data == b"[DONE]" else orjson.loads(event.data) for event in events]


def test_a_gemini_citation_reaches_an_openai_caller_in_one_chunk_before_the_finish() -> None:
    """The byte span becomes a url_citation whose character span covers the same text of the whole answer,
    in a chunk of its own right before the finish chunk, as OpenAI sends it."""
    chunks = [c for c in translate("gemini", "openai", gemini_stream(_sources())) if c != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    cited = [i for i, c in enumerate(chunks) if "annotations" in c["choices"][0]["delta"]]
    assert len(cited) == 1 and chunks[cited[0] + 1]["choices"][0]["finish_reason"] == "stop"
    (annotation,) = chunks[cited[0]]["choices"][0]["delta"]["annotations"]
    span = annotation["url_citation"]
    assert (annotation["type"], span["url"], span["title"]) == ("url_citation", URL, "Recipe")
    assert text == TEXT and text[span["start_index"] : span["end_index"]] == CITED


def test_gemini_sources_repeated_on_later_fragments_are_reported_once() -> None:
    """Gemini's citationMetadata is cumulative: the same source on two fragments is one annotation."""
    chunks = [c for c in translate("gemini", "openai", gemini_stream(_sources(), early=True)) if c != "[DONE]"]
    annotations = [a for c in chunks for a in c["choices"][0]["delta"].get("annotations", [])]
    assert [a["url_citation"]["start_index"] for a in annotations] == [START]


def test_an_openai_citation_reaches_a_gemini_caller_on_the_last_fragment_in_bytes() -> None:
    """The annotations chunk becomes the last fragment's citationMetadata, its byte span over the whole
    text sent (the text the annotation cited), and no other fragment carries any."""
    fragments = translate("openai", "gemini", openai_stream([_annotation()]))
    candidates = [f["candidates"][0] for f in fragments]
    text = "".join(p.get("text", "") for c in candidates for p in c.get("content", {}).get("parts", []))
    assert [("citationMetadata" in c) for c in candidates] == [False] * (len(candidates) - 1) + [True]
    last = candidates[-1]
    (source,) = last["citationMetadata"]["citationSources"]
    assert (source["uri"], source["title"], last["finishReason"]) == (URL, "Recipe", "STOP")
    assert text == TEXT and text.encode()[source["startIndex"] : source["endIndex"]].decode() == CITED


@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("openai", openai_stream([_annotation(START, len(TEXT) + 5)])),
        ("openai", openai_stream([{"type": "file_citation", "file_citation": {"file_id": "f"}}])),
        ("gemini", gemini_stream(_sources(BYTE_START, len(TEXT.encode()) + 5))),
        ("gemini", gemini_stream({"citationSources": [{"startIndex": 0, "endIndex": 3, "license": "mit"}]})),
    ],
)
def test_a_citation_with_no_form_or_outside_the_text_is_left_out(source: str, data: bytes) -> None:
    """A span past the answer's text, another annotation type, a Gemini source without a uri: the other
    dialect's caller gets no citation, and the text whole."""
    caller = "gemini" if source == "openai" else "openai"
    out = json.dumps(translate(source, caller, data))
    assert "annotations" not in out and "citationMetadata" not in out


@pytest.mark.parametrize(("source", "caller"), [("openai", "gemini"), ("gemini", "openai"), ("gemini", "anthropic")])
def test_a_stream_without_citations_is_written_as_before(source: str, caller: str) -> None:
    """No citation upstream: no annotations chunk, no citationMetadata; an Anthropic caller never gets
    one (its app would send a made-up citation back)."""
    cited = openai_stream([_annotation()]) if source == "openai" else gemini_stream(_sources())
    plain = openai_stream(None) if source == "openai" else gemini_stream(None)
    assert "citation" not in json.dumps(translate(source, caller, plain))
    if caller == "anthropic":
        assert translate(source, caller, cited) == translate(source, caller, plain)


def test_the_openai_decoder_reports_a_chunk_s_annotations_as_one_cited_delta() -> None:
    """``delta.annotations`` is one ``Cited`` (characters, as sent), after the chunk's text."""
    stream = translator("openai", "gemini")
    parser = SSEParser()
    (event,) = parser.feed(_oa({"content": "x", "annotations": [_annotation(0, 1)]}).encode())
    deltas = stream.decode(event)
    assert deltas[-1] == Cited(({"url": URL, "title": "Recipe", "start": 0, "end": 1},))
