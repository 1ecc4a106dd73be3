"""signals: reading error bodies of every shape, and mapping in-stream errors to statuses."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects.errors import ErrorInfo
from sidecar.resilience.signals import (
    MAX_BODY_PARSE_BYTES,
    parse_json_body,
    stream_error_status,
)


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (
            {"error": {"message": "m", "type": "t", "code": "c", "param": None}},
            ("t", "c", "", "m"),
        ),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ("overloaded_error", "", "", "Overloaded"),
        ),
        ({"error": {"code": 503, "message": "m", "status": "UNAVAILABLE"}}, ("", "503", "UNAVAILABLE", "m")),
        (
            [{"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}}],
            ("", "429", "RESOURCE_EXHAUSTED", "m"),
        ),
        (
            {"object": "error", "message": "m", "type": "BadRequestError", "code": 400},
            ("BadRequestError", "400", "", "m"),
        ),
        ({"error": "model not found"}, ("", "", "", "model not found")),
        ({"error": {"message": ["x"], "type": None}}, ("", "", "", "")),
        (None, ("", "", "", "")),
        ("just a string", ("", "", "", "")),
        ([], ("", "", "", "")),
    ],
)
def test_error_info_reads_every_shape(root: Any, expected: tuple[str, str, str, str]) -> None:
    """OpenAI, Anthropic, Gemini (object and list), vLLM top-level, Ollama string, and junk all read."""
    info = ErrorInfo.of(root)
    assert (info.type, info.code, info.status, info.message) == expected


def test_long_messages_are_cut() -> None:
    """Only the first 4 KiB of a message is kept for matching."""
    assert len(ErrorInfo.of({"error": {"message": "x" * 100_000}}).message) == 4096


def test_oversized_bodies_are_not_parsed() -> None:
    """A body past MAX_BODY_PARSE_BYTES is not decoded at all."""
    big = b'{"error": {"message": "' + b"x" * MAX_BODY_PARSE_BYTES + b'"}}'
    assert parse_json_body(big) is None


@pytest.mark.parametrize(
    ("err", "status"),
    [
        ({"code": 502, "message": "upstream"}, 502),
        ({"type": "overloaded_error"}, 529),
        ({"status": "RESOURCE_EXHAUSTED", "code": "x"}, 429),
        ({"code": "context_length_exceeded"}, 400),
        ({"code": True, "type": "api_error"}, 500),
        ({"code": 200}, None),
        ({"message": "boom"}, None),
    ],
)
def test_stream_error_status(err: dict[str, Any], status: int | None) -> None:
    """A numeric 4xx/5xx code wins; otherwise the type, code or RPC status name maps to a status."""
    assert stream_error_status(err) == status
