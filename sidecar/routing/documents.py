"""The prompt tokens a document part carries: a PDF's pages, a text file's text (``document_tokens``).

Routing's walkers count a media part that is neither an image, audio nor video as a file. A file sent by
reference (a URL, an uploaded file's id) cannot be read here and counts ``FILE_TOKENS``, about one page;
a file sent inline (Anthropic's base64 ``document``, OpenAI's ``file_data``, Gemini's ``inlineData``) is
read, because the providers bill it by its size:

- a PDF: ``PAGE_TOKENS`` per page (every provider bills a page's extracted text and its image; the
  figure and the providers' own are in docs/routing.md). Its pages are its page tree root's ``/Count``
  when found, else its page objects (``/Type /Page``), read in its decoded bytes and in its compressed
  object streams (``/ObjStm``, inflated up to ``OBJECT_STREAM_BYTES`` each and ``INFLATED_BYTES`` in
  all); a PDF in which neither is found (encrypted, another filter) counts one page per
  ``BYTES_PER_PAGE`` of its size;
- a text file (``text/*``, JSON, XML): its decoded text, by ``tokens.estimate_bytes``;
- any other type: ``FILE_TOKENS``.

Only the first ``SAMPLE_CHARS`` characters of a document's base64 are decoded and read (3 MiB of it):
a longer document's text tokens, and its page objects when its page tree's root is not in the sample,
are those of the sample scaled by its whole size. The work a
request's documents cost the event loop is so bounded (some milliseconds a document, whatever its size:
decoding a 40 MB base64 PDF whole took 85 ms, reading its pages 250 ms), and the bytes held besides
the body are the sample's. A value that is not base64 counts as a file sent by reference. Per request,
only for a request that carries a document.
"""

from __future__ import annotations

import binascii
import re
import zlib
from collections.abc import Iterator

from .tokens import estimate_bytes

FILE_TOKENS = 1500  # a file the walker cannot read: about one PDF page as text plus its image
PAGE_TOKENS = 1500  # a PDF page: Anthropic 1,500-3,000 text tokens and the page's image, Gemini 258
BYTES_PER_PAGE = 100_000  # a PDF whose pages are not found: one page per 100 KB (a scanned page's size)
SAMPLE_CHARS = 4 << 20  # base64 characters of a document read (3 MiB decoded); a multiple of 4
OBJECT_STREAM_BYTES = 4 << 20  # the most of one object stream inflated to look for pages
INFLATED_BYTES = 8 << 20  # the most of all its object streams inflated (a PDF of deflate bombs stops there)
MIN_PAGE_BYTES = 8  # fewer bytes than a page object takes, even compressed: a count past size / 8 is not believed

_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")  # a page object (not /Pages, the tree's nodes)
_TREE_COUNT = re.compile(rb"/Type\s*/Pages\b[^<>]*?/Count\s+(\d{1,9})")  # a page tree node's page count
_COUNT_TREE = re.compile(rb"/Count\s+(\d{1,9})[^<>]*?/Type\s*/Pages\b")  # the same, written before its type
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm\b")
_STREAM_START = re.compile(rb"stream\r?\n")
_TEXT_TYPES = ("application/json", "application/xml", "application/x-javascript", "application/x-python")


def document_tokens(mime: str, data: object) -> int:
    """The prompt tokens of an inline document of type ``mime`` whose base64 is ``data`` (or a data URL's)."""
    if not isinstance(data, str) or not data:
        return FILE_TOKENS
    try:
        if mime == "application/pdf":
            return pdf_pages(data) * PAGE_TOKENS
        if mime.startswith("text/") or mime in _TEXT_TYPES:
            sample, whole = _sample(data)
            return round(estimate_bytes(sample) * whole / max(1, len(sample)))
    except (binascii.Error, ValueError):  # not base64 (ValueError: a character outside ASCII)
        pass
    return FILE_TOKENS


def pdf_pages(data: str) -> int:
    """The pages of the PDF whose base64 is ``data``: its page tree's ``/Count`` when the sample holds the
    tree's root, else its page objects (in its sample, scaled to its whole size), else one per
    ``BYTES_PER_PAGE``; never more than one per ``MIN_PAGE_BYTES`` of its size."""
    pdf, whole = _sample(data)
    counted, pages = _page_counts(pdf)
    for inflated in _object_streams(pdf):
        tree, objects = _page_counts(inflated)
        counted, pages = max(counted, tree), pages + objects
    if counted:
        found = counted
    elif pages:
        found = round(pages * whole / max(1, len(pdf)))
    else:
        found = whole // BYTES_PER_PAGE
    return max(1, min(found, whole // MIN_PAGE_BYTES))


def _page_counts(pdf: bytes) -> tuple[int, int]:
    """The largest ``/Count`` of a page tree node in ``pdf`` (the root's is the document's pages; 0 when
    none) and the page objects in it."""
    counts = [int(n) for n in _TREE_COUNT.findall(pdf)] + [int(n) for n in _COUNT_TREE.findall(pdf)]
    return max(counts, default=0), sum(1 for _ in _PAGE.finditer(pdf))


def _sample(data: str) -> tuple[bytes, int]:
    """The first ``SAMPLE_CHARS`` base64 characters of ``data`` decoded (plain, URL-safe or MIME base64,
    padded or not, or a data URL's: ``data:application/pdf;base64,...``), and the whole document's size in
    bytes."""
    first = data.find(",", 0, 200) + 1 if data.startswith("data:") else 0
    text = data[first : first + SAMPLE_CHARS]
    if "\n" in text:  # MIME base64, in lines of 76
        text = "".join(text.split())
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    if len(data) - first > SAMPLE_CHARS:  # a sample: up to its last whole group of four characters
        text = text[: len(text) - len(text) % 4]
    else:  # the whole: padded if it was not
        text += "=" * (-len(text) % 4)
    whole = (len(data) - first) * 3 // 4
    return binascii.a2b_base64(text), whole


def _object_streams(pdf: bytes) -> Iterator[bytes]:
    """The Flate-compressed object streams of ``pdf``, inflated (``OBJECT_STREAM_BYTES`` each at most, and
    ``INFLATED_BYTES`` in all)."""
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
        yield inflated
