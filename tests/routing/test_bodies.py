"""The request's own output maximum read from its one field (``sidecar/routing/bodies.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.routing.bodies import output_limit


@pytest.mark.parametrize(
    ("dialect", "operation", "body", "expected"),
    [
        (Dialect.OPENAI, Operation.CHAT, {"max_completion_tokens": 30, "max_tokens": 10}, 30),
        (Dialect.OPENAI, Operation.RESPONSES, {"max_output_tokens": 40}, 40),
        (Dialect.ANTHROPIC, Operation.CHAT, {"max_tokens": 50}, 50),
        (Dialect.GEMINI, Operation.GENERATE_CONTENT, {"generationConfig": {"maxOutputTokens": 60}}, 60),
        (Dialect.OPENAI, Operation.CHAT, {"max_tokens": True}, None),
        (Dialect.ANTHROPIC, Operation.CHAT, {"max_tokens": 0}, None),
        (Dialect.ANTHROPIC, Operation.COUNT_TOKENS, {"max_tokens": 50}, None),
    ],
)
def test_output_limit_is_the_positive_integer_in_the_dialects_field(
    dialect: Dialect, operation: Operation, body: dict[str, Any], expected: int | None
) -> None:
    """The output maximum is the dialect's field for the operation when a positive integer, else None."""
    assert output_limit(dialect, operation, body) == expected
