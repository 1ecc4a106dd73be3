"""The per-request path stays cheap: a ~2 KB chat request translates in well under 100 microseconds."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, translate_request, translate_response

from .test_responses import BODIES

BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant that answers concisely. " * 4},
        {"role": "user", "content": "Hello there, I need help planning a trip to Paris in the spring. " * 3},
        {
            "role": "assistant",
            "content": "Sure! What dates are you considering and what is your budget? " * 2,
        },
        {"role": "user", "content": "Mid April, around 2000 euros. Also check the weather please."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris","month":"April"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"avg_high_c": 16, "rain_days": 9}'},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the typical weather for a city and month",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "City name"},
                        "month": {"type": "string"},
                    },
                    "required": ["city", "month"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "search_hotels",
                "description": "Search hotels",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "max_price": {"type": "number"},
                        "stars": {"type": "integer"},
                    },
                    "required": ["city"],
                },
            },
        },
    ],
    "temperature": 0.7,
    "max_tokens": 500,
}


def _per_call(fn: Any, n: int = 2000) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


@pytest.mark.parametrize("target", [Dialect.ANTHROPIC, Dialect.GEMINI])
def test_chat_request_under_100us(target: Dialect) -> None:
    """A 2 KB OpenAI chat request translates to Anthropic or Gemini in under 100 microseconds."""
    assert 1500 < len(json.dumps(BODY)) < 2500
    options = TranslateOptions()
    seconds = _per_call(
        lambda: translate_request(
            BODY,
            source=Dialect.OPENAI,
            target=target,
            operation=Operation.CHAT,
            target_model="m",
            options=options,
        )
    )
    assert seconds < 100e-6, f"{seconds * 1e6:.1f} us"


def test_response_under_100us() -> None:
    """A tool-calling Anthropic response translates to OpenAI in under 100 microseconds."""
    body = BODIES[Dialect.ANTHROPIC]("tools")
    seconds = _per_call(
        lambda: translate_response(
            body, source=Dialect.ANTHROPIC, target=Dialect.OPENAI, operation=Operation.CHAT, model="m"
        )
    )
    assert seconds < 100e-6, f"{seconds * 1e6:.1f} us"
