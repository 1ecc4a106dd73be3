"""The dialect-neutral view of an answer, read from each dialect's parsed response."""

from __future__ import annotations

from sidecar.answers import answer_view
from sidecar.dialects.anthropic import response as anthropic_response
from sidecar.dialects.gemini import response as gemini_response
from sidecar.dialects.openai import response as openai_response


def test_text_answer_from_each_dialect():
    """Text parts are joined; the finish reason is the common one."""
    openai_body = {"choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]}
    anthropic_body = {
        "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}],
        "stop_reason": "end_turn",
    }
    gemini_body = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}
    assert answer_view(openai_response.parse_response(openai_body)).content == "Hi"
    assert answer_view(anthropic_response.parse_response(anthropic_body)).text == "Hi!"
    view = answer_view(gemini_response.parse_response(gemini_body))
    assert (view.content, view.finish_reason) == ("Hi", "stop")


def test_tool_call_answer_content_is_its_arguments():
    """An answer made only of tool calls reads as the first call's arguments in JSON."""
    body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    view = answer_view(openai_response.parse_response(body))
    assert view.content == '{"a":1}'
    assert view.tool_calls[0].raw is None


def test_broken_arguments_keep_their_text():
    """Arguments that are not a JSON object are kept as the text the model sent."""
    body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    view = answer_view(openai_response.parse_response(body))
    assert view.tool_calls[0].raw == '{"a": 1'
    assert view.content == '{"a": 1'


def test_no_choice_is_an_empty_answer():
    """A response without choices is an empty answer."""
    assert answer_view({"id": None, "choices": [], "usage": None}).content == ""
