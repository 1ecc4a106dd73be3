"""The OpenAI Responses API served by Anthropic and Gemini targets, through openai-python: ``responses.create``
and ``responses.stream`` translated both ways (text, usage, a length stop, reasoning), a tool round trip
with ``function_call_output``, a ``json_schema`` format, an image, a request naming what only OpenAI keeps
skipping such a target, a fallback from a failing OpenAI target, the other provider's errors in OpenAI's
words, no caching on a caching route (``docs/translation.md``, The Responses API)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..upstream.raw import UpstreamFactory, answering, response
from .cache_helpers import cache_policy, upstream_calls
from .responses_clients import TOOLS, client_at
from .three_dialects import start

TARGETS = ["to-anthropic", "to-gemini"]
FALLBACKS = """  - {name: openai-then-anthropic, match: {model: o-then-a}, target: [to-openai, to-anthropic]}
  - {name: openai-then-gemini, match: {model: o-then-g}, target: [to-openai, to-gemini]}
"""
PATHS = {"to-anthropic": "/v1/messages", "to-gemini": "/v1beta/models/gemini-2.0-flash:generateContent"}
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _dialect(model: str) -> str:
    return model.removeprefix("to-")


async def _upstream(running: RunningSidecar, urls: dict[str, str], model: str) -> dict[str, Any]:
    """The last request the target of ``model`` received."""
    requests = await running.fake_requests(urls[_dialect(model)])
    return requests[-1]


@pytest.mark.parametrize("model", TARGETS)
async def test_responses_create_is_answered_by_another_dialects_target(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """``responses.create`` towards an Anthropic or Gemini target: the target's chat is called with the
    instructions as its system prompt, and the answer is a ``response`` object openai-python's own type
    validates, its ``output_text`` the text and its usage the target's counts."""
    running, urls = await start(fake, sidecar)
    async with client_at(running.url) as client:
        raw = await client.responses.with_raw_response.create(
            model=model, input="hello translated", instructions="Be brief."
        )
        reply = raw.parse()
    Response.model_validate(json.loads(raw.content))
    assert reply.object == "response" and reply.status == "completed" and reply.id.startswith("resp_")
    assert reply.output_text == "hello translated"
    assert reply.usage is not None and reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    assert raw.headers["x-sidecar-model"] == model
    upstream = await _upstream(running, urls, model)
    assert upstream["path"].startswith(PATHS[model])
    assert "Be brief." in json.dumps(upstream["json"])


@pytest.mark.parametrize("model", TARGETS)
async def test_responses_stream_is_translated_to_the_responses_events(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """``responses.stream`` towards another dialect: the events come in the Responses API's order with
    sequence numbers 0, 1, ...; the text deltas join to the answer and ``get_final_response`` returns the
    completed response with its usage."""
    running, _ = await start(fake, sidecar)
    async with client_at(running.url) as client, client.responses.stream(model=model, input="hello stream") as events:
        seen = [event async for event in events]
        final = await events.get_final_response()
    kinds = [event.type for event in seen]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in seen] == list(range(len(seen)))
    deltas = [event.delta for event in seen if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "hello stream" == final.output_text
    assert final.status == "completed" and final.usage is not None and final.usage.output_tokens > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", TARGETS)
async def test_a_length_stop_is_an_incomplete_response(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, stream: bool
) -> None:
    """An answer cut by ``max_output_tokens`` is ``status: incomplete`` with ``incomplete_details.reason``
    ``max_output_tokens``, whole or streamed (then the last event is ``response.incomplete``, as OpenAI
    ends such a stream; openai-python's ``get_final_response`` waits for ``response.completed`` only)."""
    running, _ = await start(fake, sidecar)
    text = "a long prompt that the fake model echoes back and that does not fit in sixteen tokens at all"
    async with client_at(running.url) as client:
        if stream:
            async with client.responses.stream(model=model, input=text, max_output_tokens=16) as events:
                seen = [event async for event in events]
            last = seen[-1]
            assert last.type == "response.incomplete"
            reply = last.response
        else:
            reply = await client.responses.create(model=model, input=text, max_output_tokens=16)
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.output_text and text.startswith(reply.output_text)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", TARGETS)
async def test_a_tool_round_trip_through_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, stream: bool
) -> None:
    """A function tool the target calls comes back as a ``function_call`` item (streamed: its arguments'
    delta and done events); the answer's items sent back with the call's ``function_call_output``, the
    target reads the result (the fake model answers "Tool result received: ...")."""
    running, _ = await start(fake, sidecar)
    first = "fake:tool weather in Paris"
    async with client_at(running.url) as client:
        if stream:
            async with client.responses.stream(model=model, input=first, tools=TOOLS) as events:
                kinds = [event.type async for event in events]
                reply = await events.get_final_response()
            assert "response.function_call_arguments.done" in kinds
        else:
            reply = await client.responses.create(model=model, input=first, tools=TOOLS)
        calls = [item for item in reply.output if item.type == "function_call"]
        assert [(call.name, json.loads(call.arguments)) for call in calls] == [("get_weather", {"city": "test"})]
        call = calls[0]
        follow = await client.responses.create(
            model=model,
            tools=TOOLS,
            input=[  # the answer's items sent back as they came, as OpenAI's guide does it
                {"role": "user", "content": first},
                *reply.output,  # type: ignore[list-item]
                {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
            ],
        )
    assert follow.output_text.startswith("Tool result received") and "sunny, 21 C" in follow.output_text


@pytest.mark.parametrize("model", TARGETS)
async def test_a_json_schema_format_reaches_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """``text.format`` ``json_schema`` is asked of the target in its own form (Anthropic's answer tool,
    Gemini's ``responseSchema``) and the answer's ``output_text`` is a JSON document of the schema."""
    running, urls = await start(fake, sidecar)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"}},
        "required": ["city", "degrees"],
        "additionalProperties": False,
    }
    fmt: Any = {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}
    async with client_at(running.url) as client:
        reply = await client.responses.create(model=model, input="weather?", text={"format": fmt})
    assert set(json.loads(reply.output_text)) == {"city", "degrees"}
    sent = (await _upstream(running, urls, model))["json"]
    asked = sent["tools"][-1]["input_schema"] if model == "to-anthropic" else sent["generationConfig"]["responseSchema"]
    assert set(asked["properties"]) == {"city", "degrees"}


