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
from sidecar.translate import error_status, stream_error_event, translate_error

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
    out = translate_error(status, json.dumps(body).encode(), source=source, target=target)
    assert callers_words(target, out) == CALLERS_WORDS[(source, target)]
    assert message in out["error"]["message"]
    if target is Dialect.GEMINI:
        assert out["error"]["code"] == error_status(status, target)  # 529 is Gemini's 503


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
    out = translate_error(502, body, source=Dialect.OPENAI, target=target)
    message = out["error"]["message"]
    assert isinstance(message, str)
    assert message
    if body.startswith(b"<html>"):
        assert "502 Bad Gateway" in message


def test_gemini_error_list_is_read() -> None:
    """Gemini sometimes wraps the error in a JSON list; its message is still found."""
    body = json.dumps([UPSTREAM[Dialect.GEMINI][1]]).encode()
    out = translate_error(429, body, source=Dialect.GEMINI, target=Dialect.OPENAI)
    assert out["error"]["message"].startswith("You exceeded your current quota")


def test_sdks_raise_their_status_errors() -> None:
    """Each SDK raises its usual exception class for the translated body, with the upstream message."""
    status, body, _, _ = UPSTREAM[Dialect.ANTHROPIC]
    raw = json.dumps(
        translate_error(status, json.dumps(body).encode(), source=Dialect.ANTHROPIC, target=Dialect.OPENAI)
    ).encode()
    with pytest.raises(openai.InternalServerError, match="Overloaded"):
        sdk.openai_client(raw, sdk.JSON, status).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    status, body, _, _ = UPSTREAM[Dialect.OPENAI]
    raw = json.dumps(
        translate_error(status, json.dumps(body).encode(), source=Dialect.OPENAI, target=Dialect.ANTHROPIC)
    ).encode()
    with pytest.raises(anthropic.BadRequestError, match="maximum context length"):
        sdk.anthropic_client(raw, sdk.JSON, status).messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    status, body, _message, _ = UPSTREAM[Dialect.OPENAI]
    raw = json.dumps(
        translate_error(status, json.dumps(body).encode(), source=Dialect.OPENAI, target=Dialect.GEMINI)
    ).encode()
    with pytest.raises(genai_errors.ClientError, match="maximum context length"):
        sdk.gemini_client(raw, sdk.JSON, status).models.generate_content(model="gemini-2.5-flash", contents="x")


@pytest.mark.parametrize("target", [Dialect.OPENAI, Dialect.GEMINI], ids=str)
@pytest.mark.parametrize(("status", "own"), [(529, 503), (402, 429), (503, 503), (400, 400)])
def test_statuses_only_anthropic_sends_become_the_callers_own(target: Dialect, status: int, own: int) -> None:
    """Anthropic's 529 (overloaded) and 402 (billing) reach OpenAI and Gemini callers as the status their
    provider sends for the condition; other statuses, and any status towards an Anthropic caller, stay."""
    assert error_status(status, target) == own
    assert error_status(status, Dialect.ANTHROPIC) == status


def test_an_overloaded_anthropic_stream_error_is_a_gemini_503() -> None:
    """Anthropic's in-stream ``overloaded_error`` reaches a Gemini caller as 503 UNAVAILABLE, which
    google-genai's retry options retry (529 they do not)."""
    event = orjson.loads(stream_error_event(Dialect.GEMINI, 529, "Overloaded").split(b"data: ", 1)[1])
    assert (event["error"]["code"], event["error"]["status"]) == (503, "UNAVAILABLE")
