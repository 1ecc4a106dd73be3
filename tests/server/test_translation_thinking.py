"""Thinking asked across dialects, through the official SDKs: a google-genai app's ``thinking_config``, an
Anthropic app's ``thinking`` and an OpenAI app's ``reasoning_effort`` reach the provider of another dialect
as its own setting where one maps faithfully (``docs/translation.md``, Thinking), and are refused by name
where none does; the thoughts that come back reach the caller in its own shape, signatures left out."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_chat_text, openai_client
from ..translate import streams
from ..upstream.raw import ServerConn, UpstreamFactory, chunked, response, serve_forever
from .three_dialects import start

DEFAULTS = [
    pytest.param({"include_thoughts": False}, id="include_thoughts=False"),
    pytest.param({"thinking_budget": -1}, id="dynamic budget"),
    pytest.param({"thinking_budget": 0}, id="budget 0"),
    pytest.param({"include_thoughts": False, "thinking_budget": -1}, id="both defaults"),
]
REFUSED = [
    pytest.param("to-openai", {"thinking_budget": 2048}, "thinkingConfig.thinkingBudget", id="budget to OpenAI"),
    pytest.param("to-openai", {"include_thoughts": True}, "thinkingConfig.includeThoughts", id="thoughts to OpenAI"),
    pytest.param(
        "to-anthropic", {"include_thoughts": True}, "thinkingConfig.includeThoughts", id="no budget to Anthropic"
    ),
    pytest.param("to-openai", {"thinking_level": "XHIGH"}, "thinkingConfig.thinkingLevel", id="xhigh to OpenAI"),
    pytest.param("to-anthropic", {"thinking_level": "XHIGH"}, "thinkingConfig.thinkingLevel", id="xhigh to Anthropic"),
    pytest.param(
        "to-openai",
        {"thinking_level": "HIGH", "include_thoughts": True},
        "thinkingConfig.thinkingLevel",
        id="level with thoughts to OpenAI",
    ),
]
SKIP = base64.urlsafe_b64decode("skip_thought_signature_validator")  # as google-genai reads it
THOUGHTFUL = types.ThinkingConfig(thinking_budget=2048, include_thoughts=True)
ANSWER_WITH_THINKING = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Servus is Bavarian.", "signature": "EqQBsig"},
        {"type": "text", "text": "Servus back!"},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 20},
}


async def last_body(running: Any, url: str) -> dict[str, Any]:
    """The JSON body of the last request the fake provider at ``url`` received."""
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    return body


async def anthropic_upstream(raw_upstream: UpstreamFactory, answer: bytes) -> Any:
    async def handler(conn: ServerConn) -> None:
        await serve_forever(conn, answer)

    return await raw_upstream(handler)


def one_route(url: str, speaks: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, speaks)
        + "models:\n  m: {provider: p, model: claude-sonnet-4-5}\n"
        + "routes:\n  - {name: r, match: {model: thinker}, target: [m]}\n"
    )


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
@pytest.mark.parametrize("thinking", DEFAULTS)
async def test_default_thinking_config_is_served_across_dialects(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, thinking: dict[str, Any]
) -> None:
    """``thinking_config`` at its defaults (no thoughts shown, a dynamic or zero budget) is dropped, listed
    in the dropped-parameters header, and the answer comes back."""
    running, _ = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
    client = gemini_client(running.url)
    answer = await client.aio.models.generate_content(model=target, contents="servus", config=config)
    assert "servus" in (answer.text or "")
    dropped = answer.sdk_http_response.headers["x-sidecar-dropped-params"]
    assert "thinkingConfig." in dropped


@pytest.mark.parametrize(("target", "thinking", "name"), REFUSED)
async def test_thinking_the_target_cannot_be_told_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, thinking: dict[str, Any], name: str
) -> None:
    """A thinking setting with no faithful form at the target (any budget towards OpenAI, thoughts without a
    budget towards Anthropic, a level Google names no budget for, thoughts shown towards OpenAI) is a 400 naming
    the field, not a silent drop."""
    running, _ = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
    client = gemini_client(running.url)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=target, contents="servus", config=config)
    assert info.value.code == 400
    assert name in str(info.value)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_gemini_thinking_budget_reaches_anthropic_as_budget_tokens(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """A google-genai app's positive ``thinking_budget`` reaches Anthropic as ``thinking {type: enabled,
    budget_tokens}``, under its ``max_output_tokens``, and the answer comes back, streamed or whole."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=THOUGHTFUL, max_output_tokens=4000)
    models = gemini_client(running.url).aio.models
    if stream:
        chunks = await models.generate_content_stream(model="to-anthropic", contents="servus", config=config)
        text = "".join([c.text or "" async for c in chunks])
    else:
        text = (await models.generate_content(model="to-anthropic", contents="servus", config=config)).text or ""
    assert "servus" in text
    sent = await last_body(running, urls["anthropic"])
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 4000


