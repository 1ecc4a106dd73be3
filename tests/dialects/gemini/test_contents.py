"""Gemini function responses paired with their calls when some carry an ``id`` and some do not
(bench/translation_fuzz.py found these sent to OpenAI with a result answering no call and a call left
unanswered, which OpenAI refuses): an answered id is no longer waiting for a result, and an id no call of
the request has is paired by the function's name, as Gemini itself pairs them."""

from __future__ import annotations

from typing import Any

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, translate_request


def to_openai(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"contents": contents}
    out = translate_request(
        body,
        source=Dialect.GEMINI,
        target=Dialect.OPENAI,
        operation=Operation.CHAT,
        target_model="gpt-4o",
        options=TranslateOptions(),
    )[0]
    return out["messages"]


def call(name: str, ident: str | None = None) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": {}, **({"id": ident} if ident else {})}}


def result(name: str, ident: str | None = None) -> dict[str, Any]:
    return {"functionResponse": {"name": name, "response": {"ok": 1}, **({"id": ident} if ident else {})}}


def pairs(messages: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The call ids in order, and the ids the tool messages answer, in order."""
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or ()]
    return calls, [m["tool_call_id"] for m in messages if m["role"] == "tool"]


def test_a_result_with_its_calls_id_leaves_no_stale_call_waiting_for_a_later_result_without_one() -> None:
    """A call answered by id in one turn is not answered again by a later result without an id: that result
    answers the later call of the same name."""
    messages = to_openai(
        [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [call("f", "a")]},
            {"role": "user", "parts": [result("f", "a")]},
            {"role": "model", "parts": [call("f")]},
            {"role": "user", "parts": [result("f")]},
        ]
    )
    calls, answered = pairs(messages)
    assert answered == calls == ["a", "call_3_0"]


def test_a_result_whose_id_no_call_has_answers_the_waiting_call_of_its_name() -> None:
    """A result carrying an id that no call of the request has (its call had none) answers the earliest
    waiting call of its name, never a call id OpenAI would not find."""
    messages = to_openai(
        [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [call("f"), call("f", "b")]},
            {"role": "user", "parts": [result("f", "x"), result("f", "b")]},
        ]
    )
    calls, answered = pairs(messages)
    assert sorted(answered) == sorted(calls) == sorted(["call_1_0", "b"])
