"""``dialects.openai.searches``: the web searches an OpenAI stream's events show: one for a chat that cites
the web, each ``web_search_call`` item of a Responses stream once, by its id."""

from __future__ import annotations

import orjson

from sidecar.dialects import Operation
from sidecar.dialects.openai.searches import stream_searches


def test_a_responses_stream_counts_each_search_item_once_and_a_chat_one_search() -> None:
    """A Responses stream showing item ``ws_1`` added and done, ``ws_2`` added, then ``response.completed``
    listing both: 2; a chat whose two chunks cite the web: 1; a legacy completion: no tally."""
    responses = stream_searches(Operation.RESPONSES)
    assert responses is not None
    call = {"type": "web_search_call", "status": "in_progress"}
    for data in (
        {"type": "response.output_item.added", "item": {**call, "id": "ws_1"}},
        {"type": "response.output_item.done", "item": {**call, "id": "ws_1", "status": "completed"}},
        {"type": "response.output_item.added", "item": {**call, "id": "ws_2"}},
        {"type": "response.completed", "response": {"output": [{**call, "id": "ws_1"}, {**call, "id": "ws_2"}]}},
    ):
        responses.see(orjson.dumps(data))
    assert responses.count() == 2
    chat = stream_searches(Operation.CHAT)
    assert chat is not None
    chat.see(b'{"annotations":[{"type":"url_citation"}]}')
    chat.see(b'{"annotations":[{"type":"url_citation"}]}')
    assert chat.count() == 1
    assert stream_searches(Operation.TEXT_COMPLETION) is None
