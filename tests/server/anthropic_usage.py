"""An Anthropic upstream answering with given usage, whole or streamed, the prices and usages the usage
and cache tests share (tests/server/test_usage_costs.py, test_usage_prices.py, test_cache_hour_writes.py),
and ``anthropic_asked``, their one question through the Anthropic SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..sdk_clients import anthropic_client
from ..upstream.raw import whole_or_streamed

if TYPE_CHECKING:
    from ..conftest import RunningSidecar

# Dollars per million tokens, large so that a few tokens make whole cents.
IN, CACHED, WRITE, OUT = 1000.0, 100.0, 1250.0, 4000.0


# Anthropic's usage of an answer that wrote 1,000 prompt tokens to the cache and read 2,000 from it.
ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 2000,
    "output_tokens": 50,
}


def anthropic_upstream(usage: dict[str, Any] = ANTHROPIC_USAGE, start: dict[str, Any] | None = None) -> Any:
    """An Anthropic server answering "hi" with ``usage``, whole or streamed (its ``message_start`` with
    ``start``, by default ``usage`` with 1 output token)."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m-1", "stop_sequence": None}
    whole = {**message, "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"}
    whole["usage"] = usage
    start_usage = {**usage, "output_tokens": 1} if start is None else start
    events = [
        (
            "message_start",
            {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "usage": start_usage}},
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": usage,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    sse = [f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events]
    return whole_or_streamed(orjson.dumps(whole), sse, lambda request: bool(orjson.loads(request.body).get("stream")))


# An answer whose 1,000 cache writes are 400 for five minutes and 600 for an hour (Anthropic's
# ``cache_creation`` breakdown of ``cache_creation_input_tokens``).
HOUR_USAGE = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
    "output_tokens": 50,
}


async def anthropic_asked(running: RunningSidecar, stream: bool) -> Any:
    """Ask the sidecar's model ``m`` "hi" through the Anthropic SDK, whole or streamed; the answer's usage."""
    ask: dict[str, Any] = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    async with anthropic_client(running) as client:
        if stream:
            async with client.messages.stream(**ask) as events:
                return (await events.get_final_message()).usage
        return (await client.messages.create(**ask)).usage