async def test_a_small_gemini_budget_is_raised_to_anthropics_minimum(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A budget under Anthropic's minimum (512) is sent as 1,024: Anthropic refuses less, and a budget is a
    ceiling the model need not reach."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=512), max_output_tokens=4000
    )
    await gemini_client(running.url).aio.models.generate_content(model="to-anthropic", contents="hi", config=config)
    assert (await last_body(running, urls["anthropic"]))["thinking"]["budget_tokens"] == 1024


async def test_a_raised_budget_anthropic_cannot_take_says_what_was_asked_and_what_to_change(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A budget of 512 with an output maximum of 1,024: the 400 says the app's 512 was raised to Anthropic's
    minimum of 1,024 and that the output maximum must be above it, not a "budget (1024)" the app never sent."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=512), max_output_tokens=1024
    )
    with pytest.raises(errors.ClientError) as info:
        await gemini_client(running.url).aio.models.generate_content(model="to-anthropic", contents="hi", config=config)
    assert info.value.code == 400
    assert info.value.message is not None
    assert (
        "thinkingConfig.thinkingBudget' has no equivalent on anthropic (model to-anthropic): the budget asked (512) is"
        " below Anthropic's minimum thinking budget (1024), and Anthropic needs max_tokens (1024) above the"
        " budget: ask for more than 1024 output tokens, or for no thinking;"
    ) in info.value.message
    assert await running.fake_requests(urls["anthropic"]) == []


