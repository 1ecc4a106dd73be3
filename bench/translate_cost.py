"""Cost of translating one request and one response between dialects (a benchmark, not a test).

    python bench/translate_cost.py [--calls 2000]

Translates a ~2 KB OpenAI chat request (a system prompt, turns, a tool call and its result, two tools)
to Anthropic and Gemini, and a tool-calling Anthropic response to OpenAI, and prints the best of five
rounds in microseconds per call. Translation runs once per request on the event loop; it used to be a
timed unit test (100 us), which a loaded machine made fail at random: the numbers belong here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, translate_request, translate_response

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

ANTHROPIC_TOOL_ANSWER: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "text", "text": "Let me check the weather in Paris for April."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "month": "April"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 412, "output_tokens": 38},
}


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    """The best of five rounds of ``calls`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    options = TranslateOptions()
    rows = [
        (
            f"request openai -> {target.value} ({len(json.dumps(BODY))} bytes)",
            per_call_us(
                lambda target=target: translate_request(
                    BODY,
                    source=Dialect.OPENAI,
                    target=target,
                    operation=Operation.CHAT,
                    target_model="m",
                    options=options,
                ),
                args.calls,
            ),
        )
        for target in (Dialect.ANTHROPIC, Dialect.GEMINI)
    ]
    rows.append(
        (
            "response anthropic (tool call) -> openai",
            per_call_us(
                lambda: translate_response(
                    ANTHROPIC_TOOL_ANSWER,
                    source=Dialect.ANTHROPIC,
                    target=Dialect.OPENAI,
                    operation=Operation.CHAT,
                    model="m",
                ),
                args.calls,
            ),
        )
    )
    print(f"Command: `python bench/translate_cost.py --calls {args.calls}` ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print("| translation | us per call (best of 5) |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
