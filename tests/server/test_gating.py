"""Quality gates through the real sidecar: each schema form, re-asks, cascades, streams and the error
when no answer passes, driven by the official SDKs against fake providers."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, response, serve_forever
from .ensemble_policies import anthropic_stream, models_policy

JSON = "content-type: application/json\r\n"

SCHEMA: Any = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["bug", "billing"]}},
    "required": ["label"],
    "additionalProperties": False,
}
FORMAT: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": SCHEMA}}
MESSAGES: Any = [{"role": "user", "content": "Label this ticket."}]


def gated(chain: str, gates: str = "{}") -> str:
    return f"  - name: gated\n    match: {{model: gated}}\n    target: [{chain}]\n    gates: {gates}\n"


async def test_an_openai_json_schema_answer_that_fails_goes_to_the_next_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """response_format json_schema: the cheap model's non-matching JSON is rejected, the next target's
    valid answer is returned, and x-sidecar-gates lists the rejection."""
    urls = [await fake("f0", reply='{"label": "feature"}'), await fake("f1", reply='{"label": "bug"}')]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("openai",)))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gated", messages=MESSAGES, response_format=FORMAT
        )
    assert json.loads(raw.parse().choices[0].message.content or "") == {"label": "bug"}
    assert raw.headers["x-sidecar-model"] == "m1"
    assert raw.headers["x-sidecar-gates"] == "passed; rejected=m0:json_schema"


async def test_a_gemini_response_schema_is_enforced(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Gemini responseSchema (its OpenAPI form): an answer missing the required property is rejected."""
    urls = [await fake("f0", reply='{"other": 1}'), await fake("f1", reply='{"label": "billing"}')]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("gemini",)))
    client = gemini_client(running.url)
    config = {
        "response_mime_type": "application/json",
        "response_schema": {"type": "OBJECT", "properties": {"label": {"type": "STRING"}}, "required": ["label"]},
    }
    answer = await client.aio.models.generate_content(model="gated", contents="label it", config=config)
    assert json.loads(answer.text) == {"label": "billing"}
    assert len(await running.fake_requests(urls[0])) == 1


async def test_a_forced_tools_input_schema_is_enforced(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Anthropic tool_choice tool: arguments without the schema's required property are rejected (the
    cheap model's profile always breaks them); the next target's call is returned."""
    quality: Any = {"up0": {"invalid_json": 1}}
    urls = [await fake("f0", quality=quality), await fake("f1")]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("anthropic",)))
    tool: Any = {
        "name": "label",
        "description": "label the ticket",
        "input_schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
    }
    async with anthropic_client(running) as client:
        message = await client.messages.create(
            model="gated",
            max_tokens=64,
            tools=[tool],
            tool_choice={"type": "tool", "name": "label"},
            messages=MESSAGES,
            extra_headers={"x-fake-truth": "answer=bug"},
        )
    calls = [block for block in message.content if block.type == "tool_use"]
    assert calls and calls[0].input == {"answer": "bug"}


async def test_reask_asks_the_same_model_again_with_the_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """on_fail reask: the model gets its rejected answer and the error as the next turns; once its
    re-asks are spent the next target gets the caller's original request."""
    urls = [await fake("f0", reply="not json at all"), await fake("f1", reply='{"label": "bug"}')]
    running = await sidecar(models_policy(urls, gated("m0, m1", "{on_fail: reask, max_reasks: 1}"), speaks=("openai",)))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gated", messages=MESSAGES, response_format=FORMAT
        )
    assert raw.headers["x-sidecar-gates"] == "passed; rejected=m0:json_schema,m0:json_schema"
    first, second = [r["json"]["messages"] for r in await running.fake_requests(urls[0])]
    assert len(first) == 1 and second[1] == {"role": "assistant", "content": "not json at all"}
    assert "quality check (json_schema)" in second[2]["content"] and "not valid JSON" in second[2]["content"]
    assert [r["json"]["messages"] for r in await running.fake_requests(urls[1])] == [MESSAGES]


async def test_a_gated_stream_is_held_and_escalated(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streaming caller of a gated route gets only the answer that passed, as a stream."""
    urls = [await fake("f0", reply="{broken"), await fake("f1", reply='{"label": "bug"}')]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("openai",)))
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="gated", messages=MESSAGES, response_format=FORMAT, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert json.loads(text) == {"label": "bug"}


async def test_no_passing_answer_is_an_error_naming_the_gate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every target's answer fails: the caller gets 502 quality_gate_failed naming the gate and the error."""
    urls = [await fake("f0", reply="nope"), await fake("f1", reply="[1, 2]")]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("openai",)))
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="gated", messages=MESSAGES, response_format=FORMAT)
    assert raised.value.status_code == 502
    assert "quality gate json_schema failed" in raised.value.message
    assert "m0:json_schema, m1:json_schema rejected" in raised.value.message.replace(",m1", ", m1")


