"""The Responses API stream encoder (common deltas -> Responses events): every event is one of
openai-python's own ``ResponseStreamEvent`` types, numbered from 0; reasoning, text and tool calls are
items one after the other; the last event's response is the whole answer, which the SDK's stream helper
returns; a length stop ends with ``response.incomplete``; an upstream failure with the error the SDK
raises on."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from sidecar.dialects.openai.responses_encoder import ResponsesEncoder
from sidecar.sse import SSEEvent
from sidecar.translate.common import Citation, FinishReason, Usage
from sidecar.translate.deltas import (
    Cited,
    Delta,
    End,
    Failure,
    Finish,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)

from ...translate import sdk

EVENT = TypeAdapter(ResponseStreamEvent)
USAGE = Usage(input_tokens=11, output_tokens=7, cached_input_tokens=3, reasoning_tokens=2)
CITED: Citation = {"url": "https://example.com/a", "title": "A", "start": 0, "end": 5}
ANSWER: list[Delta] = [
    Start("msg_01"),
    Reasoning("Let me "),
    Reasoning("think."),
    ReasoningSignature("sig", "anthropic"),
    Text("Hello"),
    Text(" world"),
    Cited((CITED,)),
    ToolStart(0, "toolu_1", "get_weather"),
    ToolArgs(0, '{"city":'),
    ToolArgs(0, '"Paris"}'),
    ToolStart(1, "toolu_2", "get_time"),
    Finish(FinishReason.TOOL_CALLS, "tool_use"),
    UsageSeen(USAGE),
    End(),
]


def encoded(deltas: list[Delta], request: dict[str, Any] | None = None) -> list[SSEEvent]:
    encoder = ResponsesEncoder("claude-x", request or {"model": "m", "input": "hi"})
    events = [event for delta in deltas for event in encoder.feed(delta)]
    return events + encoder.close()


def payloads(events: list[SSEEvent]) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in events]


def test_every_event_is_an_sdk_event_type_named_as_its_type_and_numbered_in_order() -> None:
    """Each event validates as openai-python's ``ResponseStreamEvent``, its SSE name is its ``type``, and
    the ``sequence_number``s are 0, 1, 2... in the order sent."""
    events = encoded(ANSWER)
    for event in events:
        EVENT.validate_python(json.loads(event.data))
        assert event.event == json.loads(event.data)["type"]
    assert [body["sequence_number"] for body in payloads(events)] == list(range(len(events)))


def test_reasoning_text_and_calls_are_items_one_after_the_other() -> None:
    """Reasoning, the text and each call open and close as items in the order they came, each closed
    before the next opens; the signature has no place and is left out."""
    kinds = [body["type"] for body in payloads(encoded(ANSWER))]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_the_last_event_holds_the_whole_answer_with_its_usage() -> None:
    """``response.completed``'s response is a ``Response`` holding every item (a call without argument
    text has ``{}``) and the usage in the Responses API's names; the id is the upstream's, prefixed."""
    last = payloads(encoded(ANSWER))[-1]["response"]
    response = Response.model_validate(last)
    assert response.id == "resp_msg_01" and response.status == "completed" and response.model == "claude-x"
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call", "function_call"]
    assert response.output_text == "Hello world"
    calls = [(item.call_id, item.name, item.arguments) for item in response.output if item.type == "function_call"]
    assert calls == [("toolu_1", "get_weather", '{"city":"Paris"}'), ("toolu_2", "get_time", "{}")]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (11, 7, 18)
    assert response.usage.input_tokens_details.cached_tokens == 3
    assert response.usage.output_tokens_details.reasoning_tokens == 2


def test_the_sdks_stream_helper_returns_the_final_response() -> None:
    """openai-python's ``responses.stream`` over the encoded bytes yields the text deltas and
    ``get_final_response`` the completed response, with the reasoning summary and the citation."""
    body = b"".join(event.encode() for event in encoded(ANSWER))
    client = sdk.openai_client(body)
    with client.responses.stream(model="m", input="hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Hello world" == final.output_text
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and [s.text for s in reasoning.summary] == ["Let me think."]
    message = final.output[1]
    assert message.type == "message" and message.content[0].type == "output_text"
    assert [a.model_dump() for a in message.content[0].annotations] == [
        {"type": "url_citation", "url": "https://example.com/a", "title": "A", "start_index": 0, "end_index": 5}
    ]


@pytest.mark.parametrize(
    ("reason", "incomplete"),
    [(FinishReason.LENGTH, "max_output_tokens"), (FinishReason.CONTENT_FILTER, "content_filter")],
)
def test_a_length_or_filter_stop_ends_with_response_incomplete(reason: FinishReason, incomplete: str) -> None:
    """An answer cut by its length or a filter ends with ``response.incomplete``, its response
    ``incomplete`` with the reason, its message item ``incomplete``."""
    last = payloads(encoded([Start(None), Text("Hel"), Finish(reason, "x"), End()]))[-1]
    assert last["type"] == "response.incomplete"
    response = Response.model_validate(last["response"])
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == incomplete
    assert response.output[0].type == "message" and response.output[0].status == "incomplete"


def test_an_upstream_failure_ends_with_the_error_the_sdk_raises() -> None:
    """A ``Failure`` after text ends the stream with ``data: {"error": ...}`` and nothing after it: the
    SDK raises ``APIError`` with the message, after the text already yielded."""
    encoder = ResponsesEncoder("m", {})
    events = [event for delta in (Start(None), Text("Hi"), Failure(529, "Overloaded")) for event in encoder.feed(delta)]
    assert encoder.close() == [] and encoder.feed(Text("more")) == []
    client = sdk.openai_client(b"".join(event.encode() for event in events))
    deltas: list[str] = []
    with pytest.raises(openai.APIError, match="Overloaded"), client.responses.stream(model="m", input="hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert deltas == ["Hi"]


def test_an_answer_of_nothing_is_one_empty_message() -> None:
    """A stream that ended with no text, reasoning or call still completes, with one empty message item
    (``output_text`` empty), as OpenAI answers nothing."""
    response = Response.model_validate(payloads(encoded([End()]))[-1]["response"])
    assert response.status == "completed" and response.output_text == ""
    assert [item.type for item in response.output] == ["message"]


def test_the_request_settings_are_echoed() -> None:
    """The response objects echo the request's settings (``instructions``, ``tools``, ``temperature``...)
    and OpenAI's defaults for those not sent; ``store`` is false."""
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}, "strict": True}
    request = {"model": "m", "input": "hi", "instructions": "Be brief.", "tools": [tool], "temperature": 0.2}
    first = payloads(encoded([Start(None), Text("x"), End()], request))[0]["response"]
    assert first["status"] == "in_progress" and first["usage"] is None
    assert (first["instructions"], first["tools"], first["temperature"]) == ("Be brief.", [tool], 0.2)
    assert (first["tool_choice"], first["parallel_tool_calls"], first["store"]) == ("auto", True, False)
