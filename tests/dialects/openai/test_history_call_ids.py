"""A history's tool call ids towards an OpenAI target (``sidecar/dialects/openai/messages.py``), driven by
the official SDKs against a real sidecar and the fake providers: OpenAI takes ids of at most 40
characters (``Invalid 'messages[1].tool_calls[0].id': string too long``), which other providers' and
frameworks' ids may pass (a gateway's ``portkey-<uuid>``, 44). A longer id reaches OpenAI cut to 40, the
same in the call and its result; until wave 59 it was sent whole and OpenAI's 400 ended the route."""

from __future__ import annotations

from typing import Any

from google.genai import types

from ...conftest import FakeFactory, SidecarFactory
from ...sdk_clients import anthropic_client
from ...server.three_dialects import ANTHROPIC_TOOL, start

LONG_ID = "portkey-6aa6db90-1b84-4155-9f32-f658c97d6b1b"  # 44 characters


def sent_ids(body: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The ids of the tool calls an OpenAI chat request holds, and its tool messages' contents by call id."""
    calls = [c["id"] for m in body["messages"] for c in m.get("tool_calls") or ()]
    results = {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}
    return calls, results


async def test_an_anthropic_apps_long_tool_use_id_reaches_openai_cut_to_40_in_call_and_result(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic app's history whose tool_use id has 44 characters, streamed by ``messages.stream``,
    is answered by OpenAI: the id reaches it as 40 characters, equal in the call and the tool message."""
    running, urls = await start(fake, sidecar)
    messages: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": LONG_ID, "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": LONG_ID, "content": "sunny"}]},
    ]
    async with (
        anthropic_client(running) as client,
        client.messages.stream(model="to-openai", max_tokens=64, messages=messages, tools=[ANTHROPIC_TOOL]) as stream,  # type: ignore[list-item]
    ):
        final = await stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Tool result received: sunny"
    calls, results = sent_ids((await running.fake_requests(urls["openai"]))[-1]["json"])
    assert len(calls[0]) == 40 and calls[0].startswith(LONG_ID[:31]) and results == {calls[0]: "sunny"}


async def test_a_gemini_apps_parallel_calls_with_long_ids_stay_distinct_towards_openai(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Two function calls of a Gemini app's history whose 50-character ids share their first 40 reach
    OpenAI as two different ids of 40, each result answering its own call (sent in the app's order)."""
    running, urls = await start(fake, sidecar)
    first, second = "x" * 45 + "aaaaa", "x" * 45 + "bbbbb"
    weather = types.FunctionDeclaration(name="get_weather", parameters={"type": "object", "properties": {}})
    calls = [types.Part(function_call=types.FunctionCall(id=i, name="get_weather", args={})) for i in (first, second)]
    answers = [
        types.Part(function_response=types.FunctionResponse(id=i, name="get_weather", response={"result": r}))
        for i, r in ((second, "rain"), (first, "sun"))
    ]
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather twice?")]),
        types.Content(role="model", parts=calls),
        types.Content(role="user", parts=answers),
    ]
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    reply = await gemini_client(running.url).aio.models.generate_content(
        model="to-openai", contents=contents, config=config
    )
    assert reply.text == "Tool result received: sun"
    sent, results = sent_ids((await running.fake_requests(urls["openai"]))[-1]["json"])
    assert [len(i) for i in sent] == [40, 40] and sent[0] != sent[1]
    assert results == {sent[0]: "sun", sent[1]: "rain"}
