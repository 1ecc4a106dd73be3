"""Integers beyond 64 bits (JSON sets no limit; orjson reads them as doubles) in a request of the
provider's own dialect: the body is written again with the model replaced (OpenAI, Anthropic) or sent as
the app wrote it (Gemini), and reaches the provider digit for digit either way; so do an ensemble
member's request and a quality gate's re-ask (written from the parsed body). The apps are the official
SDKs (whose writers keep such integers); the provider a real HTTP server on loopback recording the bytes
it got (``lying_answers.Liar``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .lying_answers import OPENAI_EVENTS, WHOLE, Liar, Lie, sse
from .lying_stack import policy
from .lying_stack import start as start_liar
from .three_dialects import ANTHROPIC_TOOL

ORDER = 123456789012345678901234567890
BIG = 2**64 + 1  # no double equals it (2**64 itself is one: 1.8446744073709552e19 == 2**64)
NEGATIVE = -(2**63) - 1
ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "find_order",
        "parameters": {"type": "object", "properties": {"order": {"type": "integer", "enum": [ORDER, BIG, 7]}}},
    },
}


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start_liar(aiohttp_server, fake, sidecar)


def sent(liar: Liar) -> dict[str, Any]:
    """The last body the provider got, read exactly (Python's reader keeps every integer)."""
    body: dict[str, Any] = json.loads(liar.received[-1])
    return body


def openai_messages() -> list[dict[str, Any]]:
    """A tool loop whose earlier call and its result hold a 30-digit order number."""
    arguments = json.dumps({"order": ORDER})
    call = {"id": "c1", "type": "function", "function": {"name": "find_order", "arguments": arguments}}
    return [
        {"role": "user", "content": "my order?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"order": ORDER, "total": BIG})},
    ]


async def test_an_openai_request_to_an_openai_target_reaches_it_exact(stack: tuple[RunningSidecar, Liar]) -> None:
    """An OpenAI app's ``seed`` of 2**64 + 1, a ``logit_bias`` value, a tool schema's ``enum`` of integers
    beyond 64 bits and a ``metadata`` field of one reach an OpenAI target as the app wrote them (they went
    as the nearest double, ``1.2345678901234568e+29``)."""
    running, liar = stack
    liar.lie = Lie(body=orjson.dumps(WHOLE["openai"]))
    async with openai_client(running) as client:
        await client.chat.completions.create(
            model="lie-openai",
            messages=openai_messages(),  # type: ignore[arg-type]
            tools=[ORDER_TOOL],  # type: ignore[list-item]
            seed=BIG,
            logit_bias={"50256": NEGATIVE},
            extra_body={"metadata": {"order": ORDER}},
        )
    body = sent(liar)
    assert body["model"] == "up"
    assert (body["seed"], body["logit_bias"], body["metadata"]) == (BIG, {"50256": NEGATIVE}, {"order": ORDER})
    assert body["tools"] == [ORDER_TOOL]
    assert body["messages"] == openai_messages()


async def test_an_openai_stream_request_to_an_openai_target_reaches_it_exact(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """A streamed OpenAI request (whose ``stream_options`` the sidecar rewrites to count usage) keeps its
    ``seed`` of 2**64 + 1 exact too."""
    running, liar = stack
    liar.lie = Lie(events=[*(sse("openai", event) for event in OPENAI_EVENTS), b"data: [DONE]\n\n"])
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="lie-openai", messages=[{"role": "user", "content": "hi"}], seed=BIG, stream=True
        )
        async for _ in stream:
            pass
    body = sent(liar)
    assert (body["seed"], body["stream_options"]) == (BIG, {"include_usage": True})


async def test_an_anthropic_request_to_an_anthropic_target_reaches_it_exact(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """An Anthropic app's earlier ``tool_use.input`` holding a 30-digit integer, a tool schema's ``enum`` of
    integers beyond 64 bits and a ``metadata`` field of one reach an Anthropic target as written (the
    default ``max_tokens`` the sidecar adds changes nothing of it)."""
    running, liar = stack
    liar.lie = Lie(body=orjson.dumps(WHOLE["anthropic"]))
    schema = ORDER_TOOL["function"]["parameters"]  # type: ignore[index]
    tool = {"name": "find_order", "input_schema": schema}
    used = {"order": ORDER}
    messages: Any = [
        {"role": "user", "content": "my order?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "find_order", "input": used}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "shipped"}]},
    ]
    async with anthropic_client(running) as client:
        await client.messages.create(
            model="lie-anthropic",
            max_tokens=50,
            messages=messages,
            tools=[tool, ANTHROPIC_TOOL],  # type: ignore[list-item]
            extra_body={"metadata": {"order": BIG}},
        )
    body = sent(liar)
    assert body["model"] == "up"
    assert body["messages"] == messages
    assert body["tools"] == [tool, ANTHROPIC_TOOL]
    assert body["metadata"] == {"order": BIG}


async def test_a_gemini_request_to_a_gemini_target_goes_as_the_app_wrote_it(
    stack: tuple[RunningSidecar, Liar], gemini_client: Callable[[str | None], Any]
) -> None:
    """A Gemini app's function response holding a 30-digit integer reaches a Gemini target exact: the
    model is in the path, so the body goes as the app's bytes."""
    from google.genai import types

    running, liar = stack
    liar.lie = Lie(body=orjson.dumps(WHOLE["gemini"]))
    reply = types.Part.from_function_response(name="find_order", response={"order": ORDER})
    asked = types.Content(role="user", parts=[types.Part(text="my order?")])
    contents = [asked, types.Content(role="user", parts=[reply])]
    await gemini_client(running.url).aio.models.generate_content(model="lie-gemini", contents=contents)
    parts = [part for content in sent(liar)["contents"] for part in content["parts"]]
    assert [part["functionResponse"]["response"] for part in parts if "functionResponse" in part] == [{"order": ORDER}]


async def liar_with_route(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, route: str
) -> tuple[RunningSidecar, Liar]:
    """The lying stack with a second OpenAI model on the liar (``lie-b``) and ``route`` added; the liar
    answers a whole OpenAI answer."""
    liar = Liar()
    server = await aiohttp_server(liar.app())
    text = policy(str(server.make_url("")).rstrip("/"), await fake("good"))
    text = text.replace(
        "  good: {provider: good, model: g}\n",
        "  good: {provider: good, model: g}\n  lie-b: {provider: l-openai, model: up}\n",
    )
    running = await sidecar(text.replace("budgets:\n", route + "budgets:\n"), env={"KEY": "sk-x"})
    liar.lie = Lie(body=orjson.dumps(WHOLE["openai"]))
    return running, liar


async def test_an_ensemble_members_request_reaches_its_target_exact(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Each member of an ensemble is asked the app's request with its integers beyond 64 bits as the app
    wrote them (a member's body is written from the parsed request: they went as the nearest double)."""
    route = "  - {name: vote, match: {model: vote}, ensemble: {members: [lie-openai, lie-b]}}\n"
    running, liar = await liar_with_route(aiohttp_server, fake, sidecar, route)
    async with openai_client(running) as client:
        await client.chat.completions.create(
            model="vote",
            messages=openai_messages(),
            seed=BIG,
            extra_body={"metadata": {"order": ORDER}},  # type: ignore[arg-type]
        )
    assert len(liar.received) == 2
    for raw in liar.received:
        body = json.loads(raw)
        assert (body["seed"], body["metadata"], body["messages"]) == (BIG, {"order": ORDER}, openai_messages())


async def test_a_gates_reask_and_the_next_target_get_the_apps_integers_exact(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A quality gate's re-ask, and the app's own request the next target gets after it, keep integers
    beyond 64 bits as the app wrote them (both were written from the parsed body: the nearest double)."""
    gates = "{regex: {pattern: '^never$'}, on_fail: reask, max_reasks: 1}"
    route = f"  - {{name: gated, match: {{model: gated}}, target: [lie-openai, lie-b], gates: {gates},"
    route += " resilience: {max_attempts_per_target: 2}}\n"
    running, liar = await liar_with_route(aiohttp_server, fake, sidecar, route)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(model="gated", messages=openai_messages(), seed=BIG)  # type: ignore[arg-type]
    reask, original = (json.loads(raw) for raw in liar.received[1:3])
    assert (reask["seed"], reask["messages"][:3]) == (BIG, openai_messages())
    assert (original["seed"], original["messages"]) == (BIG, openai_messages())
