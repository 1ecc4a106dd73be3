"""Malformed requests to the features' paths (the response cache, an ensemble, a shadow, a capped route):
a 400 in the caller's dialect, or the request served, never a 500. Each case was a 500 (an internal
error) before: a field the sidecar reads of the wrong type, a number past 64 bits that the cache key
could not write, a body nested deeper than the sidecar can write again."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block

ROUTES = (
    "routes:\n"
    "  - {name: cached, match: {model: cached}, target: [m0],"
    " cache: {enabled: true, cacheable: always}}\n"
    "  - {name: vote, match: {model: vote}, ensemble: {members: [m0, m1]}}\n"
    "  - {name: shadowed, match: {model: shadowed}, target: [m0], shadow: {candidates: [m1], sample: 1}}\n"
    "  - {name: capped, match: {model: capped}, target: [m0], caps: {max_output_tokens: 64}}\n"
    "  - {name: plain, match: {model: plain}, target: [m0]}\n"
)
ROUTE_NAMES = ("cached", "vote", "shadowed", "capped", "plain")


async def start(fake: FakeFactory, sidecar: SidecarFactory, speaks: str) -> RunningSidecar:
    urls = [await fake("f0"), await fake("f1")]
    policy = "version: 1\nproviders:\n" + "".join(provider_block(f"p{i}", u, speaks) for i, u in enumerate(urls))
    policy += "models:\n  m0: {provider: p0, model: up0}\n  m1: {provider: p1, model: up1}\n"
    return await sidecar(policy + ROUTES)


async def post(running: RunningSidecar, path: str, body: bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, data=body, headers={"content-type": "application/json"}) as answer,
    ):
        return answer.status, orjson.loads(await answer.read())


def nested(depth: int) -> bytes:
    """A JSON value ``depth`` arrays deep (orjson reads up to 1024 levels and writes up to 255)."""
    return b"[" * depth + b"]" * depth


def openai_body(model: str, extra: bytes) -> bytes:
    return b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]%s}' % (model.encode(), extra)


@pytest.mark.parametrize("route", ROUTE_NAMES)
async def test_stream_options_not_an_object_is_a_400_naming_it(
    fake: FakeFactory, sidecar: SidecarFactory, route: str
) -> None:
    """OpenAI ``stream_options`` that is not an object: 400 invalid_type, param stream_options."""
    running = await start(fake, sidecar, "openai")
    status, body = await post(
        running, "/v1/chat/completions", openai_body(route, b', "stream": true, "stream_options": "yes"')
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_type" and body["error"]["param"] == "stream_options"


@pytest.mark.parametrize("route", ROUTE_NAMES)
@pytest.mark.parametrize("depth", [250, 255, 1000])
async def test_a_body_nested_deeper_than_the_sidecar_writes_is_a_400(
    fake: FakeFactory, sidecar: SidecarFactory, route: str, depth: int
) -> None:
    """A field nested 250 levels or more inside the body (251 with it: valid JSON, which orjson reads to
    1024 levels, but deeper than the sidecar writes again): 400 invalid_json in the caller's dialect."""
    running = await start(fake, sidecar, "openai")
    status, body = await post(running, "/v1/chat/completions", openai_body(route, b', "x": ' + nested(depth)))
    assert status == 400 and body["error"]["code"] == "invalid_json"
    assert "nested" in body["error"]["message"]


@pytest.mark.parametrize("route", ROUTE_NAMES)
@pytest.mark.parametrize("speaks", ["openai", "anthropic"])
async def test_a_body_as_deep_as_the_limit_is_served(
    fake: FakeFactory, sidecar: SidecarFactory, route: str, speaks: str
) -> None:
    """A body 250 levels deep (``pipeline.MAX_BODY_DEPTH``, the body itself included) is served, to an
    upstream of the caller's dialect and translated: a tool schema that deep goes one level deeper in
    Anthropic's tools."""
    running = await start(fake, sidecar, speaks)
    tool = b'{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": %s}}}}'
    tools = b', "tools": [' + tool % nested(244) + b"]"
    status, _ = await post(running, "/v1/chat/completions", openai_body(route, tools))
    assert status == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", openai_body("cached", b', "temperature": 1e308')),
        ("/v1/chat/completions", openai_body("cached", b', "seed": 1e300')),
        (
            "/v1/messages",
            b'{"model": "cached", "max_tokens": 1e30, "messages": [{"role": "user", "content": "hi"}]}',
        ),
        (
            "/v1beta/models/cached:generateContent",
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 1e300}}',
        ),
    ],
    ids=["openai temperature", "openai seed", "anthropic max_tokens", "gemini temperature"],
)
async def test_a_whole_number_past_64_bits_does_not_break_the_cache_key(
    fake: FakeFactory, sidecar: SidecarFactory, path: str, body: bytes
) -> None:
    """A huge whole float (1e308) where the cache key writes whole floats as integers: the key is made
    (the request goes upstream, whose answer the caller gets), not a 500."""
    running = await start(fake, sidecar, "openai")
    status, _ = await post(running, path, body)
    assert status < 500


@pytest.mark.parametrize("config", [b'"fast"', b"[1, 2]", b"7"])
async def test_a_gemini_generation_config_not_an_object_is_a_400(
    fake: FakeFactory, sidecar: SidecarFactory, config: bytes
) -> None:
    """``generationConfig`` that is not an object, on a route whose caps set the output limit: 400
    INVALID_ARGUMENT naming the field, as Gemini answers it."""
    running = await start(fake, sidecar, "gemini")
    body = b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": %s}' % config
    status, answer = await post(running, "/v1beta/models/capped:generateContent", body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert "generationConfig" in answer["error"]["message"]
