"""A hit is the live answer again, field by field, for every provider dialect and caller dialect, whole
and streamed (the fake provider behind the real sidecar, raw HTTP so that every field is seen).

Whole: the hit's JSON is the live answer's except its id and time: the fields the common form does not
carry (OpenAI's ``system_fingerprint``, ``service_tier`` and usage details, zeros included; Anthropic's
``usage.service_tier`` and ``cache_creation``; Gemini's token details) are kept with the entry for a
caller of the upstream's dialect, and a translated live answer lacks them as the hit does. Streamed:
the same text in the same fragments, the same finish and the same token counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from ..sdk_clients import openai_client
from ..translate.responses import openai_body
from ..upstream.raw import ServerConn, UpstreamFactory, response, whole_or_streamed
from .cache_helpers import cache_policy, redis_store, stored, without

DIALECTS = ("openai", "anthropic", "gemini")
PROMPT = "tell me about the weather in four short words"
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": (
        "/v1/chat/completions",
        {"model": "cached", "temperature": 0, "messages": [{"role": "user", "content": PROMPT}]},
    ),
    "anthropic": (
        "/v1/messages",
        {"model": "cached", "max_tokens": 100, "temperature": 0, "messages": [{"role": "user", "content": PROMPT}]},
    ),
    "gemini": (
        "/v1beta/models/cached:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}], "generationConfig": {"temperature": 0}},
    ),
}
FRESH = frozenset({"id", "created", "responseId"})  # each answer's own
MESSAGES = REQUESTS["openai"][1]["messages"]


async def _whole(session: aiohttp.ClientSession, running: RunningSidecar, caller: str) -> tuple[str, Any]:
    path, body = REQUESTS[caller]
    async with session.post(running.url + path, json=body, headers={"x-api-key": "k"}) as answer:
        assert answer.status == 200
        return answer.headers["x-sidecar-cache"], orjson.loads(await answer.read())


Read = Callable[[aiohttp.ClientSession, RunningSidecar, str], Awaitable[tuple[str, Any]]]


async def _live_then_hit(
    running: RunningSidecar, read: Read, caller: str, redis: RedisServer | None = None
) -> tuple[Any, Any]:
    """The ``caller``'s answer read by ``read`` (``_whole`` or ``_stream``) twice, a miss then a hit (with
    ``redis``: once the first is stored there): the live answer and the hit."""
    async with aiohttp.ClientSession() as session:
        live_state, live = await read(session, running, caller)
        if redis is not None:
            await stored(redis.url)
        hit_state, hit = await read(session, running, caller)
    assert (live_state, hit_state) == ("miss", "hit")
    return live, hit


@pytest.mark.parametrize("caller", DIALECTS)
@pytest.mark.parametrize("provider", DIALECTS)
async def test_a_whole_hit_is_the_live_answer_field_by_field(
    fake: FakeFactory, sidecar: SidecarFactory, provider: str, caller: str
) -> None:
    """A ``caller`` app's whole answer from a ``provider`` upstream, live then from the cache: equal but
    for the id and time."""
    running = await sidecar(cache_policy([await fake("f0")], speaks=provider))
    live, hit = await _live_then_hit(running, _whole, caller)
    assert without(hit, FRESH) == without(live, FRESH)
    assert without(hit, FRESH) != hit  # the hit has an id of its own


async def _stream(session: aiohttp.ClientSession, running: RunningSidecar, caller: str) -> tuple[str, list[Any]]:
    path, body = REQUESTS[caller]
    if caller == "gemini":
        path = path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"
    else:
        body = {**body, "stream": True}
        if caller == "openai":
            body["stream_options"] = {"include_usage": True}
    async with session.post(running.url + path, json=body, headers={"x-api-key": "k"}) as answer:
        assert answer.status == 200
        text = (await answer.read()).decode()
        state = answer.headers["x-sidecar-cache"]
    events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return state, [orjson.loads(e) for e in events if e != "[DONE]"]


def _read(caller: str, events: list[Any]) -> tuple[list[str], str | None, tuple[int, int]]:
    """A stream's text fragments (empty ones left out), finish reason and (input, output) tokens."""
    fragments: list[str] = []
    finish: str | None = None
    tokens = (0, 0)
    for event in events:
        if caller == "openai":
            for choice in event.get("choices") or []:
                fragments.append(choice["delta"].get("content") or "")
                finish = choice.get("finish_reason") or finish
            if event.get("usage"):
                tokens = (event["usage"]["prompt_tokens"], event["usage"]["completion_tokens"])
        elif caller == "anthropic":
            if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                fragments.append(event["delta"]["text"])
            if event["type"] == "message_start":
                tokens = (event["message"]["usage"]["input_tokens"] or tokens[0], tokens[1])
            if event["type"] == "message_delta":
                finish = event["delta"]["stop_reason"]
                tokens = (event["usage"].get("input_tokens") or tokens[0], event["usage"]["output_tokens"])
        else:
            for candidate in event.get("candidates") or []:
                fragments += [p.get("text", "") for p in candidate["content"].get("parts", [])]
                finish = candidate.get("finishReason") or finish
            if event.get("usageMetadata"):
                tokens = (event["usageMetadata"]["promptTokenCount"], event["usageMetadata"]["candidatesTokenCount"])
    return [f for f in fragments if f], finish, tokens


