"""Provider streams that ran web searches and broke off before the event that reports them, as each
provider streams them (tests/server/test_budget_cut_searches.py): ``cut_stream`` answers each request
with the events and closes the connection without ending the chunked body (the upstream cut it).

- Anthropic: ``message_start`` (no search yet), two ``server_tool_use`` blocks named ``web_search`` with
  their ``web_search_tool_result``, a third whose result is a ``web_search_tool_result_error`` (not
  billed), then text; the ``message_delta`` that would say ``web_search_requests: 2`` never comes.
- OpenAI Responses: two ``web_search_call`` items (added, in progress, searching, completed, done), then
  the message's text; no ``response.completed``.
- OpenAI chat of a search model: the text and its ``url_citation`` annotation; no usage chunk.
- Gemini: three fragments with the usage so far, the second's candidate grounded with two queries
  (``groundingMetadata.webSearchQueries``); the relay reads the last fragment's usage alone.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..upstream.raw import Handler, ServerConn

TEXT = "It is sunny in Paris today"


def _named(events: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    return [f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events]


def _block(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {"type": "content_block_start", "index": index, "content_block": block}
    return [("content_block_start", start), ("content_block_stop", {"type": "content_block_stop", "index": index})]


def _search(index: int, ident: str, content: Any) -> list[tuple[str, dict[str, Any]]]:
    """A ``web_search`` server tool call (its query streamed) and its result block."""
    use = {"type": "server_tool_use", "id": ident, "name": "web_search", "input": {}}
    query = {"type": "input_json_delta", "partial_json": '{"query": "weather paris"}'}
    delta = ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": query})
    start, stop = _block(index, use)
    result = {"type": "web_search_tool_result", "tool_use_id": ident, "content": content}
    return [start, delta, stop, *_block(index + 1, result)]


def anthropic_searched() -> list[bytes]:
    """An Anthropic stream that ran two searches (a third failed) and broke off in its text."""
    usage = {"input_tokens": 100, "output_tokens": 1, "server_tool_use": {"web_search_requests": 0}}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m-1", "content": []}
    message |= {"stop_reason": None, "stop_sequence": None, "usage": usage}
    found = [{"type": "web_search_result", "title": "e", "url": "https://e.x", "encrypted_content": "x"}]
    failed = {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}
    text = {"type": "text_delta", "text": TEXT}
    events = [("message_start", {"type": "message_start", "message": message})]
    events += _search(0, "srvtoolu_1", found) + _search(2, "srvtoolu_2", found) + _search(4, "srvtoolu_3", failed)
    events.append(_block(6, {"type": "text", "text": ""})[0])
    events.append(("content_block_delta", {"type": "content_block_delta", "index": 6, "delta": text}))
    return _named(events)


def responses_searched() -> list[bytes]:
    """An OpenAI Responses stream that ran two web searches and broke off in its text."""
    head = {"id": "resp_1", "object": "response", "created_at": 1, "model": "m-1", "status": "in_progress"}
    head |= {"output": [], "usage": None, "tools": [], "tool_choice": "auto", "parallel_tool_calls": True}
    events: list[tuple[str, dict[str, Any]]] = [("response.created", {"type": "response.created", "response": head})]
    for index in range(2):
        item = {"id": f"ws_{index}", "type": "web_search_call", "status": "in_progress"}
        events.append(("response.output_item.added", {"output_index": index, "item": item}))
        for step in ("in_progress", "searching", "completed"):
            events.append((f"response.web_search_call.{step}", {"output_index": index, "item_id": item["id"]}))
        done = {**item, "status": "completed", "action": {"type": "search", "query": "weather paris"}}
        events.append(("response.output_item.done", {"output_index": index, "item": done}))
    message = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    place = {"item_id": "msg_1", "output_index": 2, "content_index": 0}
    events += [
        ("response.output_item.added", {"output_index": 2, "item": message}),
        ("response.content_part.added", {**place, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ("response.output_text.delta", {**place, "delta": TEXT}),
    ]
    numbered = [(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(events)]
    return _named(numbered)


def chat_cited() -> list[bytes]:
    """A search model's chat stream (gpt-4o-search-preview) that cited the web and broke off before its
    finish and usage chunks."""
    source = {"url": "https://e.x", "title": "e", "start_index": 0, "end_index": 2}
    cited = {"type": "url_citation", "url_citation": source}
    chunk = {"id": "c1", "created": 1, "model": "m-1", "object": "chat.completion.chunk"}
    deltas = [{"role": "assistant", "content": TEXT}, {"annotations": [cited]}]
    chunks = [{**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks]


def gemini_grounded(finished: bool = False) -> list[bytes]:
    """A Gemini stream whose second fragment was grounded with two queries, broken off after its third
    (``finished``: the third ends it, ``finishReason: STOP``)."""
    grounding = {
        "webSearchQueries": ["weather paris", "weather lyon"],
        "groundingChunks": [{"web": {"uri": "https://e.x"}}],
    }
    fragments = []
    for n, words in enumerate(("It is", " sunny", " today")):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": words}]}, "index": 0}
        if n == 1:
            candidate["groundingMetadata"] = grounding
        if n == 2 and finished:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 100, "candidatesTokenCount": 2 * (n + 1), "totalTokenCount": 102 + 2 * n}
        fragments.append({"candidates": [candidate], "usageMetadata": usage, "modelVersion": "m-1", "responseId": "r1"})
    return [b"data: " + orjson.dumps(fragment) + b"\r\n\r\n" for fragment in fragments]


def cut_stream(events: list[bytes], cut: bool = True) -> Handler:
    """A handler answering each request with ``events`` (a chunk each), then closing the connection
    without the chunked body's end: the stream breaks off (``cut``; else the body ends, then the
    connection closes)."""

    async def handler(conn: ServerConn) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for event in events:
            await conn.send(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        if not cut:
            await conn.send(b"0\r\n\r\n")
        conn.writer.close()

    return handler
