"""classify_*: each provider's real error bodies, network exceptions, timeouts and in-stream errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from sidecar.dialects import Dialect
from sidecar.dialects.registry import DIALECTS
from sidecar.resilience.classify import (
    DEFAULT_FALLBACK_STATUSES,
    Outcome,
    OutcomeKind,
    classify_response,
)

NOW = 1_750_000_000.0
OPENAI, ANTHROPIC, GEMINI = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI


def body(obj: Any) -> bytes:
    return orjson.dumps(obj)


def openai_error(message: str, type_: str, code: str | None = None, param: str | None = None) -> bytes:
    return body({"error": {"message": message, "type": type_, "param": param, "code": code}})


def anthropic_error(type_: str, message: str) -> bytes:
    return body({"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_011CXyz"})


def gemini_error(code: int, status: str, message: str, details: list[Any] | None = None) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        err["details"] = details
    return body({"error": err})


def quota_failure(quota_id: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"},
                "quotaValue": "15",
            }
        ],
    }


def retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


GEMINI_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


def classify(dialect: Dialect, status: int, raw: bytes, headers: dict[str, str] | None = None) -> Outcome:
    return classify_response(dialect, status, headers or {}, raw, now_wall=NOW)


# -- success -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_success(status: int) -> None:
    """Any 2xx is SUCCESS and counts for nothing else."""
    outcome = classify(OPENAI, status, b'{"id": "chatcmpl-1"}')
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.status == status
    assert not outcome.breaker_failure
    assert not outcome.rate_limited


# -- OpenAI ---------------------------------------------------------------------------------------------


def test_openai_rate_limit_retries_same_with_reset_hint() -> None:
    """OpenAI 429 rate_limit_exceeded: RETRY_SAME, hint from the exhausted resource's reset header."""
    raw = openai_error(
        "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, "
        "Used 29000, Requested 2000. Please try again in 2s.",
        "tokens",
        "rate_limit_exceeded",
    )
    headers = {
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "2s",
    }
    outcome = classify(OPENAI, 429, raw, headers)
    assert outcome == Outcome(OutcomeKind.RETRY_SAME, 429, "rate_limited", 2.0, False, True, outcome.detail)
    assert outcome.detail.startswith("Rate limit reached")


def test_openai_insufficient_quota_falls_back() -> None:
    """OpenAI 429 insufficient_quota: the quota is gone, so FALLBACK at once, never to the same target
    again within the request (``no_retry``); not a breaker failure."""
    raw = openai_error(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    )
    outcome = classify(OPENAI, 429, raw)
    assert outcome.kind is OutcomeKind.FALLBACK
    assert outcome.error_type == "insufficient_quota"
    assert outcome.rate_limited and outcome.no_retry
    assert not outcome.breaker_failure


def test_openai_compatible_quota_message_without_code() -> None:
    """An OpenAI-compatible 429 with only the quota wording is still quota exhaustion."""
    raw = body({"error": {"message": "You exceeded your current quota, please check your plan."}})
    assert classify(OPENAI, 429, raw).error_type == "insufficient_quota"


def test_openai_context_length_exceeded_code() -> None:
    """OpenAI 400 code context_length_exceeded: CONTEXT_OVERFLOW."""
    raw = openai_error(
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130532 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )
    outcome = classify(OPENAI, 400, raw)
    assert outcome.kind is OutcomeKind.CONTEXT_OVERFLOW
    assert outcome.error_type == "context_overflow"
    assert not outcome.breaker_failure


def test_vllm_context_overflow_by_message_and_top_level_error() -> None:
    """vLLM: the error object at the top level, a different code, the same wording: CONTEXT_OVERFLOW."""
    raw = body(
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 "
            "tokens (4000 in the messages, 1000 in the completion).",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    )
    assert classify(OPENAI, 400, raw).kind is OutcomeKind.CONTEXT_OVERFLOW


def test_mistral_context_overflow_wording() -> None:
    """Mistral's 'too large for model with N maximum context length' is CONTEXT_OVERFLOW."""
    raw = openai_error(
        "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
        "invalid_request_error",
    )
    assert classify(OPENAI, 400, raw).kind is OutcomeKind.CONTEXT_OVERFLOW


def test_openai_500_falls_back_and_counts_for_breaker() -> None:
    """OpenAI 500 server_error: FALLBACK, breaker failure."""
    raw = openai_error("The server had an error while processing your request. Sorry about that!", "server_error")
    assert classify(OPENAI, 500, raw) == Outcome(
        OutcomeKind.FALLBACK,
        500,
        "http_500",
        None,
        True,
        False,
        "The server had an error while processing your request. Sorry about that!",
    )