@pytest.mark.parametrize("caller", DIALECTS)
@pytest.mark.parametrize("provider", DIALECTS)
async def test_a_streamed_hit_replays_the_live_stream(
    fake: FakeFactory, sidecar: SidecarFactory, provider: str, caller: str
) -> None:
    """A ``caller`` app's stream from a ``provider`` upstream, live then from the cache: the same text
    fragments (not one event, not fixed-size pieces), the same finish reason and token counts."""
    running = await sidecar(cache_policy([await fake("f0")], speaks=provider))
    async with aiohttp.ClientSession() as session:
        live_state, live = await _stream(session, running, caller)
        hit_state, hit = await _stream(session, running, caller)
    assert (live_state, hit_state) == ("miss", "hit")
    live_read, hit_read = _read(caller, live), _read(caller, hit)
    assert len(live_read[0]) > 1 and hit_read == live_read


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_same_dialect_streamed_hit_is_the_live_stream_event_by_event(
    fake: FakeFactory, sidecar: SidecarFactory, dialect: str
) -> None:
    """A ``dialect`` app's stream from a ``dialect`` upstream, live then from the cache: every event's
    JSON equal but the id and time (an OpenAI hit asked for usage has ``"usage": null`` on each chunk
    before the usage chunk and ``"refusal": null`` in the role chunk, as the live stream)."""
    running = await sidecar(cache_policy([await fake("f0")], speaks=dialect))
    live, hit = await _live_then_hit(running, _stream, dialect)
    assert without(hit, FRESH) == without(live, FRESH)


# Gemini's own stream: usageMetadata on every fragment (the usage so far: the prompt's), the whole usage
# (with Vertex AI's trafficType) and the candidate's avgLogprobs (given unasked) and safetyRatings on the
# last; its whole answer the same fields.
_SO_FAR = {"promptTokenCount": 9, "totalTokenCount": 9, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]}
_USAGE = {**_SO_FAR, "candidatesTokenCount": 3, "totalTokenCount": 12, "trafficType": "ON_DEMAND"}
_RATINGS = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
]
_FINISHED = {"finishReason": "STOP", "avgLogprobs": -0.2503, "safetyRatings": _RATINGS}


def _gemini_answer(parts: list[str], last: bool) -> dict[str, Any]:
    candidate = {"content": {"parts": [{"text": p} for p in parts], "role": "model"}, "index": 0}
    usage = _USAGE if last else _SO_FAR
    answer = {"candidates": [{**candidate, **(_FINISHED if last else {})}], "usageMetadata": usage}
    return {**answer, "modelVersion": "gemini-2.5-flash", "responseId": "mXbAaJLuNc-p1MkPnJ7xsQ"}