async def test_the_refusal_and_regex_gates_apply_without_a_schema(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A refusal from the first model and an off-pattern answer from the second are both rejected."""
    urls = [
        await fake("f0", reply="I'm sorry, but I can't help with that."),
        await fake("f1", reply="maybe"),
        await fake("f2", reply="yes"),
    ]
    gates = "{regex: {pattern: '^(yes|no)$'}}"
    running = await sidecar(models_policy(urls, gated("m0, m1, m2", gates), speaks=("openai",)))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="gated", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "yes"
    assert raw.headers["x-sidecar-gates"] == "passed; rejected=m0:refusal,m1:regex"


async def test_a_cascade_over_a_cheap_model_that_breaks_json_returns_no_invalid_answer(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The cheap model breaks its JSON 30 % of the time; gated in front of a sound model, 60 requests
    end with 60 valid answers, and the escalations are the cheap model's broken ones."""
    quality: Any = {"up0": {"invalid_json": 0.3}}
    urls = [await fake("f0", quality=quality), await fake("f1")]
    running = await sidecar(models_policy(urls, gated("m0, m1"), speaks=("openai",)))
    schema_format: Any = {
        "type": "json_schema",
        "json_schema": {
            "name": "a",
            "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
        },
    }
    served: list[str] = []
    async with openai_client(running) as client:
        for n in range(60):
            raw = await client.chat.completions.with_raw_response.create(
                model="gated",
                messages=MESSAGES,
                response_format=schema_format,
                extra_headers={"x-fake-truth": f"answer=bug;id={n}"},
            )
            assert json.loads(raw.parse().choices[0].message.content or "") == {"answer": "bug"}
            served.append(raw.headers["x-sidecar-model"])
    assert 8 <= served.count("m1") <= 30  # about 30 % escalated


async def test_an_anthropic_stream_of_a_gated_cascade_gets_the_passing_answer(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The Anthropic SDK's stream helper reads only the answer that passed the regex gate, cleanly ended."""
    urls = [await fake("f0", reply="maybe"), await fake("f1", reply="yes")]
    running = await sidecar(
        models_policy(urls, gated("m0, m1", "{regex: {pattern: '^(yes|no)$'}}"), speaks=("openai",))
    )
    assert await anthropic_stream(running.url, "gated", MESSAGES) == ("yes", "end_turn")


async def test_a_gemini_stream_of_a_gated_cascade_gets_the_passing_answer(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai's stream reads only the answer that passed, and the access line says what was rejected."""
    urls = [await fake("f0", reply="maybe"), await fake("f1", reply="no")]
    running = await sidecar(
        models_policy(urls, gated("m0, m1", "{regex: {pattern: '^(yes|no)$'}}"), speaks=("gemini",))
    )
    client = gemini_client(running.url)
    chunks = [c.text or "" async for c in await client.aio.models.generate_content_stream(model="gated", contents="q")]
    assert "".join(chunks) == "no"
    line = running.log_lines()[-1]
    assert line["gates"] == "passed" and line["gate_rejections"] == ["m0:regex"] and line["served_model"] == "m1"


@pytest.mark.parametrize(
    ("body", "gates"),
    [
        (b'{"id": "x", "object": "chat.completion", "choices": "nope"}', "passed; rejected=m0:non_empty"),
        (b'{"id": "x", "candidates": 5}', "passed"),
    ],
    ids=["choices not a list", "not a chat answer"],
)
async def test_a_200_whose_answer_cannot_be_read_does_not_pass_the_gates(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, body: bytes, gates: str
) -> None:
    """A provider answering 200 with a body that holds no readable answer: the gates have nothing to
    pass (it is checked as an empty answer), or, with none of its dialect's answer keys, the attempt
    fails before them (``malformed_response``); the cascade's next target answers, not the garbage."""
    liar = await raw_upstream(lambda conn: serve_forever(conn, response(body, headers=JSON)))
    policy = (
        "version: 1\nproviders:\n"
        f"  liar: {{dialect: openai, base_url: '{liar.base}/v1', api_key: {{env: KEY}}}}\n"
        + provider_block("good", await fake("f1", reply="bug"), "openai")
        + "models:\n  m0: {provider: liar, model: l}\n  m1: {provider: good, model: g}\n"
        + "routes:\n"
        + gated("m0, m1", "{regex: {pattern: 'bug'}}")
    )
    running = await sidecar(policy, env={"KEY": "k"})
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="gated", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "bug"
    assert raw.headers["x-sidecar-model"] == "m1"
    assert raw.headers["x-sidecar-gates"] == gates


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"type": "string", "pattern": "("}}},
        {"type": "object", "patternProperties": {"[": {"type": "string"}}},
    ],
    ids=["pattern that is no regex", "patternProperties key that is no regex"],
)
async def test_a_request_schema_whose_pattern_is_no_regex_checks_only_json(
    fake: FakeFactory, sidecar: SidecarFactory, schema: Any
) -> None:
    """An app's schema with a pattern Python's re refuses cannot be compiled: it is unusable, as other
    schemas fastjsonschema cannot compile are, so the answer is only checked to be JSON and passes
    (it was a 500)."""
    url = await fake("f0", reply='{"n": 5}')
    running = await sidecar(models_policy([url], gated("m0"), speaks=("openai",)))
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "odd", "schema": schema}}
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gated", messages=MESSAGES, response_format=fmt
        )
    assert raw.parse().choices[0].message.content == '{"n": 5}'
    assert raw.headers["x-sidecar-gates"] == "passed"


async def test_a_request_schema_with_multiple_of_zero_is_a_clear_gate_failure(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``multipleOf: 0`` (no schema allows it; fastjsonschema divides by it when it checks) fails the
    gate as an answer that could not be checked, in the caller's dialect: 502 quality_gate_failed,
    not a 500."""
    url = await fake("f0", reply='{"n": 5}')
    running = await sidecar(models_policy([url], gated("m0"), speaks=("openai",)))
    schema = {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 0}}}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "odd", "schema": schema}}
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="gated", messages=MESSAGES, response_format=fmt)
    assert raised.value.status_code == 502
    assert "quality gate json_schema failed" in raised.value.message
    assert "could not be checked: ZeroDivisionError" in raised.value.message
