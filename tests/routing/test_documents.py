"""The prompt tokens of a document sent inline (``sidecar/routing/documents.py``)."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable

import pytest

from sidecar.routing.documents import (
    BYTES_PER_PAGE,
    FILE_TOKENS,
    INFLATED_BYTES,
    MIN_PAGE_BYTES,
    OBJECT_STREAM_BYTES,
    PAGE_TOKENS,
    SAMPLE_CHARS,
    document_tokens,
    pdf_pages,
)
from sidecar.routing.tokens import estimate_bytes

from .pdfs import pdf, pdf_base64


@pytest.mark.parametrize("pages", [1, 7, 200])
@pytest.mark.parametrize("object_stream", [False, True])
def test_a_pdf_counts_its_page_objects_plain_or_in_a_compressed_object_stream(pages: int, object_stream: bool) -> None:
    """A PDF's pages are its page objects (not the page tree's /Pages), written plainly or packed in a
    Flate-compressed object stream as pdfTeX and Word write them; each page counts PAGE_TOKENS."""
    data = pdf_base64(pages, object_stream=object_stream)
    assert pdf_pages(data) == pages
    assert document_tokens("application/pdf", data) == pages * PAGE_TOKENS


@pytest.mark.parametrize("encode", [base64.b64encode, base64.encodebytes], ids=["plain", "mime-lines"])
def test_a_pdf_longer_than_the_sample_counts_its_page_trees_count(encode: Callable[[bytes], bytes]) -> None:
    """A PDF whose base64 is longer than SAMPLE_CHARS (pages followed by 8 MB of images) counts the
    ``/Count`` of its page tree's root, found in the sample: its pages, not its size scaled; in MIME
    base64's lines of 76 too (the sample cut after a group of four characters, not inside one)."""
    data = encode(pdf(120, padding=8_000_000)).decode()
    assert len(data) > 2 * SAMPLE_CHARS
    assert pdf_pages(data) == 120


def test_a_long_pdf_without_its_page_tree_in_the_sample_scales_its_page_objects() -> None:
    """A PDF longer than the sample whose page tree's root is not in it counts the page objects of the
    sample scaled by its whole size (40,000 evenly written pages: within 2 % of them)."""
    data = pdf_base64(40_000, tree=False)
    assert len(data) > SAMPLE_CHARS
    assert abs(pdf_pages(data) - 40_000) <= 800


def test_a_page_count_past_one_page_per_min_page_bytes_is_not_believed() -> None:
    """A page tree claiming more pages than its bytes could hold (``/Count 999999999`` in a PDF of some 300 bytes)
    counts one page per MIN_PAGE_BYTES of its size."""
    raw = pdf(1).replace(b"/Count 1", b"/Count 999999999")
    assert pdf_pages(base64.b64encode(raw).decode()) == len(raw) // MIN_PAGE_BYTES


def test_url_safe_unpadded_base64_and_a_data_url_count_the_same_pages() -> None:
    """The same PDF as URL-safe base64 without padding, inside a data URL, or as MIME base64 in lines of 76,
    counts the same pages."""
    raw = pdf(31, padding=1000)
    plain = base64.b64encode(raw).decode()
    assert plain.endswith("=")  # the padding the URL-safe form drops
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert "-" in url_safe or "_" in url_safe
    mime = base64.encodebytes(raw).decode()
    assert pdf_pages(plain) == pdf_pages(url_safe) == pdf_pages(f"data:application/pdf;base64,{plain}") == 31
    assert pdf_pages(mime) == 31


def test_a_pdf_without_page_objects_counts_a_page_per_bytes_per_page() -> None:
    """A PDF in which no page object is found (encrypted, another filter) counts one page per
    BYTES_PER_PAGE of its size, at least one."""
    scanned = base64.b64encode(b"%PDF-1.7\n" + b"\x00\x01" * (3 * BYTES_PER_PAGE)).decode()
    assert pdf_pages(scanned) == 6
    assert pdf_pages(base64.b64encode(b"%PDF-1.7\n").decode()) == 1


def test_a_text_file_counts_its_text_and_an_unreadable_file_one_page() -> None:
    """A text file sent inline counts its text's tokens; a value that is not base64, an empty one, or
    a type neither PDF nor text counts FILE_TOKENS."""
    text = b"The quarterly numbers rose by four percent. " * 500
    assert document_tokens("text/plain", base64.b64encode(text).decode()) == estimate_bytes(text)
    assert document_tokens("application/pdf", "\u00e9t\u00e9") == FILE_TOKENS
    assert document_tokens("application/pdf", "") == FILE_TOKENS
    assert document_tokens("application/zip", base64.b64encode(text).decode()) == FILE_TOKENS


def test_object_streams_are_inflated_up_to_a_bound_in_all() -> None:
    """A PDF of deflate bombs (object streams of spaces, 8 MiB each from 8 KB) is inflated up to
    INFLATED_BYTES in all: an object stream of pages after that much is not read, and the PDF counts
    a page per BYTES_PER_PAGE instead."""
    bomb = zlib.compress(b" " * (8 << 20), 9)
    stream = b"<< /Type /ObjStm /N 1 /First 0 /Filter /FlateDecode >>\nstream\n" + bomb + b"\nendstream\n"
    bombs = INFLATED_BYTES // OBJECT_STREAM_BYTES  # each read up to OBJECT_STREAM_BYTES
    pages = pdf(5, object_stream=True, tree=False)
    below = b"%PDF-1.5\n" + stream * (bombs - 1) + pages
    at = b"%PDF-1.5\n" + stream * bombs + pages
    assert pdf_pages(base64.b64encode(below).decode()) == 5
    assert pdf_pages(base64.b64encode(at).decode()) == max(1, len(at) // BYTES_PER_PAGE)
