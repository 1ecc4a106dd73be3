"""Signed reasoning in multi-turn tool use, through the official SDKs, against fake providers that check
signatures as the real ones do (``sidecar.fake_provider.signatures``):

- Anthropic extended thinking (https://docs.claude.com/en/docs/build-with-claude/extended-thinking): the
  assistant's ``thinking`` blocks, with their ``signature``, go back unchanged on the next turn, and with
  thinking on a turn answering tool calls must start with them.
- Gemini 3 thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures): in the current
  turn the first ``functionCall`` of each model step carries a ``thoughtSignature``; a call replayed from
  another provider carries Google's documented ``skip_thought_signature_validator``, in parallel calls
  (one step, one signature) and sequential ones (each step its own).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from google.genai import types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client
from .three_dialects import ANTHROPIC_TOOL, TOOL

THINKING = {"type": "enabled", "budget_tokens": 1024}
GEMINI_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather", description="Weather for a city", parameters_json_schema=TOOL["function"]["parameters"]
        )
    ]
)
STREAMS = [pytest.param(False, id="whole"), pytest.param(True, id="stream")]


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, dict[str, str]]:
    """Models ``claude`` (Anthropic), ``gemini-3`` (a Gemini 3 model: it signs and checks), ``gpt``; the
    route ``claude-first`` falls back from ``claude`` to ``gemini-3``, ``gemini-first`` the other way."""
    urls = {d: await fake(f"fake-{d}") for d in ("openai", "anthropic", "gemini")}
    policy = "version: 1\nproviders:\n" + "".join(provider_block(f"p-{d}", u, d) for d, u in urls.items())
    policy += (
        "models:\n"
        "  claude: {provider: p-anthropic, model: claude-sonnet-4-5, max_output_tokens: 8000}\n"
        "  gemini-3: {provider: p-gemini, model: gemini-3-pro-preview}\n"
        "  gpt: {provider: p-openai, model: gpt-4o-mini}\n"
        "routes:\n  - {name: claude-first, match: {model: claude-first}, target: [claude, gemini-3]}\n"
        "  - {name: gemini-first, match: {model: gemini-first}, target: [gemini-3, claude]}\n"
    )
    return await sidecar(policy), urls


async def sent_to(running: RunningSidecar, url: str) -> dict[str, Any]:
    body: dict[str, Any] = (await running.fake_requests(url))[-1]["json"]
    return body


async def claude_turn(
    client: anthropic.AsyncAnthropic, model: str, messages: list[Any], stream: bool, **extra: Any
) -> Any:
    request: dict[str, Any] = {
        **extra,
        "model": model,
        "max_tokens": 4000,
        "thinking": THINKING,
        "tools": [ANTHROPIC_TOOL],
        "messages": messages,
    }
    if stream:
        async with client.messages.stream(**request) as events:
            return await events.get_final_message()
    return await client.messages.create(**request)


def answered(messages: list[Any], reply: Any) -> list[Any]:
    """The history with ``reply`` (a tool call) appended as the SDK gave it, and the tool's result."""
    call = next(block for block in reply.content if block.type == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}
    return [*messages, {"role": "assistant", "content": reply.content}, {"role": "user", "content": [result]}]


