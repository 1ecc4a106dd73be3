"""Checking answers against a route's gates: each gate, their order, every schema form, clear messages."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.answers import AnswerView, ToolCallView, answer_view
from sidecar.dialects import Dialect, Operation
from sidecar.dialects.anthropic import response as anthropic_response
from sidecar.dialects.gemini import response as gemini_response
from sidecar.dialects.openai import response as openai_response
from sidecar.gates import GatesSpec, SchemaValidators, compile_gates, requested_json

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["spam", "ham"]}, "score": {"type": "number"}},
    "required": ["label"],
    "additionalProperties": False,
}


def gates(**block: Any):
    return compile_gates(GatesSpec.model_validate(block), SchemaValidators())


def text(value: str, finish: str | None = "stop") -> AnswerView:
    return AnswerView(value, (), finish)


def test_plain_answer_passes():
    """A normal answer passes the default gates when the request asks no JSON."""
    assert gates().check(text("ham")) is None


def test_empty_answer_fails_non_empty():
    """Blank text with no tool call fails non_empty; a tool call alone is not empty."""
    failure = gates().check(text("  \n"))
    assert failure is not None
    assert (failure.gate, str(failure)) == ("non_empty", "quality gate non_empty failed: the answer is empty")
    assert gates().check(AnswerView("", (ToolCallView("f", {}),))) is None
    assert gates(non_empty=False, refusal=False).check(text("")) is None


def test_refusal_fails_and_can_be_turned_off():
    """A refusal fails the refusal gate, unless the gate is off."""
    failure = gates().check(text("I'm sorry, but I can't help with that request."))
    assert failure is not None
    assert failure.gate == "refusal"
    assert failure.message == "the answer is a refusal (\"i'm sorry, but i can't\")"
    assert gates(refusal=False).check(text("I'm sorry, but I can't help with that request.")) is None


def request_expectation(dialect: Dialect, operation: Operation, body: dict[str, Any]):
    expectation = requested_json(body, dialect, operation)
    assert expectation is not None
    return expectation


OPENAI_FORMAT = {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('{"label": "spam", "score": 0.9}', None),
        (
            '{"label": "eggs"}',
            "the answer does not match response_format json_schema: $.label must be one of ['spam', 'ham']",
        ),
        (
            '{"label": "spam", "why": 1}',
            "the answer does not match response_format json_schema: $ must not contain {'why'} properties",
        ),
        (
            '{"label": "spam"',
            "the answer is not valid JSON (response_format json_schema): unexpected end of data at character 16",
        ),
        (
            '```json\n{"label": "spam"}\n```',
            "the answer is not valid JSON (response_format json_schema): "
            "unexpected character, expected a JSON value at character 0",
        ),
    ],
)
def test_openai_response_format_schema(answer, message):
    """OpenAI json_schema: the text must be exactly JSON matching the schema; failures say where."""
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, OPENAI_FORMAT)
    failure = gates().check(text(answer), expectation)
    assert (failure.message if failure else None) == message
    assert failure is None or failure.gate == "json_schema"


def test_json_object_needs_an_object():
    """json_object mode: any JSON object passes, other JSON fails."""
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, {"response_format": {"type": "json_object"}})
    assert gates().check(text('{"any": [1]}'), expectation) is None
    failure = gates().check(text("[1]"), expectation)
    assert failure is not None
    assert failure.message.endswith("$ must be object")


def test_gemini_response_schema_from_a_real_answer():
    """Gemini responseSchema (native form) checks the text of a parsed Gemini response."""
    body = {
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]},
        }
    }
    expectation = request_expectation(Dialect.GEMINI, Operation.GENERATE_CONTENT, body)
    good = {"candidates": [{"content": {"parts": [{"text": '{"n": 3}'}]}, "finishReason": "STOP"}]}
    bad = {"candidates": [{"content": {"parts": [{"text": '{"n": "3"}'}]}, "finishReason": "STOP"}]}
    assert gates().check(answer_view(gemini_response.parse_response(good)), expectation) is None
    failure = gates().check(answer_view(gemini_response.parse_response(bad)), expectation)
    assert failure is not None
    assert failure.message == "the answer does not match responseSchema: $.n must be integer"


def test_forced_tool_arguments_are_checked():
    """A forced tool's arguments are validated against its input schema (Anthropic tool_use here)."""
    body = {
        "tools": [{"name": "classify", "input_schema": SCHEMA}],
        "tool_choice": {"type": "tool", "name": "classify"},
    }
    expectation = request_expectation(Dialect.ANTHROPIC, Operation.CHAT, body)

    def answer(tool_input: Any) -> AnswerView:
        block = {"type": "tool_use", "id": "t", "name": "classify", "input": tool_input}
        return answer_view(anthropic_response.parse_response({"content": [block], "stop_reason": "tool_use"}))

    assert gates().check(answer({"label": "ham"}), expectation) is None
    failure = gates().check(answer({}), expectation)
    assert failure is not None
    assert failure.message == "the answer does not match tool classify: $ must contain ['label'] properties"
    failure = gates().check(text("ham"), expectation)
    assert failure is not None
    assert failure.message == "the answer does not call the required tool 'classify'"


def test_broken_tool_arguments():
    """OpenAI tool arguments that are not a JSON object fail with that said."""
    body = {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, body)
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"label": '}}
    response = {"choices": [{"message": {"role": "assistant", "tool_calls": [call]}, "finish_reason": "tool_calls"}]}
    failure = gates().check(answer_view(openai_response.parse_response(response)), expectation)
    assert failure is not None
    assert failure.message == "the arguments of 'f' are not a JSON object"


def test_request_schema_ignored_when_off():
    """json_schema: off never checks JSON, even when the request asks for it."""
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, OPENAI_FORMAT)
    assert gates(json_schema="off").check(text("not json"), expectation) is None


def test_policy_schema_applies_to_every_answer():
    """A schema in the policy checks every answer, whatever the request asked."""
    strict = gates(json_schema={"schema": SCHEMA})
    assert strict.check(text('{"label": "ham"}')) is None
    failure = strict.check(text('{"label": 1}'))
    assert failure is not None
    assert failure.message == "the answer does not match the policy's schema: $.label must be string"


def test_unusable_request_schema_checks_json_only():
    """A request schema the validator cannot compile is not enforced beyond valid JSON."""
    body = {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/nowhere"}}}}
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, body)
    assert gates().check(text('{"a": 1}'), expectation) is None
    failure = gates().check(text("nope"), expectation)
    assert failure is not None
    assert failure.gate == "json_schema"


def test_regex_gate():
    """The regex gate needs a match somewhere in the answer."""
    label = gates(regex={"pattern": r"^(spam|ham)$", "flags": ["ignorecase"]})
    assert label.check(text("HAM")) is None
    failure = label.check(text("probably ham"))
    assert failure is not None
    assert failure.message == "the answer does not match '^(spam|ham)$'"


def test_first_failing_gate_is_reported():
    """Gates run in order non_empty, refusal, json_schema, regex; the first failure is the one reported."""
    expectation = request_expectation(Dialect.OPENAI, Operation.CHAT, OPENAI_FORMAT)
    all_on = gates(regex={"pattern": "spam"})
    refusal = all_on.check(text("I can't help with that."), expectation)
    assert refusal is not None
    assert refusal.gate == "refusal"
    schema = all_on.check(text('{"label": "ham"}x'), expectation)
    assert schema is not None
    assert schema.gate == "json_schema"
    regex = all_on.check(text('{"label": "ham"}'), expectation)
    assert regex is not None
    assert regex.gate == "regex"
