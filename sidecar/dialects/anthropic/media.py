"""An Anthropic caller's ``image`` and ``document`` blocks, read into the common form's media parts
(``request`` reads every other block): a base64 source as inline data, a ``url`` source as a URL (a
base64 data URL as inline data: ``translate.media.media_part``), a text document's source as text; the
block's fields that no other provider has (a document's citations, title, context) refused by name.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import Part
from ...translate.media import media_part
from ...translate.options import Drops, name_of

_MEDIA_KEYS = frozenset(("type", "source", "cache_control"))


def read_media(kind: str, block: dict[str, Any], drops: Drops) -> Part | None:
    """An ``image`` or ``document`` block as a media part (a text document's source: a text part)."""
    _refuse_fields(kind, block, drops)
    source = block.get("source") or {}
    source_type = source.get("type")
    if source_type == "base64":
        return {"type": "media", "media_type": source.get("media_type"), "data": source.get("data"), "url": None}
    if source_type == "url":
        default = "application/pdf" if kind == "document" else None
        url = source.get("url")
        if isinstance(url, str):  # a data URL is inline data, as a base64 source (``media_part``)
            return media_part(url, default, f"{kind}.source.url")
        return {"type": "media", "media_type": default, "data": None, "url": url}
    if source_type == "text":
        return {"type": "text", "text": source.get("data", "")}
    drops.unsupported(f"{kind}.source.{name_of(source_type)}")
    return None


def _refuse_fields(kind: str, block: dict[str, Any], drops: Drops) -> None:
    """A document's ``citations`` (answer text that cites its passages), ``title`` and ``context`` (shown
    to the model beside it), or any other field of an image or document block but its source, have no
    equivalent at another provider: refused by name (under ``drop``, dropped and listed)."""
    for key, value in block.items():
        if key in _MEDIA_KEYS or value is None:
            continue
        if key == "citations":
            if isinstance(value, dict) and value.get("enabled"):
                drops.unsupported(f"{kind}.citations", "only Anthropic cites the passages of a document")
            continue
        drops.unsupported(f"{kind}.{key}")
