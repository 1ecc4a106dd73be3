"""The OpenAI dialect: the body sent to an OpenAI upstream, and which error events the SDK raises on."""

from __future__ import annotations

import orjson

from sidecar.dialects import Operation
from sidecar.dialects.openai.wire import WIRE
from sidecar.sse import SSEEvent


def test_a_same_dialect_stream_asks_for_usage_and_keeps_the_apps_stream_options() -> None:
    """A streamed chat goes with the policy's model and include_usage on, the app's options kept."""
    body = {"model": "m", "stream": True, "stream_options": {"continuous_usage_stats": True}}
    sent = orjson.loads(WIRE.same_dialect_body(body, b"", "up-m", Operation.CHAT, True, max_tokens=9))
    assert sent["model"] == "up-m"
    assert sent["stream_options"] == {"continuous_usage_stats": True, "include_usage": True}


def test_an_error_payload_without_a_message_is_not_one_the_sdk_raises_on_with_it() -> None:
    """openai-python raises on ``{"error": ...}``; without a message the provider's text is lost."""
    assert WIRE.error_event_raises(SSEEvent(b'{"error":{"message":"rate limited","type":"requests"}}'))
    assert not WIRE.error_event_raises(SSEEvent(b'{"error":{"type":"requests"}}'))
    assert not WIRE.error_event_raises(SSEEvent(b'{"error":"rate limited"}'))
