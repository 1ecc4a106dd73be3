"""Media types of images and documents: a base64 data URI split, a media type guessed from a URL, and a
caller's URL as the common form's media part (``media_part``: a data URL is inline data)."""

from __future__ import annotations

from .common import MediaPart
from .options import TranslationError

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


def media_part(url: str, default_type: str | None, field: str) -> MediaPart:
    """A caller's URL (an OpenAI ``image_url.url`` or ``file.file_data``, an Anthropic ``url`` source's)
    as a media part: its data when it is a base64 data URL, else the URL. A data URL of another form
    (``data:image/png,...``, percent-encoded) is refused naming ``field``: the other dialects take base64
    data, or a URL their provider fetches, which a data URL is not (it went to Gemini as a ``fileUri``,
    its type guessed as JPEG)."""
    split = split_data_uri(url)
    if split is not None:
        return {"type": "media", "media_type": split[0] or default_type, "data": split[1], "url": None}
    if url[:5].lower() == "data:":
        raise TranslationError(f"{field}: a data URL must hold base64 data (data:<media type>;base64,<data>)")
    return {"type": "media", "media_type": default_type, "data": None, "url": url}


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
