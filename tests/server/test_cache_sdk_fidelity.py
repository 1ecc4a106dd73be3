"""A whole hit read by the caller's official SDK is the live answer field by field (openai-python,
the Anthropic SDK, google-genai): every field the SDK parses, but the answer's own id and time, for a
caller of the upstream's dialect (OpenAI's ``system_fingerprint``, ``service_tier`` and usage details,
Anthropic's ``usage.cache_creation`` and ``service_tier``, Gemini's token details kept with the entry)
and of another (as the translated live answer)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
import pytest
import redis.asyncio as redis_client
from google.genai import types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, whole_or_streamed
from .cache_helpers import cache_policy, redis_store, stored, upstream_calls, without

DIALECTS = ("openai", "anthropic", "gemini")
PROMPT = "tell me about the weather in four short words"
FRESH = frozenset({"id", "created", "response_id", "sdk_http_response", "create_time"})


async def _ask(running: RunningSidecar, caller: str, gemini_client: Any) -> tuple[dict[str, Any], str]:
    """The answer as the ``caller``'s SDK parsed it (``model_dump``) and its response id."""
    if caller == "openai":
        async with openai_client(running) as client:
            answer = await client.chat.completions.create(
                model="cached", temperature=0, messages=[{"role": "user", "content": PROMPT}]
            )
        return answer.model_dump(), answer.id
    if caller == "anthropic":
        async with anthropic_client(running) as client:
            message = await client.messages.create(
                model="cached",
                max_tokens=100,
                messages=[{"role": "user", "content": PROMPT}],
                extra_body={"temperature": 0},  # this SDK's typed parameters no longer take it
            )
        return message.model_dump(), message.id
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    response = await client.aio.models.generate_content(model="cached", contents=PROMPT, config=config)
    return response.model_dump(), response.response_id or ""


async def _live_then_hit(
    fake: FakeFactory, sidecar: SidecarFactory, provider: str, ask: Callable[[RunningSidecar], Awaitable[Any]]
) -> tuple[str, str]:
    """``ask`` (an SDK's answer and its id) of a caching sidecar over a ``provider`` upstream twice: one
    upstream call, the hit equal to the live answer but the id and time, and its own id; both ids."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks=provider))
    live, live_id = await ask(running)
    hit, hit_id = await ask(running)
    assert await upstream_calls(running, url) == 1
    assert without(hit, FRESH) == without(live, FRESH)
    assert hit_id != live_id
    return live_id, hit_id


@pytest.mark.parametrize("caller", DIALECTS)
@pytest.mark.parametrize("provider", DIALECTS)
async def test_an_sdk_reads_the_same_answer_from_a_hit_as_live(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, provider: str, caller: str
) -> None:
    """A ``caller`` SDK's whole answer from a ``provider`` upstream, live then from the cache: every parsed
    field equal but the id and time; a Gemini hit's id has the shape of Gemini's own."""
    live_id, hit_id = await _live_then_hit(
        fake, sidecar, provider, partial(_ask, caller=caller, gemini_client=gemini_client)
    )
    if provider == caller == "gemini":  # Gemini's own responseId: URL-safe base64, no prefix
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", live_id) and re.fullmatch(r"[A-Za-z0-9_-]{22}", hit_id), hit_id


async def test_a_redis_hit_keeps_the_extras_and_an_older_entry_is_served_without_them(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """From Redis, an OpenAI hit has the live answer's ``system_fingerprint`` and usage details; the same
    entry as an older sidecar wrote it (no ``x``, no body) is still a hit (not damaged), without them."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    live, _ = await _ask(running, "openai", None)
    await stored(redis_server.url)
    hit, _ = await _ask(running, "openai", None)
    assert without(hit, FRESH) == without(live, FRESH)
    async with redis_client.from_url(redis_server.url) as client:
        (key,) = await client.keys("*")
        head = orjson.loads((await client.get(key)).partition(b"\n")[0])
        assert head.pop("x")
        await client.set(key, orjson.dumps(head))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="cached", temperature=0, messages=[{"role": "user", "content": PROMPT}]
        )
    older = raw.parse()
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert (
        older.system_fingerprint is None
        and older.choices[0].message.content == live["choices"][0]["message"]["content"]
    )
    assert await upstream_calls(running, url) == 1


