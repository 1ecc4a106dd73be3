"""Token caps: clamp or set max output tokens per dialect, refuse an oversized prompt."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.routing.caps import TokenCaps, set_output_limit

from .requests import features


def test_larger_request_is_clamped() -> None:
    """A request asking for more than the cap gets the cap."""
    assert TokenCaps(max_output_tokens=1000).output_tokens(4000) == 1000


def test_smaller_request_is_left_alone() -> None:
    """A request under the cap keeps its own value (None: nothing to change)."""
    assert TokenCaps(max_output_tokens=1000).output_tokens(200) is None


def test_absent_max_is_set_unless_told_not_to() -> None:
    """No max in the request: the cap is set, unless set_when_absent is false."""
    assert TokenCaps(max_output_tokens=1000).output_tokens(None) == 1000
    assert TokenCaps(max_output_tokens=1000, set_when_absent=False).output_tokens(None) is None


def test_oversized_prompt_has_a_clear_message() -> None:
    """An estimated prompt over max_input_tokens gives the 413 message; under it, none."""
    caps = TokenCaps(max_input_tokens=1000)
    assert caps.input_problem(features("short")) is None
    message = caps.input_problem(features("word " * 5000))
    assert message is not None and "this route accepts at most 1,000" in message


@pytest.mark.parametrize(
    ("dialect", "operation", "body", "expected"),
    [
        (Dialect.OPENAI, Operation.CHAT, {"messages": []}, {"messages": [], "max_completion_tokens": 50}),
        (Dialect.OPENAI, Operation.CHAT, {"max_tokens": 900}, {"max_tokens": 50}),
        (Dialect.OPENAI, Operation.RESPONSES, {"input": "x"}, {"input": "x", "max_output_tokens": 50}),
        (Dialect.OPENAI, Operation.TEXT_COMPLETION, {"prompt": "x"}, {"prompt": "x", "max_tokens": 50}),
        (Dialect.ANTHROPIC, Operation.CHAT, {"max_tokens": 900}, {"max_tokens": 50}),
        (
            Dialect.GEMINI,
            Operation.GENERATE_CONTENT,
            {"contents": []},
            {"contents": [], "generationConfig": {"maxOutputTokens": 50}},
        ),
        (
            Dialect.GEMINI,
            Operation.GENERATE_CONTENT,
            {"generation_config": {"max_output_tokens": 900, "temperature": 0}},
            {"generation_config": {"maxOutputTokens": 50, "temperature": 0}},
        ),
    ],
)
def test_limit_is_written_where_the_dialect_reads_it(
    dialect: Dialect, operation: Operation, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    """set_output_limit writes max_completion_tokens, max_output_tokens, max_tokens or maxOutputTokens."""
    assert set_output_limit(body, dialect, operation, 50) == expected


def test_original_body_is_not_changed() -> None:
    """set_output_limit returns a copy; the body the app sent is untouched."""
    body = {"generationConfig": {"maxOutputTokens": 900}}
    set_output_limit(body, Dialect.GEMINI, Operation.GENERATE_CONTENT, 50)
    assert body == {"generationConfig": {"maxOutputTokens": 900}}