@pytest.mark.parametrize("model", TARGETS)
async def test_an_input_image_reaches_another_dialect(fake: FakeFactory, sidecar: SidecarFactory, model: str) -> None:
    """An ``input_image`` data URL is sent to the target as its inline image (Anthropic's base64 source,
    Gemini's ``inlineData``)."""
    running, urls = await start(fake, sidecar)
    content = [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": PIXEL, "detail": "auto"},
    ]
    async with client_at(running.url) as client:
        reply = await client.responses.create(model=model, input=[{"role": "user", "content": content}])
    assert reply.output_text == "what is this?"
    sent = json.dumps((await _upstream(running, urls, model))["json"])
    assert PIXEL.removeprefix("data:image/png;base64,") in sent and "image/png" in sent


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        pytest.param({"previous_response_id": "resp_123"}, "previous_response_id", id="previous_response_id"),
        pytest.param({"tools": [{"type": "web_search"}]}, "web_search", id="built-in tool"),
        pytest.param({"background": True}, "background", id="background"),
    ],
)
async def test_what_only_openai_keeps_skips_another_dialects_target(
    fake: FakeFactory, sidecar: SidecarFactory, extra: dict[str, Any], named: str
) -> None:
    """A request naming what only OpenAI stores or runs skips the Anthropic target before any call
    (``untranslatable``) for the route's OpenAI one; a route with no OpenAI target answers a 400 naming
    the field, no upstream called."""
    running, urls = await start(fake, sidecar)
    async with client_at(running.url) as client:
        raw = await client.responses.with_raw_response.create(model="a-then-o", input="hello", **extra)
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model="to-anthropic", input="hello", **extra)
    assert raw.headers["x-sidecar-model"] == "to-openai"
    assert raw.headers["x-sidecar-fallback-reason"] == "untranslatable"
    assert "to-anthropic" in info.value.message and named in info.value.message
    assert await running.fake_requests(urls["anthropic"]) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("route", "model"), [("o-then-a", "to-anthropic"), ("o-then-g", "to-gemini")])
async def test_a_failing_openai_target_falls_back_to_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, route: str, model: str, stream: bool
) -> None:
    """The route's OpenAI target answers 500: the Responses request falls back to its Anthropic or Gemini
    target, which answers it in the Responses API's form."""
    running, urls = await start(fake, sidecar, FALLBACKS)
    async with client_at(running.url, fault="fake-openai:status=500") as client:
        if stream:
            async with client.responses.with_streaming_response.create(
                model=route, input="hello fallback", stream=True
            ) as raw:
                served = raw.headers["x-sidecar-model"]
                texts = [event.delta async for event in await raw.parse() if event.type == "response.output_text.delta"]
            text = "".join(texts)
        else:
            raw_reply = await client.responses.with_raw_response.create(model=route, input="hello fallback")
            served, text = raw_reply.headers["x-sidecar-model"], raw_reply.parse().output_text
    assert served == model and text == "hello fallback"
    assert [r["path"] for r in await running.fake_requests(urls["openai"])][:1] == ["/v1/responses"]


@pytest.mark.parametrize("model", TARGETS)
async def test_another_providers_rate_limit_is_the_sdks_rate_limit_error(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """A 429 of the Anthropic or Gemini target reaches the Responses app as ``RateLimitError`` in OpenAI's
    words (``rate_limit_exceeded``)."""
    running, _ = await start(fake, sidecar)
    async with client_at(running.url, fault="status=429;hint=none") as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.responses.create(model=model, input="hello")
    assert info.value.status_code == 429 and info.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("fault", ["error-event=4", "cut=4"])
@pytest.mark.parametrize("model", TARGETS)
async def test_another_dialects_stream_failing_after_it_started_raises_in_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, fault: str
) -> None:
    """The target's error event, or a cut, after the first text ends the translated stream with the error
    the SDK raises (``APIError``), after the text already sent: the stream never completes."""
    running, _ = await start(fake, sidecar)
    deltas: list[str] = []
    async with client_at(running.url, fault=fault) as client:
        with pytest.raises(openai.APIError):
            async with client.responses.stream(model=model, input="hello there my good friend") as events:
                async for event in events:
                    if event.type == "response.output_text.delta":
                        deltas.append(event.delta)
    assert deltas and "".join(deltas) != "hello there my good friend"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", TARGETS)
