"""Log-probabilities between OpenAI and Gemini: the request's flag and count, the answer's tokens and
runners-up, whole and streamed (each chunk's tokens on the caller's chunk carrying its text), and
Anthropic's refusal by the caller's name."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.sse import SSEEvent, SSEParser
from sidecar.translate import (
    TranslateOptions,
    TranslationError,
    UnsupportedParameter,
    new_stream_translator,
    translate_request,
    translate_response,
)

from . import sdk

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
DROP = TranslateOptions(unsupported="drop")
OAI_BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
GEM_BODY: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
# Two tokens: "Paris" sure-ish with two runners-up, " é" (non-ASCII) alone.
TOKENS = [("Paris", math.log(0.8), [("Paris", math.log(0.8)), ("Lyon", math.log(0.15))]), (" é", -0.0001, [])]


def tr(body: dict[str, Any], source: Dialect, target: Dialect, options: TranslateOptions | None = None) -> Any:
    return translate_request(
        body,
        source=source,
        target=target,
        operation=Operation.CHAT,
        target_model="t",
        options=options or TranslateOptions(),
    )[:2]


def openai_logprobs(tokens: Any = TOKENS) -> dict[str, Any]:
    entry = lambda token, logprob: {"token": token, "logprob": logprob, "bytes": list(token.encode())}  # noqa: E731
    content = [{**entry(t, lp), "top_logprobs": [entry(a, alp) for a, alp in top]} for t, lp, top in tokens]
    return {"content": content, "refusal": None}


def gemini_result(tokens: Any = TOKENS) -> dict[str, Any]:
    return {
        "topCandidates": [
            {"candidates": [{"token": a, "logProbability": alp} for a, alp in top]} for _, _, top in tokens
        ],
        "chosenCandidates": [{"token": t, "logProbability": lp} for t, lp, _ in tokens],
    }


def openai_answer(logprobs: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": "Paris é", "refusal": None, "annotations": []}
    choice = {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "g",
        "choices": [choice],
        "usage": usage,
    }


def gemini_answer(result: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": "Paris é"}]}, "index": 0}
    candidate["finishReason"] = "STOP"
    if result is not None:
        candidate["logprobsResult"] = result
        candidate["avgLogprobs"] = -0.5
    usage = {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "g", "responseId": "r1"}


def test_openai_flag_and_count_reach_gemini_and_back() -> None:
    """logprobs: true with top_logprobs 5 is responseLogprobs: true with logprobs 5, and back."""
    out, dropped = tr({**OAI_BODY, "logprobs": True, "top_logprobs": 5}, OAI, GEM)
    assert out["generationConfig"] == {"responseLogprobs": True, "logprobs": 5} and dropped == []
    back, _ = tr(out, GEM, OAI)
    assert (back["logprobs"], back["top_logprobs"]) == (True, 5)


def test_a_count_of_zero_asks_for_no_runners_up() -> None:
    """top_logprobs 0 (and Gemini logprobs 0) is left out: the flag alone travels."""
    out, _ = tr({**OAI_BODY, "logprobs": True, "top_logprobs": 0}, OAI, GEM)
    assert out["generationConfig"] == {"responseLogprobs": True}
    back, _ = tr({**GEM_BODY, "generationConfig": {"responseLogprobs": True, "logprobs": 0}}, GEM, OAI)
    assert back["logprobs"] is True and "top_logprobs" not in back


@pytest.mark.parametrize("count", [21, -1, 2.5])
def test_a_count_no_provider_takes_is_refused_by_the_callers_name(count: Any) -> None:
    """A count outside 0-20 is a 400 naming the caller's own field, in either unsupported mode."""
    with pytest.raises(TranslationError, match=r"'logprobs': must be an integer from 0 to 20"):
        tr({**GEM_BODY, "generationConfig": {"responseLogprobs": True, "logprobs": count}}, GEM, OAI, DROP)
    with pytest.raises(TranslationError, match=r"'top_logprobs': must be an integer from 0 to 20"):
        tr({**OAI_BODY, "logprobs": True, "top_logprobs": count}, OAI, GEM)


@pytest.mark.parametrize(
    ("source", "body", "name"),
    [
        (OAI, {**OAI_BODY, "logprobs": True, "top_logprobs": 2}, "logprobs"),
        (GEM, {**GEM_BODY, "generationConfig": {"responseLogprobs": True, "logprobs": 2}}, "responseLogprobs"),
    ],
    ids=["openai", "gemini"],
)
def test_anthropic_refuses_them_by_the_callers_name(source: Dialect, body: dict[str, Any], name: str) -> None:
    """Anthropic has no log-probabilities: refused naming the caller's field; under drop, both listed."""
    with pytest.raises(UnsupportedParameter) as info:
        tr(body, source, ANT)
    assert info.value.name == name
    out, dropped = tr(body, source, ANT, DROP)
    assert name in dropped and len(dropped) == 2 and "logprobs" not in json.dumps(out)


def test_a_gemini_answers_tokens_reach_an_openai_app() -> None:
    """chosenCandidates and topCandidates become choices[0].logprobs.content, as openai-python reads it."""
    body = translate_response(
        gemini_answer(gemini_result()), source=GEM, target=OAI, operation=Operation.CHAT, model="m"
    )
    client = sdk.openai_client(json.dumps(body).encode(), sdk.JSON)
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], logprobs=True)
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert [(c.token, c.logprob, c.bytes) for c in content] == [(t, lp, list(t.encode())) for t, lp, _ in TOKENS]
    assert [[(a.token, a.logprob) for a in c.top_logprobs] for c in content] == [top for _, _, top in TOKENS]


