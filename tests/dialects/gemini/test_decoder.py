"""The Gemini stream decoder's function calls: ``args`` with integers beyond 64 bits read exactly."""

from __future__ import annotations

import json

from sidecar.dialects.gemini.decoder import GeminiDecoder
from sidecar.sse import SSEEvent
from sidecar.translate.deltas import ToolArgs


def test_two_calls_whose_long_integers_read_alike_as_doubles_keep_their_own_digits() -> None:
    """Two calls in one fragment, ``2**70`` and ``2**70 + 1`` (the same double), each give their own
    integer, digit for digit; a call without a long integer gives its args as they came."""
    big = 2**70
    calls = [{"functionCall": {"name": "f", "args": {"n": n}}} for n in (big, big + 1, 7)]
    data = json.dumps({"candidates": [{"content": {"role": "model", "parts": calls}, "index": 0}]}).encode()
    deltas = GeminiDecoder().feed(SSEEvent(data))
    assert [json.loads(d.fragment)["n"] for d in deltas if isinstance(d, ToolArgs)] == [big, big + 1, 7]
