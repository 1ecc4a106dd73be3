"""A provider's 200 whose answer key is there but holds nothing (OpenAI ``choices: []`` or ``null``,
Anthropic ``content: null``, Gemini ``candidates: []`` without ``promptFeedback``) is a failed attempt
(``malformed_response``), as a 200 without the key is: it was relayed to a caller of its dialect, whose
SDK failed on it (``choices[0]``: IndexError; the Anthropic SDK: TypeError) or was stored by the cache,
and translated into a made-up empty answer (an Anthropic app got ``content: []``, ``end_turn``). The
provider is a real HTTP server on loopback, the apps the official SDKs."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .lying_answers import WHOLE, Liar, Lie
from .lying_stack import start

EMPTY = {  # the provider's dialect, the answer key, what it holds
    "openai choices []": ("openai", "choices", []),
    "openai choices null": ("openai", "choices", None),
    "anthropic content null": ("anthropic", "content", None),
    "gemini candidates []": ("gemini", "candidates", []),
}


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


def empty(case: str) -> tuple[str, Lie]:
    dialect, key, value = EMPTY[case]
    answer = copy.deepcopy(WHOLE[dialect])
    answer[key] = value
    return dialect, Lie(body=orjson.dumps(answer))


async def ask(running: RunningSidecar, caller: str, model: str, gemini_client: Any) -> str | None:
    """The answer's text as the official SDK of ``caller`` reads it."""
    said = "hello there"
    if caller == "openai":
        async with openai_client(running) as client:
            answer = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": said}])
            return answer.choices[0].message.content
    if caller == "anthropic":
        async with anthropic_client(running) as client:
            message = await client.messages.create(
                model=model, max_tokens=50, messages=[{"role": "user", "content": said}]
            )
            return "".join(block.text for block in message.content if block.type == "text")
    return (await gemini_client(running.url).aio.models.generate_content(model=model, contents=said)).text


@pytest.mark.parametrize("case", EMPTY)
async def test_an_answer_that_holds_nothing_falls_back(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any, case: str
) -> None:
    """On a chain, the app's SDK (of the provider's dialect) gets the next target's answer; the access
    line lists the empty one as malformed_response."""
    running, liar = stack
    dialect, liar.lie = empty(case)
    assert await ask(running, dialect, f"chain-{dialect}", gemini_client) == "hello there"
    (access,) = [line for line in running.log_lines() if line["event"] == "access"]
    assert access["attempt_log"] == [f"lie-{dialect}:malformed_response", "good:ok"]


async def test_an_answer_that_holds_nothing_is_a_failure_with_its_status(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any
) -> None:
    """The target's last failure in /status keeps the status the provider answered with (200: an answer
    came, only it held nothing), not null, which /status keeps for a call that got no answer."""
    running, liar = stack
    _, liar.lie = empty("openai choices []")
    assert await ask(running, "openai", "chain-openai", gemini_client) == "hello there"
    failure = running.state.targets.snapshot()["l-openai/up"]["last_failure"]
    assert failure["error_type"] == "malformed_response" and failure["status"] == 200


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("case", EMPTY)
async def test_an_answer_that_holds_nothing_is_a_502_alone(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any, case: str, caller: str
) -> None:
    """With nowhere to fall back, each app's SDK raises its 502 error (malformed_response), relayed or
    translated, instead of a 200 it fails on or an empty answer."""
    running, liar = stack
    dialect, liar.lie = empty(case)
    raised = {"openai": openai.InternalServerError, "anthropic": anthropic.InternalServerError}
    with pytest.raises(raised.get(caller, errors.ServerError)) as caught:
        await ask(running, caller, f"lie-{dialect}", gemini_client)
    assert "malformed_response" in str(caught.value) and "holds no answer" in str(caught.value)


async def test_a_blocked_gemini_prompt_is_still_an_answer(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any
) -> None:
    """``candidates: []`` with ``promptFeedback.blockReason`` is Gemini's answer to a blocked prompt: the
    app's SDK gets it (no text, the block reason), not an error."""
    running, liar = stack
    blocked = {"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "up"}
    liar.lie = Lie(body=orjson.dumps(blocked))
    answer = await gemini_client(running.url).aio.models.generate_content(model="lie-gemini", contents="hi")
    assert answer.prompt_feedback is not None and answer.prompt_feedback.block_reason == "SAFETY"
