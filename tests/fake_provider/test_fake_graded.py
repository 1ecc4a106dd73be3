"""Graded answers through the official SDKs: the truth in a marker or header, quality profiles per model,
JSON, forced tools, refusals, log-probabilities and judging, in every dialect."""

from __future__ import annotations

import json
import math
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google.genai import types

from sidecar.fake_provider.cli import config_from_args
from sidecar.fake_provider.quality import REFUSALS

LABELS = "positive|negative|neutral"
MARKER = f"[truth:task=sentiment;answer=positive;choices={LABELS}]"
QUESTION = f"Classify the sentiment: 'I loved it'. {MARKER}"
WRONG = {"m-wrong": {"right": 0.0}}
LABEL_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["positive", "negative", "neutral"]}},
    "required": ["answer"],
    "additionalProperties": False,
}


def user(text: str) -> Any:
    return [{"role": "user", "content": text}]


async def test_openai_marker_gives_the_right_label(fake, openai_for):
    """A model without a profile answers a request with a truth marker rightly, and says so in x-fake-quality."""
    client = openai_for(await fake())
    raw = await client.chat.completions.with_raw_response.create(model="m", messages=user(QUESTION))
    assert raw.parse().choices[0].message.content == "positive"
    assert raw.headers["x-fake-quality"].startswith("right;confidence=")


async def test_truth_header_and_wrong_profile(fake, openai_for):
    """The truth may come in x-fake-truth; a model whose profile is never right answers another label."""
    client = openai_for(await fake(quality=WRONG))
    answers = set()
    for index in range(12):
        result = await client.chat.completions.create(
            model="m-wrong",
            messages=user(f"question {index}"),
            extra_headers={"x-fake-truth": f"answer=positive;choices={LABELS}"},
        )
        answers.add(result.choices[0].message.content)
    assert answers == {"negative", "neutral"}


async def test_no_truth_still_echoes(fake, openai_for):
    """Without a truth, a profiled model echoes as before."""
    client = openai_for(await fake(quality=WRONG))
    result = await client.chat.completions.create(model="m-wrong", messages=user("hello"))
    assert result.choices[0].message.content == "hello"


async def test_same_request_same_answer_across_servers(fake, openai_for):
    """Two servers with the same seed give the same graded answers to the same requests."""
    profile = {"m": {"right": 0.5}}
    first, second = openai_for(await fake(quality=profile, seed=3)), openai_for(await fake(quality=profile, seed=3))
    questions = [f"q{index} [truth:answer=positive;choices={LABELS}]" for index in range(10)]
    a = [
        (await first.chat.completions.create(model="m", messages=user(q))).choices[0].message.content for q in questions
    ]
    b = [
        (await second.chat.completions.create(model="m", messages=user(q))).choices[0].message.content
        for q in questions
    ]
    assert a == b
    assert len(set(a)) > 1


async def test_openai_json_schema_and_broken_json(fake, openai_for):
    """response_format json_schema gets a JSON object with the answer; at invalid_json=1 it does not parse."""
    client = openai_for(await fake(quality={"broken": {"invalid_json": 1.0}}))
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "label", "schema": LABEL_SCHEMA}}
    good = await client.chat.completions.create(model="m", messages=user(QUESTION), response_format=response_format)
    assert json.loads(good.choices[0].message.content or "") == {"answer": "positive"}
    bad = await client.chat.completions.create(model="broken", messages=user(QUESTION), response_format=response_format)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.choices[0].message.content or "")


async def test_openai_logprobs_match_confidence(fake, openai_for):
    """logprobs=true: the answer token's probability is the confidence in x-fake-quality; runners-up follow."""
    client = openai_for(await fake(quality={"m": {"right": 0.8, "spread": 0.15}}))
    raw = await client.chat.completions.with_raw_response.create(
        model="m", messages=user(QUESTION), logprobs=True, top_logprobs=3
    )
    choice = raw.parse().choices[0]
    assert choice.logprobs is not None
    content = choice.logprobs.content or []
    assert [item.token for item in content] == [choice.message.content]
    confidence = float(raw.headers["x-fake-quality"].split("confidence=")[1])
    assert math.exp(content[0].logprob) == pytest.approx(confidence, abs=1e-3)
    assert len(content[0].top_logprobs) == 3


async def test_openai_stream_logprobs_per_chunk(fake, openai_for):
    """In a stream each content chunk carries the log-probability of its word."""
    client = openai_for(await fake(quality={"m": {"prose": 1.0}}))
    stream = await client.chat.completions.create(model="m", messages=user(QUESTION), logprobs=True, stream=True)
    pieces = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            logprobs = chunk.choices[0].logprobs
            assert logprobs is not None
            assert [item.token for item in logprobs.content or []] == [chunk.choices[0].delta.content]
            pieces.append(chunk.choices[0].delta.content)
    assert "positive" in "".join(pieces)


async def test_responses_json_and_logprobs(fake, openai_for):
    """Responses: text.format json_schema gets JSON; include message.output_text.logprobs fills logprobs."""
    client = openai_for(await fake())
    result = await client.responses.create(
        model="m",
        input=QUESTION,
        text={"format": {"type": "json_schema", "name": "label", "schema": LABEL_SCHEMA}},
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )
    assert json.loads(result.output_text) == {"answer": "positive"}
    part: Any = result.output[0].content[0]  # type: ignore[union-attr]
    assert "".join(item.token for item in part.logprobs) == result.output_text