@pytest.mark.parametrize("redis", [False, True], ids=["memory", "redis"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_gemini_hit_has_the_usage_on_every_fragment_and_the_avg_logprobs_as_live(
    raw_upstream: UpstreamFactory,
    sidecar: SidecarFactory,
    start_redis: Callable[..., RedisServer],
    stream: bool,
    redis: bool,
) -> None:
    """A Gemini app's answer from Gemini, live then from the cache (memory or Redis): equal but the id; a
    stream's every fragment has ``usageMetadata`` (the usage so far, then the whole, with its
    ``trafficType``), its last the candidate's ``avgLogprobs`` and ``safetyRatings``, as Gemini's own; a
    whole answer its ``avgLogprobs``, ``safetyRatings`` and ``trafficType``."""
    upstream, running, server = await _gemini_sidecar(raw_upstream, sidecar, start_redis if redis else None)
    live, hit = await _live_then_hit(running, _stream if stream else _whole, "gemini", server)
    assert without(hit, FRESH) == without(live, FRESH)
    assert len(upstream.requests) == 1


async def _gemini_sidecar(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer] | None
) -> tuple[Any, RunningSidecar, RedisServer | None]:
    """A caching sidecar over a raw Gemini upstream answering ``_gemini_answer``'s, whole or streamed in
    three fragments (with ``start_redis``: its cache in a Redis it starts): the upstream, the sidecar, the Redis."""
    pieces = ["sunny ", "and ", "mild"]
    events = [
        b"data: " + orjson.dumps(_gemini_answer([piece], i == len(pieces) - 1)) + b"\r\n\r\n"
        for i, piece in enumerate(pieces)
    ]
    whole = orjson.dumps(_gemini_answer(["".join(pieces)], True))
    upstream = await raw_upstream(whole_or_streamed(whole, events, lambda request: b"alt=sse" in request.head))
    server = start_redis() if start_redis is not None else None
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: gemini-2.5-flash}\n"
        "routes:\n  - {name: cached, match: {model: cached}, target: [m], cache: {enabled: true}}\n"
    )
    if server is not None:
        policy += f"cache: {redis_store(server.url)}\n"
    return upstream, await sidecar(policy, env={"KEY": "k"}), server


@pytest.mark.parametrize("redis", [False, True], ids=["memory", "redis"])
async def test_a_stored_whole_gemini_answer_streams_the_usage_so_far_on_every_fragment(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], redis: bool
) -> None:
    """A Gemini app's whole answer from Gemini stored (memory or Redis), then asked as a stream: each
    fragment but the last has the usage so far (the prompt's counts), the last the whole usage, as a live
    Gemini stream's fragments have (before 2026-12-06 only the last had ``usageMetadata``)."""
    upstream, running, server = await _gemini_sidecar(raw_upstream, sidecar, start_redis if redis else None)
    async with aiohttp.ClientSession() as session:
        assert (await _whole(session, running, "gemini"))[0] == "miss"
        if server is not None:
            await stored(server.url)
        state, hit = await _stream(session, running, "gemini")
    assert state == "hit" and len(hit) > 2 and len(upstream.requests) == 1
    assert [fragment["usageMetadata"] for fragment in hit] == [_SO_FAR] * (len(hit) - 1) + [_USAGE]


@pytest.mark.parametrize("redis", [False, True], ids=["memory", "redis"])
async def test_an_openai_hit_calls_tools_with_the_arguments_text_the_model_wrote(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], redis: bool
) -> None:
    """An OpenAI answer's tool calls whose ``arguments`` the model wrote with spaces, an escaped letter and
    ``1.50``: the SDK reads the same strings from the whole hit (and a streamed hit) as from the live
    answer, not the parsed object written again compact (``{"city":"Montréal","days":1.5}``)."""
    written = ['{"city": "Montr\\u00e9al", "days": 1.50}', '{ "tz" : "America/Toronto" }']
    body = openai_body("tools")
    for call, text in zip(body["choices"][0]["message"]["tool_calls"], written, strict=True):
        call["function"]["arguments"] = text

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(response(orjson.dumps(body), headers="content-type: application/json\r\n"))

    upstream = await raw_upstream(handler)
    server = start_redis() if redis else None
    running = await sidecar(cache_policy([upstream.base], store=redis_store(server.url) if server else ""))
    states: list[str] = []
    arguments: list[list[str]] = []
    async with openai_client(running) as client:
        for _ in range(2):
            if server is not None and states:
                await stored(server.url)  # the hit read from Redis
            ask = client.chat.completions.with_raw_response.create
            raw = await ask(model="cached", messages=MESSAGES, temperature=0)
            states.append(raw.headers["x-sidecar-cache"])
            calls = raw.parse().choices[0].message.tool_calls or ()
            arguments.append([c.function.arguments for c in calls])  # type: ignore[union-attr]
        stream = await client.chat.completions.create(model="cached", messages=MESSAGES, temperature=0, stream=True)
        pieces: dict[int, str] = {}
        async for chunk in stream:
            for call in (chunk.choices[0].delta.tool_calls or ()) if chunk.choices else ():
                pieces[call.index] = pieces.get(call.index, "") + ((call.function and call.function.arguments) or "")
    assert states == ["miss", "hit"]
    assert arguments == [written, written]
    assert [pieces[i] for i in sorted(pieces)] == written
    assert len(upstream.requests) == 1
