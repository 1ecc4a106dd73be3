"""Gemini's ``functionCall.id`` on answers the sidecar replays (docs/translation.md, "Tool-call ids"),
read with google-genai: a cached or voted answer carries what the live one carried, here nothing (a
Gemini upstream that gives no id), whole and streamed; the next turn sends the tool result back."""

from __future__ import annotations

from typing import Any

from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from .cache_helpers import cache_policy
from .ensemble_policies import ensemble_route, models_policy

WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            parameters=types.Schema(
                type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}, required=["city"]
            ),
        )
    ]
)
CONFIG = types.GenerateContentConfig(temperature=0, tools=[WEATHER])
QUESTION = "weather in Paris? fake:tool"


async def calls_of(client: Any, model: str, *, stream: bool) -> list[types.FunctionCall]:
    """The function calls of one answer to QUESTION, whole or streamed."""
    if not stream:
        answer = await client.aio.models.generate_content(model=model, contents=QUESTION, config=CONFIG)
        return list(answer.function_calls or ())
    chunks = [
        c async for c in await client.aio.models.generate_content_stream(model=model, contents=QUESTION, config=CONFIG)
    ]
    return [call for chunk in chunks for call in chunk.function_calls or ()]


async def test_a_cached_gemini_tool_call_carries_no_made_up_id(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini upstream's call without an id, replayed from the cache (whole and streamed, each read
    from an entry the other made), has no id either: the same ``FunctionCall`` as the live answer."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks="gemini"))
    client = gemini_client(running.url)
    live = await calls_of(client, "cached", stream=False)
    hit_streamed = await calls_of(client, "cached", stream=True)
    hit_whole = await calls_of(client, "cached", stream=False)
    assert len(await running.fake_requests(url)) == 1
    assert [c.name for c in live] == ["get_weather"] and live[0].id is None
    assert [c.model_dump() for c in hit_whole] == [c.model_dump() for c in live]
    assert [c.model_dump() for c in hit_streamed] == [c.model_dump() for c in live]


async def test_the_next_turn_after_a_cached_tool_call_sends_the_upstream_no_id(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The app sends the replayed call and its result back, as google-genai's docs show (the response's
    content, then ``Part.from_function_response``): the upstream gets them without an id it never gave."""
    url = await fake("f0", reply="sunny")
    running = await sidecar(cache_policy([url], speaks="gemini"))
    client = gemini_client(running.url)
    await calls_of(client, "cached", stream=False)
    hit = await client.aio.models.generate_content(model="cached", contents=QUESTION, config=CONFIG)
    call = hit.function_calls[0]
    result = types.Part.from_function_response(name=call.name, response={"weather": "sunny"})
    history = [
        types.Content(role="user", parts=[types.Part(text=QUESTION)]),
        hit.candidates[0].content,
        types.Content(role="user", parts=[result]),
    ]
    answer = await client.aio.models.generate_content(model="cached", contents=history, config=CONFIG)
    assert answer.text == "sunny"
    sent = (await running.fake_requests(url))[-1]["json"]["contents"]
    assert sent[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "test"}}
    assert "id" not in sent[2]["parts"][0]["functionResponse"]


async def test_an_ensembles_streamed_gemini_tool_call_carries_no_made_up_id(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """An ensemble's winning Gemini answer streamed to a Gemini app (rebuilt from the whole answer) has
    the call as the upstream gave it: no id."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(models_policy(urls, ensemble_route("m0, m1"), speaks=("gemini",)))
    client = gemini_client(running.url)
    whole = await calls_of(client, "vote", stream=False)
    streamed = await calls_of(client, "vote", stream=True)
    assert [c.name for c in whole] == ["get_weather"] and whole[0].id is None
    assert [c.model_dump() for c in streamed] == [c.model_dump() for c in whole]