@pytest.mark.parametrize("stream", STREAMS)
async def test_anthropic_thinking_goes_back_to_anthropic_signed_and_unchanged(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """An Anthropic app's tool loop with thinking on: the signed thinking it got (whole, or accumulated from
    ``thinking_delta`` and ``signature_delta``) reaches Anthropic on the next turn as it was, and Anthropic
    (which checks the signature and that the turn starts with it) answers."""
    running, urls = await start(fake, sidecar)
    ask = [{"role": "user", "content": "weather in Graz? fake:tool"}]
    async with anthropic_client(running) as client:
        first = await claude_turn(client, "claude", ask, stream)
        assert [block.type for block in first.content] == ["thinking", "tool_use"]
        second = await claude_turn(client, "claude", answered(ask, first), stream)
    assert second.content[-1].type == "text"
    thinking = (await sent_to(running, urls["anthropic"]))["messages"][1]["content"][0]
    assert thinking == first.content[0].model_dump(exclude_none=True)


@pytest.mark.parametrize("stream", STREAMS)
async def test_a_tool_loop_falling_back_from_anthropic_to_gemini_3_carries_the_skip_signature(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Mid-conversation, the turn after Anthropic's signed thinking and call goes to Gemini 3: the thinking
    (Anthropic's proof, which Gemini cannot read) is left out, the call carries the documented skip value,
    and Gemini 3, which refuses an unsigned call of the current turn, answers."""
    running, urls = await start(fake, sidecar)
    ask = [{"role": "user", "content": "weather in Graz? fake:tool"}]
    async with anthropic_client(running) as client:
        first = await claude_turn(client, "claude", ask, stream)
        second = await claude_turn(client, "gemini-3", answered(ask, first), stream)
    assert second.content[-1].type == "text"
    model_turn = (await sent_to(running, urls["gemini"]))["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": first.content[1].input},
                "thoughtSignature": "skip_thought_signature_validator",
            }
        ],
    }


def openai_history(steps: list[list[str]]) -> list[Any]:
    """An OpenAI app's tool loop: per step, the assistant's calls (one per city) and their results."""
    messages: list[Any] = [{"role": "user", "content": "weather? fake:tool"}]
    for step, cities in enumerate(steps):
        calls = [
            {
                "id": f"call_{step}_{n}",
                "type": "function",
                "function": {"name": "get_weather", "arguments": f'{{"city": "{city}"}}'},
            }
            for n, city in enumerate(cities)
        ]
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages += [{"role": "tool", "tool_call_id": call["id"], "content": "sunny"} for call in calls]
    return messages


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([["Graz", "Wien", "Linz"]], id="parallel"),
        pytest.param([["Graz"], ["Wien"], ["Linz"]], id="sequential"),
        pytest.param([["Graz", "Wien"], ["Linz"]], id="parallel-then-sequential"),
    ],
)
async def test_calls_replayed_from_openai_to_gemini_3_are_signed_per_step(
    fake: FakeFactory, sidecar: SidecarFactory, steps: list[list[str]], stream: bool
) -> None:
    """An OpenAI app's tool loop sent to Gemini 3: each model step's first call carries the skip value and
    the others none (parallel calls: one per step; sequential: one each), and Gemini 3 answers."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        request: dict[str, Any] = {"model": "gemini-3", "messages": openai_history(steps), "tools": [TOOL]}
        if stream:
            chunks = [chunk async for chunk in await client.chat.completions.create(stream=True, **request)]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = (await client.chat.completions.create(**request)).choices[0].message.content or ""
    assert text
    contents = (await sent_to(running, urls["gemini"]))["contents"]
    signed = [
        [("thoughtSignature" in part) for part in content["parts"]]
        for content in contents
        if content["role"] == "model"
    ]
    assert signed == [[True] + [False] * (len(cities) - 1) for cities in steps]


@pytest.mark.parametrize("stream", STREAMS)
async def test_a_google_genai_tool_loop_keeps_gemini_3s_own_signatures(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """A google-genai app's tool loop on Gemini 3: the signature of the call it got (whole, or from the
    stream's fragment) goes back as it was, and Gemini 3 answers: nothing in the relay loses it."""
    running, urls = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    config = types.GenerateContentConfig(tools=[GEMINI_TOOL])
    ask = types.Content(role="user", parts=[types.Part(text="weather in Graz? fake:tool")])
    if stream:
        chunks = [
            c async for c in await models.generate_content_stream(model="gemini-3", contents=[ask], config=config)
        ]
        parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts]
    else:
        first = await models.generate_content(model="gemini-3", contents=[ask], config=config)
        parts = first.candidates[0].content.parts
    call = next(part for part in parts if part.function_call)
    assert call.thought_signature
    result = types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "sunny"}))
    history = [ask, types.Content(role="model", parts=parts), types.Content(role="user", parts=[result])]
    second = await models.generate_content(model="gemini-3", contents=history, config=config)
    assert second.text
    sent = (await sent_to(running, urls["gemini"]))["contents"][1]["parts"][0]
    assert sent.get("thoughtSignature", sent.get("thought_signature"))