async def test_the_targets_thinking_is_a_reasoning_item(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, stream: bool
) -> None:
    """``reasoning`` with an effort and a summary asks the target to think and show it: Anthropic's thinking,
    Gemini's thought summary come back as a ``reasoning`` item before the message, its ``summary`` the text
    (streamed: the reasoning summary events first), the answer's text unchanged. (The output maximum leaves
    Anthropic room above its smallest thinking budget.)"""
    running, _ = await start(fake, sidecar)
    asked: Any = {"model": model, "input": "think first", "reasoning": {"effort": "low", "summary": "auto"}}
    asked["max_output_tokens"] = 2048
    async with client_at(running.url) as client:
        if stream:
            async with client.responses.stream(**asked) as events:
                kinds = [event.type async for event in events]
                reply = await events.get_final_response()
            assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
        else:
            reply = await client.responses.create(**asked)
    assert [item.type for item in reply.output] == ["reasoning", "message"]
    reasoning = reply.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary and reasoning.summary[0].text
    assert reply.output_text == "think first"


@pytest.mark.parametrize("model", TARGETS)
async def test_store_and_metadata_are_dropped_and_listed_not_refused(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """``store: true`` (OpenAI's default) and ``metadata`` do not stop the translation under the default
    ``unsupported_params: error``: the target answers, the two named in ``x-sidecar-dropped-params``, and
    the answer says ``store: false`` (nothing is kept to retrieve)."""
    running, _ = await start(fake, sidecar)
    async with client_at(running.url) as client:
        raw = await client.responses.with_raw_response.create(
            model=model, input="hello", store=True, metadata={"team": "a"}
        )
    assert raw.headers["x-sidecar-dropped-params"] == "metadata,store"
    assert raw.parse().store is False


@pytest.mark.parametrize("speaks", ["anthropic", "gemini"])
async def test_a_translated_responses_request_is_never_cached(
    fake: FakeFactory, sidecar: SidecarFactory, speaks: str
) -> None:
    """On a caching route a Responses request another dialect's target answers is not cacheable (the
    cache keeps chat operations only: docs/caching.md, ``operation``): the same request at temperature 0
    twice reaches the target twice, each answer ``x-sidecar-cache: bypass`` and a whole ``response``."""
    url = await fake(f"fake-{speaks}")
    running = await sidecar(cache_policy([url], speaks=speaks))
    async with client_at(running.url) as client:
        for _ in range(2):
            raw = await client.responses.with_raw_response.create(model="cached", input="hello", temperature=0)
            assert raw.headers["x-sidecar-cache"] == "bypass"
            assert raw.parse().output_text == "hello"
    assert await upstream_calls(running, url) == 2


REFUSALS = {  # the target's whole answer (its dialect) when it refuses after some text, or blocks the prompt
    "anthropic refusal": (
        "anthropic",
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [{"type": "text", "text": "I can"}],
            "stop_reason": "refusal",
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 2},
        },
        "I can",
    ),
    "gemini SAFETY": (
        "gemini",
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "I can"}]}, "finishReason": "SAFETY"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        },
        "I can",
    ),
    "gemini blocked prompt": (
        "gemini",
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}},
        "",
    ),
}


@pytest.mark.parametrize(("speaks", "answer", "text"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_targets_refusal_is_an_incomplete_response_for_content_filter(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, speaks: str, answer: dict[str, Any], text: str
) -> None:
    """A refusal or a safety stop of another dialect's target (Anthropic ``stop_reason: refusal``, Gemini
    ``SAFETY``, a blocked prompt) reaches openai-python as OpenAI's filtered answer: ``status: incomplete``,
    ``incomplete_details.reason: content_filter``, the text written before it as ``output_text`` (not a
    ``refusal`` part: that is a model's own declining, which neither provider marks)."""
    body = json.dumps(answer).encode()
    upstream = await raw_upstream(answering(response(body, headers="content-type: application/json\r\n")))
    policy = "version: 1\nproviders:\n" + provider_block("p", upstream.base, speaks)
    running = await sidecar(policy + "models:\n  m: {provider: p, model: up, max_output_tokens: 1024}\n")
    async with client_at(running.url) as client:
        reply = await client.responses.create(model="m", input="hello")
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None and reply.incomplete_details.reason == "content_filter"
    assert reply.output_text == text
    assert [part.type for item in reply.output if item.type == "message" for part in item.content] == ["output_text"]
