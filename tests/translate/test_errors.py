"""translate_error: upstream error bodies of any shape become the caller's error body, message kept."""

from __future__ import annotations

import itertools
import json
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors

from sidecar.dialects import Dialect
from sidecar.dialects.registry import DIALECTS
from sidecar.translate import stream_error_event, translate_error

from . import sdk

UPSTREAM = {
    Dialect.OPENAI: (
        400,
        {
            "error": {
                "message": "This model's maximum context length is 128000 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
        "This model's maximum context length is 128000 tokens.",
        "context_length_exceeded",
    ),
    Dialect.ANTHROPIC: (
        529,
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        },
        "Overloaded",
        "overloaded_error",
    ),
    Dialect.GEMINI: (
        429,
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
            }
        },
        "You exceeded your current quota, please check your plan and billing details.",
        "RESOURCE_EXHAUSTED",
    ),
}
PAIRS = list(itertools.permutations(DIALECTS, 2))
CALLERS_WORDS = {
    # OpenAI's 400 context_length_exceeded
    (Dialect.OPENAI, Dialect.ANTHROPIC): ("invalid_request_error",),
    (Dialect.OPENAI, Dialect.GEMINI): ("INVALID_ARGUMENT", None),
    # Anthropic's 529 overloaded_error
    (Dialect.ANTHROPIC, Dialect.OPENAI): ("service_unavailable_error", "server_is_overloaded"),
    (Dialect.ANTHROPIC, Dialect.GEMINI): ("UNAVAILABLE", None),
    # Gemini's 429 RESOURCE_EXHAUSTED without a per-day quota: a rate limit, whatever the words say
    (Dialect.GEMINI, Dialect.OPENAI): ("requests", "rate_limit_exceeded"),
    (Dialect.GEMINI, Dialect.ANTHROPIC): ("rate_limit_error",),
}


def callers_words(target: Dialect, out: dict[str, Any]) -> tuple[str | None, ...]:
    """The machine words of a ``target`` error body: OpenAI ``(type, code)``, Anthropic ``(type,)``,
    Gemini ``(status, ErrorInfo reason)``."""
    error = out["error"]
    if target is Dialect.OPENAI:
        return error["type"], error["code"]
    if target is Dialect.ANTHROPIC:
        return (error["type"],)
    details = error.get("details") or [{}]
    return error["status"], details[0].get("reason")


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_error_body_translates(source: Dialect, target: Dialect) -> None:
    """The caller gets its own dialect's error body with the upstream message and, for the error's
    condition, its own provider's type and code, never the upstream's (before wave 34 an OpenAI app got
    ``overloaded_error`` or ``RESOURCE_EXHAUSTED`` as its ``code``)."""
    status, body, message, _ = UPSTREAM[source]
    answered, out = translate_error(status, json.dumps(body).encode(), source=source, target=target)
    assert callers_words(target, out) == CALLERS_WORDS[(source, target)]
    assert message in out["error"]["message"]
    if target is Dialect.GEMINI:
        assert out["error"]["code"] == answered  # 529 is Gemini's 503, in the body and the response


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b"\xff\xfe\x00",
        b"[]",
        b'{"error": 5}',
        b"null",
        b'"x"',
    ],
)
@pytest.mark.parametrize("target", DIALECTS)
def test_garbage_never_raises(body: bytes, target: Dialect) -> None:
    """Whatever the upstream sent, translate_error answers a well-formed body with some message."""
    _, out = translate_error(502, body, source=Dialect.OPENAI, target=target)
    message = out["error"]["message"]
    assert isinstance(message, str)
    assert message
    if body.startswith(b"<html>"):
        assert "502 Bad Gateway" in message


def test_gemini_error_list_is_read() -> None:
    """Gemini sometimes wraps the error in a JSON list; its message is still found."""
    body = json.dumps([UPSTREAM[Dialect.GEMINI][1]]).encode()
    _, out = translate_error(429, body, source=Dialect.GEMINI, target=Dialect.OPENAI)
    assert out["error"]["message"].startswith("You exceeded your current quota")


