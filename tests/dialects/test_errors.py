"""The sidecar's one table of error names: what an error object stands for as an HTTP status, and the
condition it stands for, which each dialect words in its provider's own type and code."""

from __future__ import annotations

from types import ModuleType

import pytest

from sidecar.dialects import Dialect
from sidecar.dialects.anthropic import response as anthropic_response
from sidecar.dialects.errors import ErrorCondition, ErrorInfo, condition_of, status_of_error
from sidecar.dialects.gemini import response as gemini_response
from sidecar.dialects.openai import response as openai_response


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


_RPC = "type.googleapis.com/google.rpc."
_PER_DAY = [{"@type": _RPC + "QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]}]
_PER_MINUTE = [{"@type": _RPC + "QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerMinutePerProject"}]}]
C = ErrorCondition
OAI, A, G = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI


@pytest.mark.parametrize(
    ("dialect", "status", "error", "condition"),
    [
        (
            OAI,
            429,
            {"type": "requests", "code": "rate_limit_exceeded", "message": "Rate limit reached"},
            C.RATE_LIMITED,
        ),
        (OAI, 429, {"type": "insufficient_quota", "code": "insufficient_quota", "message": "quota"}, C.QUOTA_EXHAUSTED),
        (OAI, 429, {"type": "tokens", "message": "You exceeded your current quota"}, C.QUOTA_EXHAUSTED),
        (A, 402, {"type": "billing_error", "message": "billing"}, C.QUOTA_EXHAUSTED),
        (A, 400, {"type": "invalid_request_error", "message": "Your credit balance is too low"}, C.QUOTA_EXHAUSTED),
        (G, 429, {"status": "RESOURCE_EXHAUSTED", "message": "quota", "details": _PER_DAY}, C.QUOTA_EXHAUSTED),
        (G, 429, {"status": "RESOURCE_EXHAUSTED", "message": "quota", "details": _PER_MINUTE}, C.RATE_LIMITED),
        (G, 429, {"status": "RESOURCE_EXHAUSTED", "message": "You exceeded your current quota"}, C.RATE_LIMITED),
        (A, 529, {"type": "overloaded_error", "message": "Overloaded"}, C.OVERLOADED),
        (OAI, 503, {"type": "service_unavailable_error", "code": "server_is_overloaded", "message": "x"}, C.OVERLOADED),
        (G, 503, {"status": "UNAVAILABLE", "message": "The model is overloaded."}, C.OVERLOADED),
        (G, 503, {"status": "UNAVAILABLE", "message": "The service is currently unavailable."}, C.SERVER_ERROR),
        (OAI, 401, {"type": "invalid_request_error", "code": "invalid_api_key", "message": "x"}, C.AUTHENTICATION),
        (A, 403, {"type": "permission_error", "message": "x"}, C.PERMISSION),
        (G, 404, {"status": "NOT_FOUND", "message": "models/x is not found"}, C.NOT_FOUND),
        (
            OAI,
            400,
            {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "x"},
            C.CONTEXT_OVERFLOW,
        ),
        (
            A,
            400,
            {"type": "invalid_request_error", "message": "prompt is too long: 9 tokens > 8 maximum"},
            C.CONTEXT_OVERFLOW,
        ),
        (
            G,
            400,
            {"status": "INVALID_ARGUMENT", "message": "The input token count (9) exceeds the maximum"},
            C.CONTEXT_OVERFLOW,
        ),
        (A, 413, {"type": "request_too_large", "message": "Request exceeds the maximum size"}, C.REQUEST_TOO_LARGE),
        (A, 504, {"type": "timeout_error", "message": "x"}, C.TIMEOUT),
        (G, 500, {"status": "INTERNAL", "message": "An internal error has occurred."}, C.SERVER_ERROR),
        (OAI, 400, {"type": "invalid_request_error", "message": "Invalid value for 'temperature'"}, C.INVALID_REQUEST),
        (OAI, 418, {"message": "teapot"}, C.INVALID_REQUEST),
    ],
)
def test_a_providers_error_stands_for_one_condition(
    dialect: Dialect, status: int, error: dict[str, object], condition: ErrorCondition
) -> None:
    """Each provider's real error for a condition reads as that condition (the one reading, which
    ``resilience.classify`` decides on too): a Gemini quota message on a per-minute limit is a rate limit."""
    assert condition_of(dialect, status, ErrorInfo.of({"error": error})) is condition


@pytest.mark.parametrize("module", [openai_response, anthropic_response, gemini_response], ids=lambda m: m.__name__)
def test_each_dialect_words_every_condition(module: ModuleType) -> None:
    """Every dialect says every condition in its provider's words: no condition falls to a default."""
    assert set(module.ERROR_WORDS) == set(ErrorCondition)
