"""After a failed gate: the next step, the re-ask body in each dialect, and a cascade over real fake servers."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from sidecar.answers import AnswerView, answer_view
from sidecar.dialects import Dialect, Operation
from sidecar.dialects.anthropic import request as anthropic
from sidecar.dialects.gemini import request as gemini
from sidecar.dialects.openai import request as openai
from sidecar.dialects.openai import response as openai_response
from sidecar.gates import (
    GateFailure,
    GatesSpec,
    SchemaValidators,
    compile_gates,
    next_step,
    reask_body,
    reask_text,
    requested_json,
)
from sidecar.gates.spec import DEFAULT_REASK_PROMPT
from sidecar.translate.options import Drops, TranslateOptions

from ..conftest import FakeFactory

FAILURE = GateFailure("json_schema", "$.label must be one of ['spam', 'ham']")


@pytest.mark.parametrize(
    ("on_fail", "reasks_done", "targets_left", "step"),
    [
        ("next_target", 0, 1, "next_target"),
        ("next_target", 0, 0, "give_up"),
        ("reask", 0, 0, "reask"),
        ("reask", 1, 1, "next_target"),
        ("reask", 1, 0, "give_up"),
    ],
)
def test_next_step(on_fail, reasks_done, targets_left, step):
    """Re-ask while re-asks are left (on_fail reask), then the next target, then give up."""
    policy = GatesSpec(on_fail=on_fail, max_reasks=1)
    assert next_step(policy, reasks_done, targets_left) == step


def test_reask_text_fills_gate_and_error():
    """The default re-ask prompt names the gate and quotes the error."""
    assert reask_text(DEFAULT_REASK_PROMPT, FAILURE).startswith(
        "Your previous answer was rejected by a quality check (json_schema): $.label must be one of ['spam', 'ham']\n"
    )


@pytest.mark.parametrize(
    ("dialect", "operation", "body"),
    [
        (Dialect.OPENAI, Operation.CHAT, {"model": "m", "messages": [{"role": "user", "content": "q"}]}),
        (
            Dialect.ANTHROPIC,
            Operation.CHAT,
            {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "q"}]},
        ),
        (Dialect.GEMINI, Operation.GENERATE_CONTENT, {"contents": [{"role": "user", "parts": [{"text": "q"}]}]}),
    ],
)
def test_reask_body_is_a_valid_conversation(dialect, operation, body):
    """The re-ask appends the rejected answer and the prompt as two turns the dialect's parser accepts."""
    out = reask_body(body, dialect, operation, AnswerView('{"label": "eggs"}'), "fix it")
    parse = {
        Dialect.OPENAI: openai.parse_request,
        Dialect.ANTHROPIC: anthropic.parse_request,
        Dialect.GEMINI: gemini.parse_request,
    }
    request = parse[dialect](out, Drops(TranslateOptions()))
    roles = [message["role"] for message in request["messages"]]
    texts = [part["text"] for message in request["messages"] for part in message["parts"] if part["type"] == "text"]
    assert roles == ["user", "assistant", "user"]
    assert texts == ["q", '{"label": "eggs"}', "fix it"]
    assert body != out  # the caller's body is not changed


def test_reask_body_responses_input_string():
    """A Responses request whose input is a string becomes a list of turns."""
    out = reask_body({"model": "m", "input": "q"}, Dialect.OPENAI, Operation.RESPONSES, AnswerView("bad"), "again")
    assert out["input"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "bad"},
        {"role": "user", "content": "again"},
    ]


SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string"}},
    "required": ["label"],
    "additionalProperties": False,
}


async def cascade(url: str, policy: GatesSpec, questions: int) -> dict[str, int]:
    """A gated cascade [cheap, premium] over the fake provider, as the request path will run it."""
    gates = compile_gates(policy, SchemaValidators())
    counts = {"cheap": 0, "premium": 0, "reask": 0, "invalid_final": 0, "right": 0, "gave_up": 0}
    async with aiohttp.ClientSession() as session:
        for index in range(questions):
            body: dict[str, Any] = {
                "messages": [
                    {"role": "user", "content": f"Label {index}. [truth:answer=spam;choices=spam|ham;field=label]"}
                ],
                "response_format": {"type": "json_schema", "json_schema": {"name": "l", "schema": SCHEMA}},
            }
            expectation = requested_json(body, Dialect.OPENAI, Operation.CHAT)
            chain, reasks, final = ["cheap", "premium"], 0, None
            while chain:
                counts[chain[0]] += 1
                async with session.post(f"{url}/v1/chat/completions", json={**body, "model": chain[0]}) as response:
                    answer = answer_view(openai_response.parse_response(await response.json()))
                failure = gates.check(answer, expectation)
                if failure is None:
                    final = answer
                    break
                step = next_step(policy, reasks, len(chain) - 1)
                if step == "reask":
                    reasks += 1
                    counts["reask"] += 1
                    body = reask_body(
                        body, Dialect.OPENAI, Operation.CHAT, answer, reask_text(policy.reask_prompt, failure)
                    )
                elif step == "next_target":
                    chain, reasks = chain[1:], 0
                else:
                    counts["gave_up"] += 1
                    break
            if final is None:
                continue
            try:
                counts["right"] += json.loads(final.text)["label"] == "spam"
            except (ValueError, KeyError):
                counts["invalid_final"] += 1
    return counts


@pytest.mark.parametrize("on_fail", ["next_target", "reask"])
async def test_cascade_ends_with_no_invalid_answer(fake: FakeFactory, on_fail: str) -> None:
    """A cheap model that breaks its JSON 30% of the time, gated and backed by a premium one: every one of
    100 answers is valid JSON; the premium model is called only for the failures (fewer after a re-ask)."""
    url = await fake(quality={"cheap": {"invalid_json": 0.3}, "premium": {}})
    counts = await cascade(url, GatesSpec(on_fail=on_fail, max_reasks=1), 100)
    assert counts["invalid_final"] == counts["gave_up"] == 0
    assert counts["right"] == 100
    if on_fail == "next_target":
        assert 18 <= counts["premium"] <= 42  # 30 % of 100, give or take 2.6 sigma (the draws are fixed)
        assert counts["reask"] == 0
    else:
        assert counts["reask"] == counts["cheap"] - 100
        assert 1 <= counts["premium"] <= 16  # both tries broken: 30 % of the ~30 re-asks