def test_an_openai_answers_tokens_reach_a_gemini_app() -> None:
    """logprobs.content becomes logprobsResult (and avgLogprobs, the mean), as google-genai reads it."""
    body = translate_response(
        openai_answer(openai_logprobs()), source=OAI, target=GEM, operation=Operation.CHAT, model="m"
    )
    client = sdk.gemini_client(json.dumps(body).encode(), sdk.JSON)
    candidate = client.models.generate_content(model="m", contents="hi").candidates[0]  # type: ignore[index]
    result = candidate.logprobs_result
    assert result is not None and result.chosen_candidates and result.top_candidates
    assert [(c.token, c.log_probability) for c in result.chosen_candidates] == [(t, lp) for t, lp, _ in TOKENS]
    assert [[(a.token, a.log_probability) for a in step.candidates or ()] for step in result.top_candidates] == [
        top for _, _, top in TOKENS
    ]
    assert candidate.avg_logprobs == pytest.approx((TOKENS[0][1] + TOKENS[1][1]) / 2)


@pytest.mark.parametrize(
    "broken",
    [
        {"content": [{"token": 1, "logprob": -1.0}]},
        {"content": [{"token": "a", "logprob": "low"}]},
        {"content": [{"token": "a", "logprob": -1.0, "top_logprobs": [{"token": "b"}]}]},
        {"content": "tokens"},
    ],
)
def test_malformed_log_probabilities_are_left_out(broken: Any) -> None:
    """A provider's token that is not a string, or a log-probability that is not a number: the answer
    reaches the caller without log-probabilities, never with a guess."""
    body = translate_response(openai_answer(broken), source=OAI, target=GEM, operation=Operation.CHAT, model="m")
    assert "logprobsResult" not in body["candidates"][0] and body["candidates"][0]["content"]["parts"]


def test_an_answer_without_log_probabilities_reads_as_before() -> None:
    """No logprobs in: OpenAI's choice logprobs stays null, Gemini's candidate gets none."""
    to_openai = translate_response(gemini_answer(None), source=GEM, target=OAI, operation=Operation.CHAT, model="m")
    assert to_openai["choices"][0]["logprobs"] is None
    to_gemini = translate_response(openai_answer(None), source=OAI, target=GEM, operation=Operation.CHAT, model="m")
    assert "logprobsResult" not in to_gemini["candidates"][0] and "avgLogprobs" not in to_gemini["candidates"][0]


# ---------------------------------------------------------------------------------------------------------
# Streams


def _openai_chunk(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "g", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n"


def _gemini_fragment(text: str, result: Any, last: bool = False) -> str:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if result is not None:
        candidate["logprobsResult"] = result
    body: dict[str, Any] = {"candidates": [candidate], "responseId": "r1", "modelVersion": "g"}
    if last:
        candidate["finishReason"] = "STOP"
        body["usageMetadata"] = {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    return f"data: {json.dumps(body)}\n\n"


def _translated(upstream: str, source: Dialect, target: Dialect) -> bytes:
    translator = new_stream_translator(
        source=source, target=target, operation=Operation.CHAT, model="m", include_usage=True
    )
    parser = SSEParser()
    events: list[SSEEvent] = []
    for event in parser.feed(upstream.encode()) + parser.close():
        assert translator.relay_text is not None and translator.relay_text(event) is None  # the tokens need feed
        events += translator.feed(event)
    return b"".join(e.encode() for e in events + translator.finish())


def test_a_gemini_streams_tokens_ride_the_openai_chunks_carrying_their_text() -> None:
    """Each fragment's logprobsResult is on the OpenAI chunk with that fragment's text, as openai-python
    yields them."""
    upstream = _gemini_fragment("Paris", gemini_result(TOKENS[:1])) + _gemini_fragment(
        " é", gemini_result(TOKENS[1:]), last=True
    )
    chunks = sdk.openai_stream(_translated(upstream, GEM, OAI))
    scored = [
        (c.choices[0].delta.content, c.choices[0].logprobs) for c in chunks if c.choices and c.choices[0].logprobs
    ]
    assert [text for text, _ in scored] == ["Paris", " é"]
    got = [(e.token, e.logprob, [(a.token, a.logprob) for a in e.top_logprobs]) for _, lp in scored for e in lp.content]
    assert got == [(t, lp, top) for t, lp, top in TOKENS]


def test_an_openai_streams_tokens_ride_the_gemini_fragments_carrying_their_text() -> None:
    """Each chunk's logprobs.content is the logprobsResult (and avgLogprobs) of the Gemini fragment with
    that chunk's text, as google-genai yields them."""
    upstream = (
        _openai_chunk({"role": "assistant", "content": ""})
        + _openai_chunk({"content": "Paris"}, openai_logprobs(TOKENS[:1]))
        + _openai_chunk({"content": " é"}, openai_logprobs(TOKENS[1:]))
        + _openai_chunk({}, None, "stop")
        + "data: [DONE]\n\n"
    )
    fragments = sdk.gemini_stream(_translated(upstream, OAI, GEM))
    scored = [f.candidates[0] for f in fragments if f.candidates and f.candidates[0].logprobs_result]
    assert [c.content.parts[0].text for c in scored] == ["Paris", " é"]
    chosen = [(x.token, x.log_probability) for c in scored for x in c.logprobs_result.chosen_candidates]
    assert chosen == [(t, lp) for t, lp, _ in TOKENS]
    assert [c.avg_logprobs for c in scored] == [TOKENS[0][1], TOKENS[1][1]]
