"""The prompt tokens a document part carries: a PDF's pages, a text file's text (``document_tokens``).

Routing's walkers count a media part that is neither an image, audio nor video as a file. A file sent by
reference (a URL, an uploaded file's id) cannot be read here and counts ``FILE_TOKENS``, about one page;
a file sent inline (Anthropic's base64 ``document``, OpenAI's ``file_data``, Gemini's ``inlineData``) is
read, because the providers bill it by its size:

- a PDF: ``PAGE_TOKENS`` per page (every provider bills a page's extracted text and its image; the
  figure and the providers' own are in docs/routing.md). Its pages are its page objects
  (``/Type /Page``), counted in its decoded bytes and in its compressed object streams (``/ObjStm``,
  inflated up to ``OBJECT_STREAM_BYTES`` each and ``INFLATED_BYTES`` in all); a PDF in which none is
  found (encrypted, another filter) counts one page per ``BYTES_PER_PAGE`` of its size;
- a text file (``text/*``, JSON, XML): its decoded text, by ``tokens.estimate_bytes``;
- any other type: ``FILE_TOKENS``.

The base64 is decoded in ``CHUNK`` slices, so a 32 MB document holds at most one slice's bytes beside
the body (a PDF's object streams excepted: those are found in its whole decoded bytes). A value that is
not base64 counts as a file sent by reference. Per request, only for a request that carries a document.
"""

from __future__ import annotations

import binascii
import re
import zlib
from collections.abc import Iterator
from typing import Any

from .tokens import estimate_bytes

FILE_TOKENS = 1500  # a file the walker cannot read: about one PDF page as text plus its image
PAGE_TOKENS = 1500  # a PDF page: Anthropic 1,500-3,000 text tokens and the page's image, Gemini 258
BYTES_PER_PAGE = 100_000  # a PDF whose pages are not found: one page per 100 KB (a scanned page's size)
OBJECT_STREAM_BYTES = 4 << 20  # the most of one object stream inflated to look for pages
INFLATED_BYTES = 32 << 20  # the most of all its object streams inflated (a PDF of deflate bombs stops there)
CHUNK = 1 << 20  # base64 characters decoded at a time (a multiple of 4)

_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")  # a page object (not /Pages, the tree's nodes)
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm\b")
_STREAM_START = re.compile(rb"stream\r?\n")
_OVERLAP = 32  # bytes of one slice kept for the next: a page object's name split between two slices
_TEXT_TYPES = ("application/json", "application/xml", "application/x-javascript", "application/x-python")


def document_tokens(mime: str, data: Any) -> int:
    """The prompt tokens of an inline document of type ``mime`` whose base64 is ``data`` (or a data URL's)."""
    if not isinstance(data, str) or not data:
        return FILE_TOKENS
    try:
        if mime == "application/pdf":
            return pdf_pages(data) * PAGE_TOKENS
        if mime.startswith("text/") or mime in _TEXT_TYPES:
            return sum(estimate_bytes(piece) for piece in _decoded(data))
    except (binascii.Error, ValueError):  # not base64 (ValueError: a character outside ASCII)
        pass
    return FILE_TOKENS


def pdf_pages(data: str) -> int:
    """The pages of the PDF whose base64 is ``data``: its page objects, else one per ``BYTES_PER_PAGE``."""
    pages = size = 0
    carry = b""
    compressed = False
    for piece in _decoded(data):
        size += len(piece)
        held = carry + piece
        limit = len(held) - _OVERLAP  # a match starting after it is counted with the next slice
        pages += sum(1 for match in _PAGE.finditer(held) if match.start() < limit)
        compressed = compressed or _OBJECT_STREAM.search(held) is not None
        carry = held[limit:] if limit > 0 else held
    pages += sum(1 for _ in _PAGE.finditer(carry))
    if compressed:
        pages += sum(_streamed_pages(data))
    return pages or max(1, size // BYTES_PER_PAGE)


def _decoded(data: str) -> Iterator[bytes]:
    """``data``'s bytes, ``CHUNK`` base64 characters at a time: plain or URL-safe base64, padded or not,
    or a data URL's (``data:application/pdf;base64,...``)."""
    first = data.find(",", 0, 200) + 1 if data.startswith("data:") else 0
    if data.find("-", first) >= 0 or data.find("_", first) >= 0:
        data = data[first:].replace("-", "+").replace("_", "/")
        first = 0
    if (len(data) - first) % 4:
        data = data[first:] + "=" * (-(len(data) - first) % 4)
        first = 0
    for start in range(first, len(data), CHUNK):
        yield binascii.a2b_base64(data[start : start + CHUNK])


def _streamed_pages(data: str) -> Iterator[int]:
    """The page objects in each Flate-compressed object stream of the PDF whose base64 is ``data``."""
    pdf = b"".join(_decoded(data))
    left = INFLATED_BYTES
    for found in _OBJECT_STREAM.finditer(pdf):
        start = _STREAM_START.search(pdf, found.end())
        if start is None or left <= 0:
            return
        try:
            inflated = zlib.decompressobj().decompress(memoryview(pdf)[start.end() :], min(left, OBJECT_STREAM_BYTES))
        except zlib.error:  # another filter than FlateDecode: its pages are not counted
            continue
        left -= len(inflated)
        yield sum(1 for _ in _PAGE.finditer(inflated))