def test_sdks_raise_their_status_errors() -> None:
    """Each SDK raises its usual exception class for the translated body, with the upstream message."""
    status, body, _, _ = UPSTREAM[Dialect.ANTHROPIC]
    status, out = translate_error(status, json.dumps(body).encode(), source=Dialect.ANTHROPIC, target=Dialect.OPENAI)
    raw = json.dumps(out).encode()
    with pytest.raises(openai.InternalServerError, match="Overloaded"):
        sdk.openai_client(raw, sdk.JSON, status).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    status, body, _, _ = UPSTREAM[Dialect.OPENAI]
    status, out = translate_error(status, json.dumps(body).encode(), source=Dialect.OPENAI, target=Dialect.ANTHROPIC)
    raw = json.dumps(out).encode()
    with pytest.raises(anthropic.BadRequestError, match="maximum context length"):
        sdk.anthropic_client(raw, sdk.JSON, status).messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    status, body, _message, _ = UPSTREAM[Dialect.OPENAI]
    status, out = translate_error(status, json.dumps(body).encode(), source=Dialect.OPENAI, target=Dialect.GEMINI)
    raw = json.dumps(out).encode()
    with pytest.raises(genai_errors.ClientError, match="maximum context length"):
        sdk.gemini_client(raw, sdk.JSON, status).models.generate_content(model="gemini-2.5-flash", contents="x")


OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
BILLING = {"type": "error", "error": {"type": "billing_error", "message": "check your payment details"}}
QUOTA = {
    "error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}
}
INVALID_KEY = {
    "error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
}
STATUSES = [
    pytest.param(Dialect.ANTHROPIC, 529, OVERLOADED, Dialect.OPENAI, 503, id="anthropic 529 -> openai 503"),
    pytest.param(Dialect.ANTHROPIC, 529, OVERLOADED, Dialect.GEMINI, 503, id="anthropic 529 -> gemini 503"),
    pytest.param(Dialect.ANTHROPIC, 402, BILLING, Dialect.OPENAI, 429, id="anthropic 402 -> openai 429"),
    pytest.param(Dialect.ANTHROPIC, 402, BILLING, Dialect.GEMINI, 429, id="anthropic 402 -> gemini 429"),
    pytest.param(Dialect.OPENAI, 429, QUOTA, Dialect.ANTHROPIC, 402, id="openai quota -> anthropic 402"),
    pytest.param(Dialect.OPENAI, 503, {}, Dialect.ANTHROPIC, 503, id="openai 503 -> anthropic 503"),
    pytest.param(Dialect.OPENAI, 401, INVALID_KEY, Dialect.GEMINI, 400, id="openai 401 -> gemini 400"),
    pytest.param(Dialect.OPENAI, 401, INVALID_KEY, Dialect.ANTHROPIC, 401, id="openai 401 -> anthropic 401"),
    pytest.param(Dialect.ANTHROPIC, 400, {}, Dialect.OPENAI, 400, id="anthropic 400 -> openai 400"),
]


@pytest.mark.parametrize(("source", "status", "body", "target", "own"), STATUSES)
def test_a_condition_reaches_the_caller_with_its_providers_status(
    source: Dialect, status: int, body: dict[str, Any], target: Dialect, own: int
) -> None:
    """Where the caller's provider sends another status for the error's condition than the upstream's
    (Anthropic's 529 overloaded and 402 billing, OpenAI's 429 quota gone, a 401 bad key for Gemini's
    400), the caller gets its provider's; other statuses stay."""
    assert translate_error(status, json.dumps(body).encode(), source=source, target=target)[0] == own


def test_an_overloaded_anthropic_stream_error_is_a_gemini_503() -> None:
    """Anthropic's in-stream ``overloaded_error`` reaches a Gemini caller as 503 UNAVAILABLE, which
    google-genai's retry options retry (529 they do not)."""
    event = orjson.loads(stream_error_event(Dialect.GEMINI, 529, "Overloaded").split(b"data: ", 1)[1])
    assert (event["error"]["code"], event["error"]["status"]) == (503, "UNAVAILABLE")