def test_openai_503_overloaded() -> None:
    """OpenAI 503 with 'overloaded' wording is error_type overloaded."""
    raw = openai_error("The engine is currently overloaded, please try again later", "server_error")
    outcome = classify(OPENAI, 503, raw)
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        "overloaded",
        True,
    )


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (
            401,
            openai_error("Incorrect API key provided: sk-abc.", "invalid_request_error", "invalid_api_key"),
        ),
        (400, openai_error("Invalid value for 'temperature'.", "invalid_request_error", "invalid_value")),
        (404, openai_error("The model `gpt-9` does not exist", "invalid_request_error", "model_not_found")),
        (413, b"request entity too large"),
        (422, b'{"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}'),
    ],
)
def test_openai_request_errors_fail_fast(status: int, raw: bytes) -> None:
    """400/401/404/413/422 caused by the request: FAIL_FAST, never a breaker failure."""
    outcome = classify(OPENAI, status, raw)
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FAIL_FAST, f"http_{status}")
    assert not outcome.breaker_failure
    assert not outcome.rate_limited


# -- Anthropic -------------------------------------------------------------------------------------------


def test_anthropic_529_overloaded() -> None:
    """Anthropic 529 overloaded_error: FALLBACK overloaded, breaker failure."""
    outcome = classify(ANTHROPIC, 529, anthropic_error("overloaded_error", "Overloaded"))
    assert (outcome.kind, outcome.status, outcome.error_type) == (OutcomeKind.FALLBACK, 529, "overloaded")
    assert outcome.breaker_failure
    assert outcome.detail == "Overloaded"


def test_anthropic_500_api_error() -> None:
    """Anthropic 500 api_error: FALLBACK http_500, breaker failure."""
    outcome = classify(ANTHROPIC, 500, anthropic_error("api_error", "Internal server error"))
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        "http_500",
        True,
    )


def test_anthropic_rate_limit_uses_retry_after() -> None:
    """Anthropic 429 rate_limit_error: RETRY_SAME with retry-after; not a breaker failure."""
    raw = anthropic_error(
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50,000 input tokens per minute.",
    )
    headers = {
        "retry-after": "12",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2025-06-15T12:00:00Z",
    }
    outcome = classify(ANTHROPIC, 429, raw, headers)
    assert (outcome.kind, outcome.retry_after_s, outcome.rate_limited) == (OutcomeKind.RETRY_SAME, 12.0, True)
    assert not outcome.breaker_failure


def test_anthropic_402_billing_error_falls_back() -> None:
    """Anthropic 402 billing_error: FALLBACK insufficient_quota."""
    outcome = classify(ANTHROPIC, 402, anthropic_error("billing_error", "Your account has a billing issue."))
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FALLBACK, "insufficient_quota")
    assert not outcome.breaker_failure


def test_anthropic_credit_balance_too_low_falls_back() -> None:
    """Anthropic's 400 'credit balance is too low' is quota gone, not a bad request."""
    raw = anthropic_error(
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
        "upgrade or purchase credits.",
    )
    outcome = classify(ANTHROPIC, 400, raw)
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FALLBACK, "insufficient_quota")


@pytest.mark.parametrize(
    "message",
    [
        "prompt is too long: 215000 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000, decrease input "
        "length or `max_tokens` and try again",
    ],
)
def test_anthropic_context_overflow(message: str) -> None:
    """Anthropic 'prompt is too long' and 'exceed context limit': CONTEXT_OVERFLOW."""
    outcome = classify(ANTHROPIC, 400, anthropic_error("invalid_request_error", message))
    assert outcome.kind is OutcomeKind.CONTEXT_OVERFLOW


def test_anthropic_413_request_too_large_fails_fast() -> None:
    """Anthropic 413 request_too_large (bytes, not tokens): FAIL_FAST, not a context overflow."""
    raw = anthropic_error("request_too_large", "Request exceeds the maximum allowed number of bytes.")
    assert classify(ANTHROPIC, 413, raw).kind is OutcomeKind.FAIL_FAST


def test_anthropic_401_fails_fast() -> None:
    """Anthropic 401 authentication_error: FAIL_FAST."""
    raw = anthropic_error("authentication_error", "invalid x-api-key")
    assert classify(ANTHROPIC, 401, raw).kind is OutcomeKind.FAIL_FAST


# -- Gemini -------------------------------------------------------------------------------------------------


