"""An OpenAI caller's message, tool call and content part fields that translation does not carry
(``sidecar.dialects.openai.fields``): refused by name under "error" and dropped, listed, under "drop";
the ones that change nothing generated (an answer's reasoning sent back, caching hints, a file's name)
listed in either mode. Before 2026-12-06 all of them were left out unsaid."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect

from ..named_fields import assert_refused_then_listed, translated

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0x"
QUESTION = {"role": "user", "content": "Weather in Oslo?"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
RESULT = {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def request(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": messages}


def loop(call: dict[str, Any] = CALL, answer: dict[str, Any] | None = None, result: Any = RESULT) -> list[Any]:
    """An app's tool loop: its question, the model's call (``answer`` adds to that message), the result."""
    return [QUESTION, {"role": "assistant", "content": None, "tool_calls": [call], **(answer or {})}, result]


def parts(*content: dict[str, Any]) -> list[Any]:
    return [{"role": "user", "content": list(content)}]


REFUSED = {
    "system.priority": [{"role": "system", "content": "Be brief.", "priority": 1}, QUESTION],
    "developer.x": [{"role": "developer", "content": "Be brief.", "x": True}, QUESTION],
    "user.x": [{**QUESTION, "x": "y"}],
    "assistant.audio": loop(answer={"audio": {"id": "audio_1"}}),
    "tool.x": loop(result={**RESULT, "x": 1}),
    "tool_calls.x": loop(call={**CALL, "x": 1}),
    "tool_calls.function.strict": loop(call={**CALL, "function": {**CALL["function"], "strict": True}}),
    "text.x": parts({"type": "text", "text": "hi", "x": 1}),
    "refusal.x": loop(answer={"content": [{"type": "refusal", "refusal": "no", "x": 1}]}),
    "image_url.x": parts({"type": "image_url", "image_url": {"url": PNG, "x": 1}}),
    "file.x": parts({"type": "file", "file": {"file_data": PDF}, "x": 1}),
}


@pytest.mark.parametrize("target", [ANT, GEM])
@pytest.mark.parametrize("name", list(REFUSED))
def test_a_field_with_no_place_is_refused_by_name_or_dropped_and_listed(name: str, target: Dialect) -> None:
    """A message's, tool call's or part's field the target has no place for is refused as
    ``<role>.<field>``, ``tool_calls.<field>`` or ``<type>.<field>`` under "error", listed under "drop"."""
    assert_refused_then_listed(request(REFUSED[name]), OAI, target, name)


@pytest.mark.parametrize("target", [ANT, GEM])
def test_an_answer_sent_back_as_the_sdk_echoes_it_is_listed_not_refused(target: Dialect) -> None:
    """An assistant message as openai-python sends an answer back (``refusal``, ``audio``, ``function_call``
    null; ``annotations`` empty; the ``reasoning_content`` the sidecar's translated answers carry; a
    streamed call's ``index``) is taken under "error": only what it held that does not travel is listed."""
    answer = {
        "refusal": None,
        "annotations": [],
        "audio": None,
        "function_call": None,
        "reasoning_content": "The user wants Oslo.",
    }
    out, dropped = translated(request(loop(call={**CALL, "index": 0}, answer=answer)), OAI, target)
    assert dropped == ["assistant.reasoning_content", "tool_calls.index"]
    assert "Oslo" in str(out)


def test_caching_hints_and_a_files_name_are_listed_not_refused() -> None:
    """A part's ``prompt_cache_breakpoint`` (openai-python 3.63) or gateway-style ``cache_control``, and a
    file's ``filename``, change nothing generated: listed under "error", the parts translated."""
    content = [
        {"type": "text", "text": "Summarise:", "prompt_cache_breakpoint": {"mode": "explicit"}},
        {"type": "file", "file": {"file_data": PDF, "filename": "report.pdf"}, "cache_control": {"type": "ephemeral"}},
    ]
    out, dropped = translated(request(parts(*content)), OAI, ANT)
    assert dropped == ["prompt_cache_breakpoint", "cache_control", "file.filename"]
    assert [block["type"] for block in out["messages"][0]["content"]] == ["text", "document"]
