"""Media types of images and documents: a base64 data URI split, a media type guessed from a URL."""

from __future__ import annotations

# Media types spelt otherwise than the registered name, which Anthropic and Gemini alone accept.
_MEDIA_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


def split_data_uri(url: str) -> tuple[str | None, str] | None:
    """``data:image/png;base64,AAAA`` -> ``("image/png", "AAAA")``; None when not a base64 data URI. The
    media type is lower-cased and a common alias (``image/jpg``, which OpenAI takes) becomes its
    registered name."""
    if not url.startswith("data:"):
        return None
    comma = url.find(",")
    if comma < 0:
        return None
    head = url[5:comma]
    if not head.endswith(";base64"):
        return None
    media = head[:-7].lower() or None
    return _MEDIA_ALIASES.get(media, media) if media else None, url[comma + 1 :]


_EXT_TYPES = (
    (".png", "image/png"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".gif", "image/gif"),
    (".webp", "image/webp"),
    (".pdf", "application/pdf"),
)


def guess_media_type(url: str, default: str = "image/jpeg") -> str:
    """A media type from a URL's extension (query string ignored)."""
    path = url.split("?", 1)[0].lower()
    for ext, media in _EXT_TYPES:
        if path.endswith(ext):
            return media
    return default