def test_gemini_per_minute_quota_retries_same_with_retry_info() -> None:
    """Gemini 429 on a per-minute quota: RETRY_SAME with RetryInfo's delay (despite the 'quota' wording)."""
    raw = gemini_error(
        429,
        "RESOURCE_EXHAUSTED",
        GEMINI_QUOTA_MESSAGE,
        [quota_failure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"), retry_info("37s")],
    )
    outcome = classify(GEMINI, 429, raw)
    assert (outcome.kind, outcome.retry_after_s, outcome.rate_limited) == (OutcomeKind.RETRY_SAME, 37.0, True)


def test_gemini_per_day_quota_falls_back() -> None:
    """Gemini 429 on a per-day quota: FALLBACK insufficient_quota, keeping the delay as information."""
    raw = gemini_error(
        429,
        "RESOURCE_EXHAUSTED",
        GEMINI_QUOTA_MESSAGE,
        [quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier"), retry_info("3600s")],
    )
    outcome = classify(GEMINI, 429, raw)
    assert (outcome.kind, outcome.error_type, outcome.retry_after_s) == (
        OutcomeKind.FALLBACK,
        "insufficient_quota",
        3600.0,
    )
    assert outcome.rate_limited
    assert not outcome.breaker_failure


def test_gemini_429_without_details_retries_same() -> None:
    """Gemini 429 with no details: RETRY_SAME without a hint (the caller backs off)."""
    raw = gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
    outcome = classify(GEMINI, 429, raw)
    assert (outcome.kind, outcome.retry_after_s) == (OutcomeKind.RETRY_SAME, None)


def test_gemini_failed_precondition_billing_falls_back() -> None:
    """Gemini 400 FAILED_PRECONDITION about billing: FALLBACK insufficient_quota."""
    raw = gemini_error(
        400,
        "FAILED_PRECONDITION",
        "Gemini API free tier is not available in your country. Please enable billing on your project "
        "in Google AI Studio.",
    )
    outcome = classify(GEMINI, 400, raw)
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FALLBACK, "insufficient_quota")


def test_gemini_failed_precondition_other_falls_back() -> None:
    """Gemini 400 FAILED_PRECONDITION not about billing (region): FALLBACK failed_precondition."""
    raw = gemini_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
    outcome = classify(GEMINI, 400, raw)
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FALLBACK, "failed_precondition")
    assert not outcome.breaker_failure


def test_gemini_input_token_count_overflow() -> None:
    """Gemini 400 INVALID_ARGUMENT 'input token count ... exceeds the maximum': CONTEXT_OVERFLOW."""
    raw = gemini_error(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1250000) exceeds the maximum number of tokens allowed (1048576).",
    )
    assert classify(GEMINI, 400, raw).kind is OutcomeKind.CONTEXT_OVERFLOW


def test_gemini_invalid_key_fails_fast() -> None:
    """Gemini 400 INVALID_ARGUMENT for a bad API key: FAIL_FAST."""
    raw = gemini_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    )
    assert classify(GEMINI, 400, raw).kind is OutcomeKind.FAIL_FAST


