"""What the Responses API tests share (``test_responses_api``, ``test_responses_translated``): openai-python's
async client pointed at a sidecar (``client_at``, with a fake provider's fault header when asked) and the
one function tool they declare (``TOOLS``)."""

from __future__ import annotations

import openai

from ..sdk_clients import sdk_client

TOOLS: list[openai.types.responses.ToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def client_at(url: str, fault: str | None = None) -> openai.AsyncOpenAI:
    headers = {"x-fake-fault": fault} if fault else None
    return sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x", default_headers=headers)
