"""Which Gemini ``fileData`` URIs another provider can download: an ``http(s)`` URL, but not a file Google
keeps (a Files API upload, a Cloud Storage object), which the Gemini request translation refuses
(``GOOGLE_ONLY_URI``). See https://ai.google.dev/api/files and
https://ai.google.dev/gemini-api/docs/file-input-methods.
"""

from __future__ import annotations

from typing import Any

GOOGLE_ONLY_URI = (
    "a Gemini Files API or Cloud Storage URI, which only Gemini can read (send the file inline, or by a public URL)"
)
"""Why a ``fileData`` part naming a file Google keeps cannot be translated, in either ``unsupported`` mode
(dropped, the question would reach the provider without what it asks about): a ``client.files.upload``
URI (``https://generativelanguage.googleapis.com/v1beta/files/...``, read with the app's Gemini key) or a
``gs://`` object. Another provider, asked to download it, answers with its own 400, which ends the route;
refused here, the route's next target (Gemini) serves it."""
_GOOGLE_FILES_HOST = "generativelanguage.googleapis.com"


def fetchable(uri: Any) -> bool:
    """Whether another provider can download ``uri``: an ``http(s)`` URL outside Google's Files API."""
    if type(uri) is not str:
        return True  # the target's own validation names a missing or malformed URI
    scheme, _, rest = uri.partition("://")
    return scheme.lower() in ("http", "https") and rest.split("/", 1)[0].lower() != _GOOGLE_FILES_HOST
