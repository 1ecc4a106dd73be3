"""``dialects.anthropic.searches``: the web searches an Anthropic stream's events show, counted as Anthropic
bills them (a failed search is not billed; an answer's text that names the tool is no search)."""

from __future__ import annotations

from typing import Any

import orjson

from sidecar.dialects import Operation
from sidecar.dialects.anthropic.searches import stream_searches


def start(block: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "content_block_start", "index": 0, "content_block": block})


def test_searches_opened_less_failed_results_are_counted_and_a_text_naming_the_tool_is_not() -> None:
    """Two ``web_search`` blocks and one ``web_fetch``, one result a ``web_search_tool_result_error``: one
    search; a text delta quoting ``"web_search"`` and a usage saying ``web_search_requests`` count nothing."""
    tally = stream_searches(Operation.CHAT)
    events = [
        start({"type": "server_tool_use", "id": "a", "name": "web_search", "input": {}}),
        start({"type": "server_tool_use", "id": "b", "name": "web_search", "input": {}}),
        start({"type": "server_tool_use", "id": "c", "name": "web_fetch", "input": {}}),
        start({"type": "web_search_tool_result", "tool_use_id": "a", "content": []}),
        start(
            {"type": "web_search_tool_result", "tool_use_id": "b", "content": {"type": "web_search_tool_result_error"}}
        ),
        orjson.dumps(
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": '"web_search"'}}
        ),
        orjson.dumps({"type": "message_delta", "usage": {"server_tool_use": {"web_search_requests": 5}}}),
        b"not json",
    ]
    for data in events:
        if data.find(tally.key) >= 0:
            tally.see(data)
    assert tally.count() == 1
