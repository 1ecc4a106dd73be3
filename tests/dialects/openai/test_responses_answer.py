"""A common-form answer -> a Responses ``response`` object (``responses_answer``), read with openai-python's
own ``Response`` type: reasoning, text and calls as output items, the status of each finish reason, usage in
the Responses API's names; and the facade translating Anthropic's and Gemini's answers with it."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import Response

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.openai.responses_answer import build_response
from sidecar.translate import translate_response
from sidecar.translate.common import ChatResponse, FinishReason, Part, Usage

PARTS: list[Part] = [
    {"type": "reasoning", "text": "Thinking.", "signature": "sig", "origin": "anthropic", "redacted": False},
    {"type": "text", "text": "Paris"},
    {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
]


def answer(parts: list[Part], finish: FinishReason | None, **choice: Any) -> ChatResponse:
    usage = Usage(input_tokens=20, output_tokens=9, cached_input_tokens=4, cache_write_tokens=2, reasoning_tokens=3)
    return {
        "id": "msg_1",
        "choices": [{"parts": parts, "finish_reason": finish, "stop_sequence": None, **choice}],
        "usage": usage,
    }


def test_reasoning_text_and_calls_are_output_items_in_order() -> None:
    """The reasoning is a ``reasoning`` item with one ``summary_text``, the text a ``message`` with one
    ``output_text``, each call a ``function_call`` with its id as ``call_id`` and JSON arguments."""
    response = Response.model_validate(build_response(answer(PARTS, FinishReason.TOOL_CALLS), "claude-x", {}))
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    reasoning, message, call = response.output
    assert reasoning.type == "reasoning" and [s.text for s in reasoning.summary] == ["Thinking."]
    assert reasoning.encrypted_content is None
    assert message.type == "message" and response.output_text == "Paris"
    assert call.type == "function_call" and (call.call_id, call.name, call.arguments) == (
        "toolu_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert (response.id, response.status, response.model, response.object) == (
        "resp_msg_1",
        "completed",
        "claude-x",
        "response",
    )


def test_usage_is_in_the_responses_apis_names() -> None:
    """``usage``: input (cached and cache-written among them), output (reasoning among them), total."""
    usage = Response.model_validate(build_response(answer(PARTS[1:2], FinishReason.STOP), "m", {})).usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (20, 9, 29)
    assert (usage.input_tokens_details.cached_tokens, usage.input_tokens_details.cache_write_tokens) == (4, 2)
    assert usage.output_tokens_details.reasoning_tokens == 3


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [
        (FinishReason.STOP, "completed", None),
        (FinishReason.STOP_SEQUENCE, "completed", None),
        (FinishReason.LENGTH, "incomplete", "max_output_tokens"),
        (FinishReason.CONTENT_FILTER, "incomplete", "content_filter"),
    ],
)
def test_the_finish_reason_gives_the_status(finish: FinishReason, status: str, reason: str | None) -> None:
    """A length stop or a filter leaves the response ``incomplete`` with its ``incomplete_details.reason``."""
    response = Response.model_validate(build_response(answer(PARTS[1:2], finish), "m", {}))
    assert response.status == status
    assert (response.incomplete_details.reason if response.incomplete_details else None) == reason


def test_citations_and_logprobs_ride_on_the_output_text() -> None:
    """The answer's citations are the ``output_text``'s ``url_citation`` annotations, its tokens its ``logprobs``."""
    cited = {"url": "https://example.com", "title": None, "start": 0, "end": 5}
    tokens = [{"token": "Paris", "logprob": -0.1, "top": [{"token": "Paris", "logprob": -0.1}]}]
    body = build_response(answer(PARTS[1:2], FinishReason.STOP, citations=[cited], logprobs=tokens), "m", {})
    text = Response.model_validate(body).output[0].content[0]  # type: ignore[union-attr]
    assert text.type == "output_text"
    assert [(a.type, a.url, a.start_index, a.end_index) for a in text.annotations] == [  # type: ignore[union-attr]
        ("url_citation", "https://example.com", 0, 5)
    ]
    assert text.logprobs is not None and [(t.token, t.logprob) for t in text.logprobs] == [("Paris", -0.1)]


@pytest.mark.parametrize(
    ("source", "body"),
    [
        (
            Dialect.ANTHROPIC,
            {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [{"type": "text", "text": "Bonjour"}],
                "stop_reason": "max_tokens",
                "usage": {"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 2},
            },
        ),
        (
            Dialect.GEMINI,
            {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "MAX_TOKENS"}
                ],
                "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "cachedContentTokenCount": 2},
                "responseId": "abc",
            },
        ),
    ],
)
def test_the_facade_translates_anthropic_and_gemini_answers(source: Dialect, body: dict[str, Any]) -> None:
    """``translate_response`` for the Responses API: the target's answer as a ``response`` echoing the
    request's instructions, its length stop ``incomplete``, its usage in one meaning (7 input, 2 cached)."""
    request = {"model": "m", "input": "hi", "instructions": "Speak French."}
    out = translate_response(
        body, source=source, target=Dialect.OPENAI, operation=Operation.RESPONSES, model="t", request=request
    )
    response = Response.model_validate(out)
    assert response.output_text == "Bonjour" and response.instructions == "Speak French."
    assert response.status == "incomplete"
    assert response.usage is not None and (
        response.usage.input_tokens,
        response.usage.input_tokens_details.cached_tokens,
    ) == (7, 2)