@pytest.mark.parametrize(
    ("extra", "name", "why"),
    [
        pytest.param({}, "thinkingConfig.thinkingBudget", "max_tokens (1024) above", id="budget not below max_tokens"),
        pytest.param({"max_output_tokens": 4000, "temperature": 0.3}, "temperature", "1 while", id="temperature"),
        pytest.param({"max_output_tokens": 4000, "top_k": 5}, "top_k", "none while thinking", id="top_k"),
        pytest.param(
            {"max_output_tokens": 4000, "response_mime_type": "application/json"},
            "thinkingConfig.thinkingBudget",
            "tool call is forced",
            id="structured output",
        ),
    ],
)
async def test_thinking_anthropic_would_refuse_is_a_400_naming_the_field(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, extra: dict[str, Any], name: str, why: str
) -> None:
    """What Anthropic refuses with thinking on (a budget not below ``max_tokens``, here the model's 1,024; a
    temperature other than 1; ``top_k``; a forced tool, which structured output is) is refused before the
    call, naming the caller's field and saying why, and nothing reaches Anthropic."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=THOUGHTFUL, **extra)
    with pytest.raises(errors.ClientError) as info:
        await gemini_client(running.url).aio.models.generate_content(
            model="to-anthropic", contents="servus", config=config
        )
    assert info.value.code == 400
    assert name in str(info.value) and why in str(info.value)
    assert await running.fake_requests(urls["anthropic"]) == []


async def test_a_gemini_tool_loop_with_thinking_reaches_anthropic_without_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Answering a function call with thinking on, a Gemini app cannot send back Anthropic's signed thinking
    (it never got the signature), which Anthropic requires then: the call goes without thinking, the drop
    listed, instead of a certain 400."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(thinking_config=THOUGHTFUL, max_output_tokens=4000)
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather in Graz?")]),
        types.Content(
            role="model", parts=[types.Part(function_call=types.FunctionCall(name="weather", args={"city": "Graz"}))]
        ),
        types.Content(
            role="user",
            parts=[types.Part(function_response=types.FunctionResponse(name="weather", response={"result": "sunny"}))],
        ),
    ]
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-anthropic", contents=contents, config=config
    )
    assert "thinkingConfig.thinkingBudget" in answer.sdk_http_response.headers["x-sidecar-dropped-params"]
    assert "thinking" not in await last_body(running, urls["anthropic"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_anthropic_thinking_reaches_a_gemini_app_as_thought_parts_without_the_signature(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """Anthropic's thinking comes back to a google-genai app as parts with ``thought: true`` before the
    answer (``response.text`` leaves them out), with no ``thought_signature``: Anthropic's signature is
    for Anthropic alone, and Gemini would refuse it."""
    answer = (
        chunked(streams.ANTHROPIC_TOOLS.encode(), headers="content-type: text/event-stream\r\n")
        if stream
        else response(orjson.dumps(ANSWER_WITH_THINKING), headers="content-type: application/json\r\n")
    )
    upstream = await anthropic_upstream(raw_upstream, answer)
    running = await sidecar(one_route(upstream.base, "anthropic"))
    config = types.GenerateContentConfig(thinking_config=THOUGHTFUL, max_output_tokens=4000)
    models = gemini_client(running.url).aio.models
    if stream:
        chunks = await models.generate_content_stream(model="thinker", contents="weather?", config=config)
        parts = [p for c in [c async for c in chunks] for p in c.candidates[0].content.parts]
        thought = "User wants weather."
    else:
        got = await models.generate_content(model="thinker", contents="servus", config=config)
        parts = got.candidates[0].content.parts
        assert got.text == "Servus back!"
        thought = "Servus is Bavarian."
    assert "".join(p.text or "" for p in parts if p.thought) == thought
    # Anthropic's signature nowhere; a call carries Google's skip value (Gemini 3 wants it back signed)
    assert all(p.thought_signature in (None, SKIP) for p in parts)
    assert all(p.thought_signature is None for p in parts if not p.function_call)
    assert orjson.loads(upstream.requests[0].body)["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_thought_parts_sent_back_by_a_gemini_app_do_not_reach_anthropic(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The next turn of a conversation, sent back with the thought parts the app received, reaches
    Anthropic with its earlier thinking left out (unsigned, Anthropic would refuse it) and thinking on."""
    answer = response(orjson.dumps(ANSWER_WITH_THINKING), headers="content-type: application/json\r\n")
    upstream = await anthropic_upstream(raw_upstream, answer)
    running = await sidecar(one_route(upstream.base, "anthropic"))
    config = types.GenerateContentConfig(thinking_config=THOUGHTFUL, max_output_tokens=4000)
    models = gemini_client(running.url).aio.models
    first = await models.generate_content(model="thinker", contents="servus", config=config)
    history = [types.Content(role="user", parts=[types.Part(text="servus")]), first.candidates[0].content]
    history.append(types.Content(role="user", parts=[types.Part(text="and in Vienna?")]))
    await models.generate_content(model="thinker", contents=history, config=config)
    sent = orjson.loads(upstream.requests[1].body)
    assert sent["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "Servus back!"}]}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("thinking", "sent"),
    [
        ({"type": "enabled", "budget_tokens": 3000}, {"thinkingBudget": 3000, "includeThoughts": True}),
        ({"type": "adaptive"}, {"thinkingBudget": -1, "includeThoughts": True}),
    ],
    ids=["enabled", "adaptive"],
)
async def test_anthropic_thinking_reaches_gemini_as_its_thinking_config(
    fake: FakeFactory, sidecar: SidecarFactory, thinking: dict[str, Any], sent: dict[str, Any], stream: bool
) -> None:
    """An Anthropic app's ``thinking`` (a budget, or adaptive: the model decides) reaches Gemini as
    ``thinkingConfig`` showing the thoughts, and the answer comes back, streamed or whole."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        request: dict[str, Any] = {
            "model": "to-gemini",
            "max_tokens": 8000,
            "messages": [{"role": "user", "content": "servus"}],
            "extra_body": {"thinking": thinking},
        }
        if stream:
            async with client.messages.stream(**request) as events:
                message = await events.get_final_message()
        else:
            message = await client.messages.create(**request)
    assert "servus" in "".join(b.text for b in message.content if b.type == "text")
    body = await last_body(running, urls["gemini"])
    assert body["generationConfig"]["thinkingConfig"] == sent
    assert body["generationConfig"]["maxOutputTokens"] == 8000


async def test_anthropic_thinking_towards_openai_is_refused_by_name(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Chat completions have no thinking budget: an Anthropic app's ``thinking`` is a typed 400 naming it."""
    running, _ = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="to-openai",
                max_tokens=8000,
                messages=[{"role": "user", "content": "servus"}],
                thinking={"type": "enabled", "budget_tokens": 2048},
            )
    assert "thinking" in info.value.message


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 8192), ("high", 24576)])
async def test_openai_reasoning_effort_reaches_gemini_as_googles_budget(
    fake: FakeFactory, sidecar: SidecarFactory, effort: str, budget: int, stream: bool
) -> None:
    """An OpenAI app's ``reasoning_effort`` reaches Gemini as the thinking budget Google's own
    OpenAI-compatible endpoint uses for it, thoughts not shown."""
    running, urls = await start(fake, sidecar)
    request = {"model": "to-gemini", "messages": [{"role": "user", "content": "servus"}], "reasoning_effort": effort}
    assert "servus" in await openai_chat_text(running, request, stream)
    body = await last_body(running, urls["gemini"])
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": budget}


async def test_a_minimal_reasoning_effort_towards_gemini_is_refused(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """``reasoning_effort: minimal``, which Google's OpenAI-compatible endpoint gives no thinking budget, is a
    typed 400 naming ``reasoning_effort`` towards Gemini, and nothing reaches Gemini."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="to-gemini", messages=[{"role": "user", "content": "servus"}], reasoning_effort="minimal"
            )
    assert info.value.status_code == 400
    assert "'reasoning_effort'" in info.value.message and "no thinking budget for minimal" in info.value.message
    assert await running.fake_requests(urls["gemini"]) == []
