"""``stream_totals``: of the Gemini fragments a relay kept unread because their bytes hold
``"usageMetadata"``, the usage is the last one's that holds it at its top level, not a later one's whose
function call arguments (or text) hold the key; ``compact`` forgets the others without losing it."""

from __future__ import annotations

from typing import Any

import orjson

from sidecar.dialects.gemini.response import stream_usage
from sidecar.server.stream_totals import compact, last_usage
from sidecar.sse import SSEEvent
from sidecar.translate.common import Usage


def with_usage(candidates: int) -> SSEEvent:
    text = {"candidates": [{"content": {"role": "model", "parts": [{"text": "w"}]}, "index": 0}]}
    return SSEEvent(
        orjson.dumps({**text, "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": candidates}})
    )


def part(value: dict[str, Any]) -> SSEEvent:
    return SSEEvent(orjson.dumps({"candidates": [{"content": {"role": "model", "parts": [value]}, "index": 0}]}))


IN_ARGS = part({"functionCall": {"name": "log", "args": {"usageMetadata": {"promptTokenCount": 7}}}})
IN_TEXT = part({"text": "usageMetadata"})


def test_compact_keeps_the_last_that_holds_usage() -> None:
    """Two fragments with usage, then the key in a call's arguments and as a text: only the second's kept
    (its bytes the ones ``compact`` says are still kept)."""
    kept: list[SSEEvent | bytes] = [with_usage(1), with_usage(2), IN_ARGS, IN_TEXT]
    assert compact(kept, stream_usage) == len(with_usage(2).data)
    assert kept == [with_usage(2)]


def test_compact_forgets_what_holds_no_usage() -> None:
    """None of the kept holds usage: none is kept."""
    kept: list[SSEEvent | bytes] = [IN_ARGS, IN_TEXT]
    assert compact(kept, stream_usage) == 0
    assert kept == []


def test_the_last_usage_of_a_read_of_several_events_is_its_last_event_with_usage() -> None:
    """A read of whole events (bytes) whose last event holds the key only in a call's arguments: the usage
    is its first event's; after the kept fragment before it."""
    read = b"".join(b"data: " + event.data + b"\r\n\r\n" for event in (with_usage(3), IN_ARGS))
    assert last_usage([with_usage(2), read], stream_usage, None) == Usage(5, 3)
    assert last_usage([with_usage(2), IN_ARGS], stream_usage, None) == Usage(5, 2)