@pytest.mark.parametrize(
    ("status", "rpc", "message", "error_type"),
    [
        (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", "overloaded"),
        (500, "INTERNAL", "An internal error has occurred. Please retry or report.", "http_500"),
        (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", "http_504"),
    ],
)
def test_gemini_server_errors_fall_back(status: int, rpc: str, message: str, error_type: str) -> None:
    """Gemini 503 UNAVAILABLE / 500 INTERNAL / 504 DEADLINE_EXCEEDED: FALLBACK, breaker failure."""
    outcome = classify(GEMINI, status, gemini_error(status, rpc, message))
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        error_type,
        True,
    )


def test_gemini_list_wrapped_error_body() -> None:
    """A streamGenerateContent error body is a one-element JSON array; it is read the same way."""
    raw = b"[" + gemini_error(400, "INVALID_ARGUMENT", "The input token count (2000000) exceeds the maximum") + b"]"
    assert classify(GEMINI, 400, raw).kind is OutcomeKind.CONTEXT_OVERFLOW


# -- status policy, x-should-retry, garbage ---------------------------------------------------------------


def test_html_502_from_a_load_balancer_falls_back() -> None:
    """A 502 with an HTML body: FALLBACK http_502, breaker failure, no crash on the body."""
    outcome = classify(OPENAI, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        "http_502",
        True,
    )


def test_ollama_string_error_body() -> None:
    """An {"error": "text"} body (Ollama) gives its text as detail."""
    outcome = classify(OPENAI, 500, b'{"error": "model requires more system memory"}')
    assert outcome.detail == "model requires more system memory"
    assert outcome.kind is OutcomeKind.FALLBACK


def test_5xx_outside_fallback_statuses_fails_fast_but_counts_for_breaker() -> None:
    """With fallback_statuses={500}, a 503 is returned to the caller yet still counts against the breaker."""
    outcome = classify_response(OPENAI, 503, {}, b"", frozenset({500}), now_wall=NOW)
    assert (outcome.kind, outcome.breaker_failure) == (OutcomeKind.FAIL_FAST, True)


def test_4xx_added_to_fallback_statuses_falls_back_without_breaker_failure() -> None:
    """An operator may fall back on a 404 (model not deployed here); it never counts for the breaker."""
    statuses = DEFAULT_FALLBACK_STATUSES | {404}
    outcome = classify_response(OPENAI, 404, {}, b"{}", statuses, now_wall=NOW)
    assert (outcome.kind, outcome.breaker_failure) == (OutcomeKind.FALLBACK, False)


def test_429_in_fallback_statuses_falls_back_at_once() -> None:
    """With 429 in fallback_statuses the loop does not wait: FALLBACK, still rate_limited with its hint."""
    statuses = DEFAULT_FALLBACK_STATUSES | {429}
    outcome = classify_response(OPENAI, 429, {"retry-after": "3"}, b"", statuses, now_wall=NOW)
    assert (outcome.kind, outcome.rate_limited, outcome.retry_after_s) == (OutcomeKind.FALLBACK, True, 3.0)
    assert not outcome.breaker_failure


def test_should_retry_false_on_429_falls_back() -> None:
    """x-should-retry: false on a 429: do not wait for this target, FALLBACK, and no second call to it."""
    outcome = classify(ANTHROPIC, 429, b"", {"X-Should-Retry": "false", "retry-after": "30"})
    assert (outcome.kind, outcome.rate_limited, outcome.no_retry) == (OutcomeKind.FALLBACK, True, True)


def test_should_retry_false_on_5xx_still_falls_back_and_counts() -> None:
    """x-should-retry: false on a 5xx keeps FALLBACK and the breaker failure (another target may serve it),
    but not a second call to this target."""
    outcome = classify(ANTHROPIC, 500, anthropic_error("api_error", "x"), {"x-should-retry": "false"})
    assert (outcome.kind, outcome.breaker_failure, outcome.no_retry) == (OutcomeKind.FALLBACK, True, True)
    assert not classify(ANTHROPIC, 500, anthropic_error("api_error", "x")).no_retry


def test_should_retry_true_on_409_falls_back() -> None:
    """x-should-retry: true on an otherwise fail-fast 4xx (409): FALLBACK, no breaker failure."""
    outcome = classify(OPENAI, 409, b"", {"x-should-retry": "true"})
    assert (outcome.kind, outcome.breaker_failure) == (OutcomeKind.FALLBACK, False)


def test_408_without_hint_fails_fast() -> None:
    """A 408 is not in the default fallback statuses and fails fast unless x-should-retry says true."""
    assert classify(OPENAI, 408, b"").kind is OutcomeKind.FAIL_FAST


def test_redirect_from_an_llm_api_is_a_broken_target() -> None:
    """A 3xx reaching the classifier means a misconfigured target: FALLBACK with a breaker failure."""
    outcome = classify(OPENAI, 301, b"")
    assert (outcome.kind, outcome.breaker_failure) == (OutcomeKind.FALLBACK, True)


def test_retry_after_on_503_is_kept() -> None:
    """A 503 with retry-after keeps the hint (the caller may use it to mark the target)."""
    assert classify(OPENAI, 503, b"", {"retry-after": "5"}).retry_after_s == 5.0


def test_cimultidict_headers() -> None:
    """aiohttp's CIMultiDictProxy headers work as they come."""
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "2"}))
    outcome = classify_response(ANTHROPIC, 429, headers, b"", now_wall=NOW)
    assert outcome.retry_after_s == 2.0


@settings(deadline=None)
@given(
    dialect=st.sampled_from(DIALECTS),
    status=st.integers(min_value=100, max_value=599),
    raw=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["error", "message", "code", "type", "status", "details", "@type"]),
                    children,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(orjson.dumps),
    ),
)
def test_never_raises_and_keeps_the_breaker_rules(dialect: Dialect, status: int, raw: bytes) -> None:
    """For any status and body: no exception; a 4xx or 429 is never a breaker failure; a 5xx always is."""
    outcome = classify_response(dialect, status, {"retry-after": "1"}, raw, now_wall=NOW)
    if 400 <= status < 500:
        assert not outcome.breaker_failure
    if status >= 500:
        assert outcome.breaker_failure
    if 200 <= status < 300:
        assert outcome.kind is OutcomeKind.SUCCESS
    if outcome.kind is OutcomeKind.RETRY_SAME:
        assert status == 429
