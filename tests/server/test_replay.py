"""A whole answer sent as a stream (an ensemble's chosen answer, the static last resort): its citations
reach the streaming caller where its own provider streams them, read by the official SDKs."""

from __future__ import annotations

from typing import Any

from sidecar.dialects import Dialect
from sidecar.server.replay import response_stream_bytes, stream_replay
from sidecar.translate import parse_chat_response

from ..translate import sdk

TEXT = "Crème brûlée — 東京 🍮 is cited here."
START = TEXT.index("cited")
ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": TEXT,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "url": "https://a.test",
                            "title": "A",
                            "start_index": START,
                            "end_index": START + 5,
                        },
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
}


def test_a_cited_whole_answer_streams_its_citations_to_each_sdk() -> None:
    """openai-python's final message has the annotation over the same text; google-genai's last fragment
    (the answer read into the common form, sent to a Gemini caller) has it in bytes of the whole text."""
    final = sdk.openai_final(stream_replay(ANSWER, Dialect.OPENAI, model="m", include_usage=False)[0])
    message = final.choices[0].message
    (annotation,) = message.annotations or []
    assert message.content[annotation.url_citation.start_index : annotation.url_citation.end_index] == "cited"
    common = parse_chat_response(ANSWER, Dialect.OPENAI)
    fragments = sdk.gemini_stream(response_stream_bytes(common, Dialect.GEMINI, model="m", include_usage=False))
    (citation,) = fragments[-1].candidates[0].citation_metadata.citations
    text = "".join(fragment.text or "" for fragment in fragments)
    assert text.encode()[citation.start_index : citation.end_index] == b"cited"
