"""Log-probabilities: asking for them per dialect, reading a confidence from real (fake) responses, stripping."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.ensemble.confidence import askable, confidence_of, strip_logprobs, with_logprobs

from ..conftest import FakeFactory

CHAT, RESPONSES, GEMINI = (
    (Dialect.OPENAI, Operation.CHAT),
    (Dialect.OPENAI, Operation.RESPONSES),
    (
        Dialect.GEMINI,
        Operation.GENERATE_CONTENT,
    ),
)
QUESTION = "Sentiment? [truth:answer=positive;choices=positive|negative|neutral]"


@pytest.mark.parametrize(
    ("where", "body", "asked"),
    [
        (CHAT, {"model": "m", "messages": []}, {"logprobs": True}),
        (
            RESPONSES,
            {"input": "x", "include": ["reasoning.encrypted_content"]},
            {"include": ["reasoning.encrypted_content", "message.output_text.logprobs"]},
        ),
        (
            GEMINI,
            {"contents": [], "generationConfig": {"temperature": 0}},
            {"generationConfig": {"temperature": 0, "responseLogprobs": True}},
        ),
    ],
)
def test_ask_when_not_asked(where, body, asked):
    """Each dialect gets its own way of asking; the input body is not changed."""
    before = repr(body)
    out, added = with_logprobs(body, *where)
    assert added is True
    assert {key: out[key] for key in asked} == asked
    assert repr(body) == before


def test_already_asked_or_impossible_adds_nothing():
    """A caller's own request for logprobs is left alone (so they are not stripped); Anthropic has none."""
    assert with_logprobs({"logprobs": True}, *CHAT)[1] is False
    assert with_logprobs({"include": ["message.output_text.logprobs"]}, *RESPONSES)[1] is False
    assert with_logprobs({"generationConfig": {"responseLogprobs": True}}, *GEMINI)[1] is False
    assert with_logprobs({"messages": []}, Dialect.ANTHROPIC, Operation.CHAT) == ({"messages": []}, False)


async def post(url: str, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
        assert response.status == 200
        confidence = float(response.headers["x-fake-quality"].split("confidence=")[1])
        return await response.json(), confidence


@pytest.mark.parametrize("where", [CHAT, RESPONSES, GEMINI])
async def test_confidence_read_from_upstream_answers(fake: FakeFactory, where: tuple[Dialect, Operation]) -> None:
    """The confidence read from each dialect's log-probabilities is the one the fake model answered with;
    stripping them leaves none behind."""
    url = await fake(quality={"m": {"right": 0.7, "spread": 0.2, "prose": 1.0}})
    if where == CHAT:
        body, path = {"model": "m", "messages": [{"role": "user", "content": QUESTION}]}, "/v1/chat/completions"
    elif where == RESPONSES:
        body, path = {"model": "m", "input": QUESTION}, "/v1/responses"
    else:
        body, path = {"contents": [{"role": "user", "parts": [{"text": QUESTION}]}]}, "/v1beta/models/m:generateContent"
    asked, _ = with_logprobs(body, *where)
    answer, confidence = await post(url, path, asked)
    assert confidence_of(answer, *where) == pytest.approx(confidence, abs=2e-3)
    assert confidence_of(strip_logprobs(answer, *where), *where) is None


def test_missing_or_broken_logprobs_give_none():
    """No log-probabilities, or malformed ones, mean no confidence (the member votes its weight)."""
    assert confidence_of({"choices": [{"logprobs": None}]}, *CHAT) is None
    assert confidence_of({"choices": [{"logprobs": {"content": [{"logprob": "x"}]}}]}, *CHAT) is None
    assert confidence_of({"choices": []}, *CHAT) is None
    assert confidence_of({"content": []}, Dialect.ANTHROPIC, Operation.CHAT) is None


def test_gemini_average_when_no_chosen_candidates():
    """Gemini's avgLogprobs times the output token count stands in when no per-token list came back."""
    body = {"candidates": [{"avgLogprobs": -0.1}], "usageMetadata": {"candidatesTokenCount": 3}}
    assert confidence_of(body, *GEMINI) == pytest.approx(math.exp(-0.3))


def test_only_openai_and_gemini_requests_can_ask_for_log_probabilities_themselves() -> None:
    """``askable``: an OpenAI chat or Responses body and a Gemini one can ask; an Anthropic one cannot (its
    members' translated calls are asked instead)."""
    assert askable(*CHAT) and askable(*RESPONSES) and askable(*GEMINI)
    assert not askable(Dialect.ANTHROPIC, Operation.CHAT)
