"""Which Gemini ``fileData`` URIs another provider can download (``sidecar.dialects.gemini.files``)."""

from __future__ import annotations

import pytest

from sidecar.dialects.gemini.files import fetchable


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://images.example/cat.png", True),
        ("http://images.example/cat.png", True),
        ("https://generativelanguage.googleapis.com/v1beta/files/abc", False),
        ("HTTPS://GenerativeLanguage.googleapis.com/v1beta/files/abc", False),
        ("gs://bucket/cat.png", False),
        ("ftp://host/cat.png", False),
    ],
)
def test_only_public_http_urls_are_fetchable_elsewhere(uri: str, expected: bool) -> None:
    """A public http(s) URL is; a Files API upload, a Cloud Storage object or another scheme is not."""
    assert fetchable(uri) is expected