async def _ask_stream(running: RunningSidecar, caller: str, gemini_client: Any) -> tuple[list[dict[str, Any]], str]:
    """The stream as the ``caller``'s SDK parsed it (each event's ``model_dump``) and its response id."""
    if caller == "openai":
        async with openai_client(running) as client:
            chunks = await client.chat.completions.create(
                model="cached",
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
                messages=[{"role": "user", "content": PROMPT}],
            )
            events = [chunk async for chunk in chunks]
        return [e.model_dump() for e in events], events[0].id
    if caller == "anthropic":
        async with anthropic_client(running) as client:
            stream = await client.messages.create(
                model="cached",
                max_tokens=100,
                stream=True,
                messages=[{"role": "user", "content": PROMPT}],
                extra_body={"temperature": 0},
            )
            raw = [event async for event in stream]
        return [e.model_dump() for e in raw], raw[0].message.id  # type: ignore[union-attr]
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(temperature=0)
    stream = await client.aio.models.generate_content_stream(model="cached", contents=PROMPT, config=config)
    pieces = [piece async for piece in stream]
    return [p.model_dump() for p in pieces], pieces[0].response_id or ""


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_an_sdk_reads_the_same_stream_from_a_hit_as_live(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, dialect: str
) -> None:
    """A ``dialect`` SDK's stream from a ``dialect`` upstream, live then from the cache: every event the
    SDK parsed equal field by field but the id and time (OpenAI's ``system_fingerprint`` on every chunk
    and the usage chunk's details; Anthropic's ``message_start`` usage with ``cache_creation``,
    ``service_tier`` and ``output_tokens: 1``; Gemini's token details)."""
    await _live_then_hit(fake, sidecar, dialect, partial(_ask_stream, caller=dialect, gemini_client=gemini_client))


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_stored_whole_answer_streams_with_its_extras_and_a_stored_stream_answers_whole_with_them(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, dialect: str
) -> None:
    """A whole ``dialect`` answer stored, then asked as a stream: the stream's final usage carries the
    whole answer's usage details; and a stream stored, then asked whole: the answer has the stream's."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks=dialect))
    whole, _ = await _ask(running, dialect, gemini_client)
    streamed, _ = await _ask_stream(running, dialect, gemini_client)
    assert _usage_details(dialect, _usage_event(dialect, streamed)) == _usage_details(dialect, whole)
    other = await sidecar(cache_policy([url], speaks=dialect))
    live_stream, _ = await _ask_stream(other, dialect, gemini_client)
    whole_hit, _ = await _ask(other, dialect, gemini_client)
    assert _usage_details(dialect, whole_hit) == _usage_details(dialect, _usage_event(dialect, live_stream))
    assert await upstream_calls(running, url) == 2


def _usage_event(dialect: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The event of a stream that carries the fields outside the common form: OpenAI's usage chunk and
    Gemini's last fragment (the last event), Anthropic's ``message_start`` (the first)."""
    return events[0] if dialect == "anthropic" else events[-1]


def _usage_details(dialect: str, answer: dict[str, Any]) -> Any:
    """The fields outside the common form an answer or a stream's event carries."""
    if dialect == "openai":
        usage = answer["usage"]
        return answer["system_fingerprint"], usage["prompt_tokens_details"], usage["completion_tokens_details"]
    if dialect == "anthropic":
        usage = answer.get("message", answer)["usage"]
        return usage["cache_creation"], usage["service_tier"]
    usage = answer["usage_metadata"]
    return usage["cached_content_token_count"], usage["prompt_tokens_details"]


async def _cached(sidecar: SidecarFactory, dialect: str, base: str, model: str) -> RunningSidecar:
    """A sidecar with one caching route (model ``cached``) to the ``dialect`` provider at ``base`` (its
    ``model``), the API key ``k``."""
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: KEY}}}}\n"
        f"models:\n  m: {{provider: p, model: {model}}}\n"
        "routes:\n  - {name: cached, match: {model: cached}, target: [m], cache: {enabled: true}}\n"
    )
    return await sidecar(policy, env={"KEY": "k"})


# An Anthropic answer's usage with the fields the SDK's typed ``Usage`` reads beyond the fake provider's:
# where the message is served (``inference_geo``) and at what speed.
_ANTHROPIC_USAGE = {
    "input_tokens": 9,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 3,
    "service_tier": "standard",
    "inference_geo": "us",
    "speed": "standard",
}
_ANTHROPIC_MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "sunny and mild"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": _ANTHROPIC_USAGE,
}


