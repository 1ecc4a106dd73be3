"""PDF bytes for routing's tests: pages as plain objects or in a compressed object stream (no library)."""

from __future__ import annotations

import base64
import zlib


def _page(number: int) -> bytes:
    return f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {number + 1000} 0 R >>".encode()


def pdf(pages: int, *, object_stream: bool = False, padding: int = 0, tree: bool = True) -> bytes:
    """A PDF of ``pages`` page objects, as plain objects or all in one Flate-compressed ``/ObjStm``
    (as pdfTeX and Word write them); ``padding`` bytes of a binary stream after them (a page's image);
    without ``tree``, no page tree root (``/Type /Pages ... /Count``) is written (as when a long PDF's
    root lies past what is read)."""
    kids = " ".join(f"{3 + n} 0 R" for n in range(pages))
    head = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    if tree:
        head += f"2 0 obj\n<< /Type /Pages /Kids [{kids}] /Count {pages} >>\nendobj\n".encode()
    if object_stream:
        objects = b"\n".join(_page(n) for n in range(pages))
        packed = zlib.compress(objects)
        body = f"9999 0 obj\n<< /Type /ObjStm /N {pages} /First 0 /Filter /FlateDecode /Length {len(packed)} >>\n"
        body_bytes = body.encode() + b"stream\n" + packed + b"\nendstream\nendobj\n"
    else:
        body_bytes = b"".join(f"{3 + n} 0 obj\n".encode() + _page(n) + b"\nendobj\n" for n in range(pages))
    image = b""
    if padding:
        image = f"8888 0 obj\n<< /Length {padding} >>\nstream\n".encode() + bytes(range(256)) * (padding // 256)
        image += b"\nendstream\nendobj\n"
    return head + body_bytes + image + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pdf_base64(pages: int, **kwargs: int | bool) -> str:
    """``pdf(pages, ...)`` as the base64 text a request carries."""
    return base64.b64encode(pdf(pages, **kwargs)).decode()  # type: ignore[arg-type]