@pytest.mark.parametrize("stream", STREAMS)
async def test_back_at_anthropic_a_tool_loop_another_provider_called_is_answered_without_thinking(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """A route Claude first, Gemini 3 second, thinking on: Claude down, Gemini 3 calls the tool (no Anthropic
    thinking in that turn); Claude back, the tool result goes to it. Anthropic refuses thinking on a tool
    loop whose calling turn does not start with its signed thinking (a 400, every retry, the conversation
    stuck): the turn goes without ``thinking``, listed in ``x-sidecar-dropped-params``, and Claude answers."""
    running, urls = await start(fake, sidecar)
    ask = [{"role": "user", "content": "weather in Graz? fake:tool"}]
    async with anthropic_client(running) as client:
        down = {"extra_headers": {"x-fake-fault": "fake-anthropic:status=529"}}
        first = await claude_turn(client, "claude-first", ask, stream, **down)
        assert [block.type for block in first.content] == ["tool_use"]  # Gemini 3 answered
        raw = await client.messages.with_raw_response.create(
            model="claude-first",
            max_tokens=4000,
            thinking=THINKING,
            tools=[ANTHROPIC_TOOL],
            messages=answered(ask, first),
        )
    assert (await raw.parse()).content[-1].type == "text"
    assert raw.headers["x-sidecar-dropped-params"] == "thinking"
    assert "thinking" not in await sent_to(running, urls["anthropic"])


@pytest.mark.parametrize("stream", STREAMS)
async def test_back_at_gemini_3_a_call_another_provider_made_carries_the_skip_signature(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """A route Gemini 3 first, Claude second: Gemini down, Claude calls the tool, and the google-genai app
    gets the call with Google's documented skip value (Claude has no Gemini signature to give); Gemini back,
    the app sends the call back as it got it and Gemini 3, which refuses an unsigned call of the current
    turn, answers. Before, the call came unsigned and every later try was Gemini's 400."""
    running, urls = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    ask = types.Content(role="user", parts=[types.Part(text="weather in Graz? fake:tool")])
    down = types.GenerateContentConfig(
        tools=[GEMINI_TOOL], http_options=types.HttpOptions(headers={"x-fake-fault": "fake-gemini:status=503"})
    )
    if stream:
        chunks = [
            c async for c in await models.generate_content_stream(model="gemini-first", contents=[ask], config=down)
        ]
        parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts]
    else:
        parts = (
            (await models.generate_content(model="gemini-first", contents=[ask], config=down))
            .candidates[0]
            .content.parts
        )
    call = next(part for part in parts if part.function_call)
    assert call.function_call.id.startswith("toolu_")  # Claude answered
    result = types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "sunny"}))
    history = [ask, types.Content(role="model", parts=parts), types.Content(role="user", parts=[result])]
    again = await models.generate_content(
        model="gemini-first", contents=history, config=types.GenerateContentConfig(tools=[GEMINI_TOOL])
    )
    assert again.text and again.model_version == "gemini-3-pro-preview"
    sent = next(
        part
        for part in (await sent_to(running, urls["gemini"]))["contents"][1]["parts"]
        if "function_call" in part or "functionCall" in part
    )
    assert sent.get("thoughtSignature", sent.get("thought_signature")) == "skip_thought_signature_validator"


async def test_thinking_on_a_claude_overload_answers_the_overload_not_a_400(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route Claude first, GPT second, thinking on: Claude overloaded (529), and OpenAI has no thinking
    form (refused by name there). The app gets the route's failure (503 ``overloaded_error``, which its SDK
    retries), GPT recorded as skipped ``untranslatable``; before, it got a 400 blaming ``thinking`` in a
    request Claude takes, which no SDK retries."""
    running, urls = await start(fake, sidecar)
    route = "  - {name: claude-then-gpt, match: {model: claude-then-gpt}, target: [claude, gpt]}\n"
    running = await sidecar(running.policy_path.read_text() + route)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            await client.messages.create(
                model="claude-then-gpt",
                max_tokens=4000,
                thinking=THINKING,
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-fake-fault": "fake-anthropic:status=529"},
            )
    assert info.value.status_code == 503 and "claude: overloaded" in info.value.message
    assert "gpt: untranslatable" in info.value.message
    assert await running.fake_requests(urls["openai"]) == []
    line = next(line for line in running.log_lines() if line.get("attempt_log"))
    assert line["attempt_log"] == ["claude:overloaded", "gpt:untranslatable"]