async def test_anthropic_output_format_and_forced_tool(fake, anthropic_for):
    """Anthropic: output_config json_schema gets JSON text; a forced tool's input carries the answer."""
    client = anthropic_for(await fake())
    text = await client.messages.create(
        model="claude-x",
        max_tokens=64,
        messages=user(QUESTION),
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": LABEL_SCHEMA}}},
    )
    assert json.loads(text.content[0].text) == {"answer": "positive"}  # type: ignore[union-attr]
    tool = await client.messages.create(
        model="claude-x",
        max_tokens=64,
        messages=user(QUESTION),
        tools=[{"name": "record", "input_schema": {"type": "object", "properties": {"label": {"type": "string"}}}}],
        tool_choice={"type": "tool", "name": "record"},
    )
    assert tool.content[0].input == {"label": "positive"}  # type: ignore[union-attr]


async def test_anthropic_refusal(fake, anthropic_for):
    """At refusal=1 the model refuses in text, even when a tool is forced."""
    client = anthropic_for(await fake(quality={"shy": {"refusal": 1.0}}))
    result = await client.messages.create(
        model="shy",
        max_tokens=64,
        messages=user(QUESTION),
        tools=[{"name": "record", "input_schema": LABEL_SCHEMA}],
        tool_choice={"type": "tool", "name": "record"},
    )
    assert result.content[0].text in REFUSALS  # type: ignore[union-attr]


async def test_gemini_response_schema_and_logprobs(fake, gemini_for):
    """Gemini: responseSchema (Gemini's form) gets typed JSON; responseLogprobs adds logprobsResult."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=types.Schema(
            type=types.Type.OBJECT, properties={"total": types.Schema(type=types.Type.INTEGER)}, required=["total"]
        ),
        response_logprobs=True,
        logprobs=2,
    )
    result = await client.aio.models.generate_content(
        model="gemini-x", contents="Total? [truth:answer=1200;field=total]", config=config
    )
    assert json.loads(result.text or "") == {"total": 1200}
    candidate = (result.candidates or [])[0]
    assert candidate.logprobs_result is not None
    chosen = candidate.logprobs_result.chosen_candidates or []
    assert "".join(item.token or "" for item in chosen) == result.text


async def test_gemini_stream_graded(fake, gemini_for):
    """A Gemini stream of a graded answer joins to the answer."""
    client = gemini_for(await fake(quality={"gemini-x": {"prose": 1.0}}))
    stream = await client.aio.models.generate_content_stream(model="gemini-x", contents=QUESTION)
    text = "".join([chunk.text or "" async for chunk in stream])
    assert "positive" in text


async def test_judge_prompt_gets_a_verdict(fake, openai_for):
    """A prompt listing candidates is judged: ``{"best": N}`` names the candidate holding the truth."""
    client = openai_for(await fake())
    prompt = (
        f"Question: {QUESTION}\n"
        '<candidate n="1">negative</candidate>\n<candidate n="2">The answer is positive.</candidate>'
    )
    result = await client.chat.completions.create(model="judge", messages=user(prompt))
    assert json.loads(result.choices[0].message.content or "") == {"best": 2}


async def test_bad_truth_is_a_400_in_the_dialect(fake, openai_for, anthropic_for):
    """A truth that does not parse is refused with 400 naming the problem, in the caller's dialect."""
    server = await fake()
    with pytest.raises(openai.BadRequestError, match="answer= is required"):
        await openai_for(server).chat.completions.create(model="m", messages=user("x [truth:task=a]"))
    with pytest.raises(anthropic.BadRequestError, match="x-fake-truth: unknown key"):
        await anthropic_for(server).messages.create(
            model="c", max_tokens=5, messages=user("x"), extra_headers={"x-fake-truth": "answer=a;bogus=1"}
        )


async def test_control_endpoint_sets_profiles(fake, openai_for):
    """POST /_fake/config {"quality": ...} changes the profiles at run time; a bad profile is a 400."""
    server = await fake()
    client = openai_for(server)
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/_fake/config"), json={"quality": WRONG}) as response:
            assert response.status == 200
            assert (await response.json())["quality"]["m-wrong"]["right"] == {"*": 0.0}
        async with session.post(server.make_url("/_fake/config"), json={"quality": {"x": {"right": 2}}}) as response:
            assert response.status == 400
            assert "quality.x.right" in (await response.json())["error"]
    result = await client.chat.completions.create(model="m-wrong", messages=user(QUESTION))
    assert result.choices[0].message.content in ("negative", "neutral")


def test_cli_reads_profiles_from_a_file_or_inline(tmp_path):
    """--quality takes a YAML file or inline JSON; an unreadable file is a clear error."""
    import argparse

    from sidecar.fake_provider import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    path = tmp_path / "quality.yaml"
    path.write_text("mini:\n  right: {extraction: 0.9}\n  invalid_json: 0.3\n")
    config = config_from_args(parser.parse_args(["--quality", str(path)]))
    assert config.quality["mini"].invalid_json == 0.3
    inline = config_from_args(parser.parse_args(["--quality", '{"m": {"right": 0.7}}']))
    assert inline.quality["m"].accuracy("x") == 0.7
    with pytest.raises(ValueError, match="cannot read"):
        config_from_args(parser.parse_args(["--quality", str(tmp_path / "missing.yaml")]))


async def test_marker_in_an_earlier_turn_still_grades(fake, openai_for):
    """A re-ask appends turns after the question: the marker in the first turn still grades the answer,
    and the new last turn draws afresh."""
    client = openai_for(await fake())
    messages: Any = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "{oops"},
        {"role": "user", "content": "That was not valid JSON. Answer again."},
    ]
    raw = await client.chat.completions.with_raw_response.create(model="m", messages=messages)
    assert raw.parse().choices[0].message.content == "positive"
    assert raw.headers["x-fake-quality"].startswith("right")
