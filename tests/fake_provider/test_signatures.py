"""The fake providers refuse unsigned or altered reasoning as Anthropic and Gemini 3 do
(``sidecar.fake_provider.signatures``)."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.fake_provider.replies import RequestError
from sidecar.fake_provider.signatures import (
    GEMINI_SKIP,
    anthropic_signature,
    check_anthropic,
    check_gemini,
    gemini_signature,
)

THINKING_ON = {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4000}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}


def loop(*assistant: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "hi"}, {"role": "assistant", "content": list(assistant)}, RESULT]


def signed(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": anthropic_signature(text)}


def test_anthropic_takes_its_own_thinking_back() -> None:
    """A tool loop whose assistant turn starts with the thinking the fake signed passes."""
    check_anthropic(THINKING_ON, loop(signed("plan"), CALL))


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        pytest.param([{"type": "thinking", "thinking": "plan"}, CALL], "thinking.signature: Field required", id="no"),
        pytest.param([{**signed("plan"), "thinking": "edited"}, CALL], "Invalid `signature`", id="altered"),
        pytest.param([CALL], "must start with a thinking block", id="missing"),
        pytest.param([{"type": "redacted_thinking"}, CALL], "redacted_thinking.data: Field required", id="redacted"),
    ],
)
def test_anthropic_refuses_thinking_it_cannot_verify(blocks: list[dict[str, Any]], error: str) -> None:
    """A thinking block without its signature, or altered, a redacted one without data, or a tool loop's
    turn without its thinking while thinking is on: Anthropic's 400."""
    with pytest.raises(RequestError, match=error):
        check_anthropic(THINKING_ON, loop(*blocks))


def test_anthropic_without_thinking_takes_a_turn_without_it() -> None:
    """With thinking off, a tool loop's turn need not start with thinking."""
    check_anthropic({"max_tokens": 10}, loop(CALL))


def gemini_loop(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    response = {"functionResponse": {"name": "f", "response": {}}}
    return [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": list(parts)}, {"parts": [response]}]


@pytest.mark.parametrize("signature", [GEMINI_SKIP, gemini_signature("gemini-3-pro-preview", 1)])
def test_gemini_3_takes_a_signed_first_call(signature: str) -> None:
    """The first call signed (its own signature or the documented skip value), the second unsigned: passes."""
    call = {"functionCall": {"name": "f", "args": {}}}
    check_gemini("gemini-3-pro-preview", gemini_loop({**call, "thoughtSignature": signature}, call))


@pytest.mark.parametrize(
    ("signature", "error"), [(None, "missing a thought_signature"), ("bm90IG1pbmU=", "Corrupted thought signature")]
)
def test_gemini_3_refuses_an_unsigned_or_foreign_call(signature: str | None, error: str) -> None:
    """The current turn's first call without a signature, or with one Gemini did not make: its 400."""
    call: dict[str, Any] = {"functionCall": {"name": "f", "args": {}}}
    if signature:
        call["thoughtSignature"] = signature
    with pytest.raises(RequestError, match=error):
        check_gemini("gemini-3-pro-preview", gemini_loop(call))


def test_gemini_checks_only_the_current_turn_and_only_gemini_3() -> None:
    """An unsigned call before the last user text, or on Gemini 2.5, is not checked."""
    unsigned = gemini_loop({"functionCall": {"name": "f", "args": {}}})
    check_gemini("gemini-2.5-flash", unsigned)
    check_gemini("gemini-3-pro-preview", [*unsigned, {"role": "model", "parts": [{"text": "ok"}]}, unsigned[0]])


def test_gemini_3_reads_the_model_contents_in_a_row_as_one_step() -> None:
    """A streamed chat's history keeps one model content per fragment: a thought content, the signed call's,
    then a second call's without a signature are one step whose first call is signed (taken); the same
    step with its first call unsigned is refused."""
    call = {"functionCall": {"name": "f", "args": {}}}
    signed = {**call, "thoughtSignature": gemini_signature("gemini-3-pro-preview", 1)}
    user, _, response = gemini_loop()
    thought = {"role": "model", "parts": [{"text": "plan", "thought": True}]}
    check_gemini("gemini-3-pro-preview", [user, thought, model(signed), model(call), response])
    with pytest.raises(RequestError, match="missing a thought_signature"):
        check_gemini("gemini-3-pro-preview", [user, thought, model(call), model(signed), response])


def model(part: dict[str, Any]) -> dict[str, Any]:
    return {"role": "model", "parts": [part]}
