"""Names written in response headers (``x-sidecar-route``, ``x-sidecar-model``, the dropped parameters...):
visible ASCII goes out as it is; anything else is percent-encoded as UTF-8 (RFC 3986), ``%`` included,
so that ``urllib.parse.unquote`` / ``decodeURIComponent`` gives the name back.

Why: a header value is bytes with no charset (RFC 9110 5.5: new fields keep to US-ASCII). httpx and
aiohttp guess UTF-8, but Node (undici's ``fetch``, ``node:http``) and Python's ``http.client`` read
such bytes as Latin-1, so ``modèle`` reached a Node app as ``modÃ¨le``. A name a caller chose (a
parameter it sent, which a translation dropped) may also hold a line break, which would split the
answer's head: encoded, it is text like any other.

``header_text`` encodes one name; ``header_item`` one item of a comma-separated list (a ``,`` in it is
encoded too, so the list splits where the sidecar put commas).
"""

from __future__ import annotations

from urllib.parse import quote

_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
"""Visible ASCII but ``%``: kept as it is (``quote`` keeps letters, digits and ``_.-~`` anyway)."""
_ITEM = _VISIBLE.replace(",", "")


def header_text(name: str) -> str:
    """``name`` as a header value: itself when it is visible ASCII without ``%``, else percent-encoded."""
    if name.isascii() and name.isprintable() and "%" not in name and " " not in name:
        return name  # nearly every name: four C-level scans, no copy
    return quote(name, safe=_VISIBLE)


def header_item(name: str) -> str:
    """``name`` as one item of a comma-separated header value (``header_text``, and ``,`` encoded)."""
    if name.isascii() and name.isprintable() and "%" not in name and " " not in name and "," not in name:
        return name
    return quote(name, safe=_ITEM)
