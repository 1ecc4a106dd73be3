"""``stream_usage_held``: whether Gemini stream fragments hold a fragment's usage (a top-level
``usageMetadata``), told from their bytes when they can tell, so that a relay reads only the last one
that holds it; None when only reading the fragment can tell."""

from __future__ import annotations

import pytest

from sidecar.dialects.gemini.response import stream_usage_held

TEXT = b'{"candidates": [{"content": {"parts": [{"text": "hi"}],"role": "model"},"index": 0}]'
USAGE = b'"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 1,"totalTokenCount": 6}'
CALL = b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"log","args":{"usageMetadata":{"a":1}}}}]}}]'


@pytest.mark.parametrize(
    "data",
    [
        TEXT + b"," + USAGE + b',"modelVersion": "gemini-2.5-flash"}',  # as Google writes it
        b'{"candidates":[],"usageMetadata":{"promptTokenCount":5}}',  # compact
        b"data: " + TEXT + b"," + USAGE + b"}\r\n\r\ndata: " + TEXT + b"," + USAGE + b"}\r\n\r\n",  # a read of two
    ],
)
def test_a_usage_metadata_key_where_only_the_top_level_has_one_holds_usage(data: bytes) -> None:
    """Each ``"usageMetadata"`` followed by a colon, and no free-form object (``args``, ``response``,
    ``partMetadata``) that could hold an app's key of that name: usage, told without reading."""
    assert stream_usage_held(data) is True


def test_a_fragment_without_the_key_holds_no_usage() -> None:
    """No ``"usageMetadata"`` in the bytes (a word of the text that says usageMetadata is not the key)."""
    assert stream_usage_held(TEXT.replace(b"hi", b"the usageMetadata field") + b"}") is False


@pytest.mark.parametrize(
    "data",
    [
        CALL + b"}",  # the key in a call's arguments only
        CALL + b"," + USAGE + b"}",  # in a call's arguments and at the top level
        TEXT.replace(b'"hi"', b'"usageMetadata"') + b"}",  # a text part that is the key's name
        b'{"candidates":[],"usageMetadata" : {"promptTokenCount":5}}',  # a space before its colon
        b'{"candidates":[{"content":{"parts":[{"text":"x","partMetadata":{"usageMetadata":{}}}]}}]}',
    ],
)
def test_a_usage_metadata_its_bytes_cannot_place_is_left_to_reading(data: bytes) -> None:
    """The key in a call's arguments or ``partMetadata``, as a text value, or not followed by its colon:
    None, the fragment must be read (``stream_usage``) to know."""
    assert stream_usage_held(data) is None