def _anthropic_events() -> list[bytes]:
    start = {
        **_ANTHROPIC_MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {**_ANTHROPIC_USAGE, "output_tokens": 1},
    }
    delta_usage = {
        k: _ANTHROPIC_USAGE[k]
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": start}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("ping", {}),
        *[
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}})
            for text in ("sunny ", "and mild")
        ],
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": delta_usage}),
        ("message_stop", {}),
    ]
    return [b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps({"type": name, **data})) for name, data in events]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_an_anthropic_hit_keeps_the_usages_inference_geo_and_speed(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """An Anthropic app's answer from Anthropic whose usage says where and at what speed it was served
    (``inference_geo``, ``speed``), live then from the cache: the SDK reads them from the hit too (in the
    message, and in a stream's ``message_start``), every field equal but the id."""
    upstream = await raw_upstream(
        whole_or_streamed(
            orjson.dumps(_ANTHROPIC_MESSAGE), _anthropic_events(), lambda request: b'"stream":true' in request.body
        )
    )
    running = await _cached(sidecar, "anthropic", upstream.base, "claude-sonnet-4-5")
    ask = _ask_stream if stream else _ask
    live, _ = await ask(running, "anthropic", None)
    hit, _ = await ask(running, "anthropic", None)
    assert len(upstream.requests) == 1
    assert without(hit, FRESH) == without(live, FRESH)
    usage = (live[0]["message"] if stream else live)["usage"]  # type: ignore[call-overload]
    assert (usage["inference_geo"], usage["speed"]) == ("us", "standard")


# An Anthropic answer that wrote the prompt to Anthropic's cache and spent output tokens thinking: its
# message_start's usage splits the writes (``cache_creation``); its message_delta's has the cumulative
# counts and ``output_tokens_details`` alone (the SDK's ``MessageDeltaUsage``).
_WRITING_USAGE = {
    **_ANTHROPIC_USAGE,
    "cache_creation_input_tokens": 2048,
    "cache_creation": {"ephemeral_5m_input_tokens": 2048, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 30,
    "output_tokens_details": {"thinking_tokens": 20},
}


def _writing_events() -> list[bytes]:
    events = _anthropic_events()
    start = {
        **_ANTHROPIC_MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {k: v for k, v in {**_WRITING_USAGE, "output_tokens": 1}.items() if k != "output_tokens_details"},
    }
    delta_usage = {
        k: _WRITING_USAGE[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
        )
    }
    events[0] = b"event: message_start\ndata: %s\n\n" % orjson.dumps({"type": "message_start", "message": start})
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": delta_usage}
    events[-2] = b"event: message_delta\ndata: %s\n\n" % orjson.dumps(delta)
    return events


async def test_an_anthropic_streamed_hit_that_wrote_the_cache_and_thought_has_the_live_usage(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic app's stream from Anthropic that wrote the prompt cache and counted thinking tokens, live
    then from the cache: the SDK reads the same usage from the hit's ``message_start`` (no
    ``output_tokens_details``: its thinking tokens are not yet counted) and ``message_delta`` (its
    ``output_tokens_details``, and no ``cache_creation`` split, as Anthropic's ``message_delta`` has none)."""
    whole = orjson.dumps({**_ANTHROPIC_MESSAGE, "usage": _WRITING_USAGE})
    upstream = await raw_upstream(
        whole_or_streamed(whole, _writing_events(), lambda request: b'"stream":true' in request.body)
    )
    running = await _cached(sidecar, "anthropic", upstream.base, "claude-sonnet-4-5")
    live, _ = await _ask_stream(running, "anthropic", None)
    hit, _ = await _ask_stream(running, "anthropic", None)
    assert len(upstream.requests) == 1
    assert without(hit, FRESH) == without(live, FRESH)


# An OpenAI stream as OpenAI writes it by default: each chunk with random characters in ``obfuscation``.
_OPENAI_CHUNK = {
    "id": "chatcmpl-CdXyM0b1ZLkPq2Rr3sTt4uVv5wWx",
    "object": "chat.completion.chunk",
    "created": 1764990000,
    "model": "gpt-4o-mini-2024-07-18",
    "service_tier": "default",
    "system_fingerprint": "fp_560af6e559",
}


def _openai_padded_events() -> list[bytes]:
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": "", "refusal": None}, None),
        ({"content": "sunny "}, None),
        ({"content": "and mild"}, None),
        ({}, "stop"),
    ]
    chunks: list[dict[str, Any]] = [
        {**_OPENAI_CHUNK, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": f}], "usage": None}
        for d, f in deltas
    ]
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": 3,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    chunks.append({**_OPENAI_CHUNK, "choices": [], "usage": usage})
    padded = [{**chunk, "obfuscation": "x7Qp"[: 1 + n % 4]} for n, chunk in enumerate(chunks)]
    return [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in padded] + [b"data: [DONE]\n\n"]


async def test_an_openai_streamed_hit_pads_its_chunks_as_live_unless_the_request_turns_it_off(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app's stream from OpenAI, whose chunks carry ``obfuscation`` (random characters, OpenAI's
    default), live then from the cache: every hit chunk has an ``obfuscation`` string too, the rest equal
    but the id and time; asked with ``stream_options.include_obfuscation: false``, the hit's chunks have none."""
    upstream = await raw_upstream(whole_or_streamed(b"", _openai_padded_events(), lambda request: True))
    running = await _cached(sidecar, "openai", upstream.base + "/v1", "gpt-4o-mini")
    live, _ = await _ask_stream(running, "openai", None)
    hit, _ = await _ask_stream(running, "openai", None)
    assert len(upstream.requests) == 1
    assert [type(chunk["obfuscation"]) for chunk in hit] == [str] * len(live)
    assert all(chunk["obfuscation"] for chunk in hit)
    padding = FRESH | {"obfuscation"}
    assert without(hit, padding) == without(live, padding)
    async with openai_client(running) as client:
        chunks = await client.chat.completions.create(
            model="cached",
            temperature=0,
            stream=True,
            stream_options={"include_usage": True, "include_obfuscation": False},
            messages=[{"role": "user", "content": PROMPT}],
        )
        bare = [chunk.model_dump() async for chunk in chunks]
    assert [chunk["obfuscation"] for chunk in bare] == [None] * len(live)
    assert without(bare, padding) == without(live, padding)
