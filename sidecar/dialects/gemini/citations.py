"""Gemini citations <-> the common form's ``Citation``s.

A candidate's ``citationMetadata`` lists the sources of text it recited: ``citationSources[]`` in the
Gemini API (google-genai reads it as ``citations``, Vertex AI's name, also read here), each with
``startIndex`` and ``endIndex`` (exclusive) counted in bytes of the candidate's text in UTF-8, ``uri``,
and, in Vertex AI's form, ``title``, ``license`` and ``publicationDate``. The common form counts
characters: ``citations_of`` converts (a source without a ``uri`` has no common form and is left out,
as is one whose span is not in the text), ``add_to_candidate`` converts back and writes
``citationSources`` (with the ``title`` when the source had one; a span past the text is left out).

In a stream (``streamGenerateContent``) a fragment's ``citationMetadata`` counts bytes of the whole
answer streamed so far, not of the fragment's text: Google's SDKs take the last fragment's as the
whole answer's (google-generativeai ``_join_citation_metadatas``, the JS SDK's ``aggregateResponses``:
"keep overwriting, the last one will be final"). The stream decoder reads it with ``citations_of``
over the text streamed so far, the stream encoder writes it on the last fragment.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import Citation


def citations_of(candidate: dict[str, Any], text: str) -> list[Citation]:
    """The candidate's sources, their spans in characters of ``text`` (its text parts joined)."""
    metadata = candidate.get("citationMetadata")
    if type(metadata) is not dict:
        return []
    sources = metadata.get("citationSources", metadata.get("citations"))
    if type(sources) is not list:
        return []
    encoded = text.encode()
    out: list[Citation] = []
    for source in sources:
        citation = _citation(source, encoded) if type(source) is dict else None
        if citation is not None:
            out.append(citation)
    return out


def _citation(source: dict[str, Any], encoded: bytes) -> Citation | None:
    uri, title = source.get("uri"), source.get("title")
    start, end = source.get("startIndex", 0), source.get("endIndex")
    if type(uri) is not str or not uri or type(start) is not int or type(end) is not int:
        return None
    if not 0 <= start <= end <= len(encoded):
        return None
    return {
        "url": uri,
        "title": title if type(title) is str and title else None,
        "start": _characters(encoded, start),
        "end": _characters(encoded, end),
    }


def _characters(encoded: bytes, offset: int) -> int:
    """The characters before byte ``offset`` (a byte inside a character counts that character as after)."""
    return len(encoded[:offset].decode("utf-8", "ignore"))


def add_to_candidate(candidate: dict[str, Any], citations: list[Citation] | None, text: str) -> None:
    """``citationMetadata`` on a candidate whose text is ``text``, its spans in bytes (nothing without
    citations)."""
    if not citations:
        return
    sources = []
    length = len(text)
    for citation in citations:
        if citation["end"] > length:
            continue
        source: dict[str, Any] = {
            "startIndex": len(text[: citation["start"]].encode()),
            "endIndex": len(text[: citation["end"]].encode()),
            "uri": citation["url"],
        }
        if citation["title"]:
            source["title"] = citation["title"]
        sources.append(source)
    if sources:
        candidate["citationMetadata"] = {"citationSources": sources}
