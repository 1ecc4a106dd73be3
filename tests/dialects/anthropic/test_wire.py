"""The Anthropic dialect: which error events the SDK raises on."""

from __future__ import annotations

from sidecar.dialects.anthropic.wire import WIRE
from sidecar.sse import SSEEvent


def test_an_error_without_its_event_name_is_not_one_the_sdk_raises_on() -> None:
    """The Anthropic SDK raises only on ``event: error``; the same data unnamed is read past."""
    data = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert WIRE.error_event_raises(SSEEvent(data, "error"))
    assert not WIRE.error_event_raises(SSEEvent(data))
