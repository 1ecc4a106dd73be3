"""The sidecar's one table of error names: what an error object stands for as an HTTP status."""

from __future__ import annotations

import pytest

from sidecar.dialects.errors import status_of_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"code": 503, "status": "INVALID_ARGUMENT"}, 503),
        ({"type": "invalid_request_error", "code": "rate_limit_exceeded"}, 429),
        ({"type": "invalid_request_error", "code": "context_length_exceeded"}, 400),
        ({"type": "overloaded_error"}, 529),
        ({"status": "RESOURCE_EXHAUSTED"}, 429),
        ({"code": "server_is_overloaded"}, 503),
        ({"type": "timeout"}, 504),
    ],
)
def test_an_error_object_stands_for_one_status(error: dict[str, object], status: int) -> None:
    """A numeric code wins; then the most specific name: code, type, status."""
    assert status_of_error(error) == status


@pytest.mark.parametrize("error", [{}, {"code": True}, {"code": 200}, {"type": "mystery"}, {"code": "7"}])
def test_an_error_object_that_says_nothing_known_has_no_status(error: dict[str, object]) -> None:
    """Unknown names, booleans and numbers outside 400-599 give None (the caller picks a default)."""
    assert status_of_error(error) is None
