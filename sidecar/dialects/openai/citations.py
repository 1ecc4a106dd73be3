"""OpenAI chat ``message.annotations`` <-> the common form's ``Citation``s.

OpenAI's search models cite web pages as ``{"type": "url_citation", "url_citation": {"url", "title",
"start_index", "end_index"}}``, the indices counting characters of ``message.content`` (end exclusive).
``citations_of`` reads them (other annotation types, and a citation of the wrong shape or outside the
text, are left out); ``annotations_of`` writes them, a missing title as ``""`` (openai-python's
``AnnotationURLCitation`` requires one), and ``[]`` without citations, as OpenAI writes it.

In a stream, a search model sends every annotation once, in a chunk of its own after the last content
chunk (``{"delta": {"annotations": [...]}}``), its indices counting characters of the whole answer:
``stream_citations`` reads a chunk's delta (the span is bounded by the text later, by whoever holds it).
"""

from __future__ import annotations

import sys
from typing import Any

from ...translate.common import Citation


def citations_of(message: dict[str, Any], text: str) -> list[Citation]:
    """The ``url_citation`` annotations of a message whose text is ``text``."""
    return _read(message, len(text))


def stream_citations(delta: dict[str, Any]) -> list[Citation]:
    """The ``url_citation`` annotations of a stream chunk's ``delta`` (spans into the whole answer, whose
    length the chunk does not tell)."""
    return _read(delta, sys.maxsize)


def _read(message: dict[str, Any], length: int) -> list[Citation]:
    annotations = message.get("annotations")
    if type(annotations) is not list:
        return []
    out: list[Citation] = []
    for annotation in annotations:
        citation = _citation(annotation, length)
        if citation is not None:
            out.append(citation)
    return out


def _citation(annotation: Any, length: int) -> Citation | None:
    if type(annotation) is not dict or annotation.get("type") != "url_citation":
        return None
    cited = annotation.get("url_citation")
    if type(cited) is not dict:
        return None
    url, title = cited.get("url"), cited.get("title")
    start, end = cited.get("start_index"), cited.get("end_index")
    if type(url) is not str or not url or type(start) is not int or type(end) is not int:
        return None
    if not 0 <= start <= end <= length:
        return None
    return {"url": url, "title": title if type(title) is str and title else None, "start": start, "end": end}


def annotations_of(citations: list[Citation] | None) -> list[dict[str, Any]]:
    """A message's ``annotations``: one ``url_citation`` per citation."""
    return [
        {
            "type": "url_citation",
            "url_citation": {
                "url": citation["url"],
                "title": citation["title"] or "",
                "start_index": citation["start"],
                "end_index": citation["end"],
            },
        }
        for citation in citations or ()
    ]
