"""The sidecar's headers read through each SDK's own raw-response API (openai and anthropic
``with_raw_response`` and an error's ``response``, google-genai's ``sdk_http_response`` and an error's
``response``), on an answer translated from another dialect (whole and streamed), the static last
resort's and the sidecar's own errors: the request id is the access line's, the route is named, and the
model and provider when a model answered."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from .sdk_stack import start

FAIL = {"x-fake-fault": "status=503"}
MESSAGES: Any = [{"role": "user", "content": "hello"}]


def logged_ids(running: RunningSidecar) -> list[str]:
    return [line["request_id"] for line in running.log_lines() if line.get("event") == "access"]


def check(running: RunningSidecar, seen: list[tuple[str, Any]]) -> None:
    """``seen``: (what answered, its headers) in request order."""
    assert [headers["x-sidecar-request-id"] for _, headers in seen] == logged_ids(running)
    for kind, headers in seen:
        if kind == "model":
            assert headers["x-sidecar-route"].startswith("model:from-")
            assert headers["x-sidecar-model"] and headers["x-sidecar-provider"]
        elif kind == "static":
            assert (headers["x-sidecar-route"], headers["x-sidecar-degraded"]) == ("static", "static")
        else:  # the sidecar's error once every target failed: a whole number of seconds to wait
            assert headers["x-sidecar-route"] == "model:from-openai"
            assert int(headers["retry-after"]) >= 1 and headers["x-should-retry"] == "false"


async def test_openai_raw_responses_carry_the_sidecars_headers(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """openai-python: ``with_raw_response`` on a translated answer, whole and streamed, and on the
    static last resort; ``APIStatusError.response`` on the sidecar's 503."""
    running = await start(fake, sidecar)
    seen: list[tuple[str, Any]] = []
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x") as client:
        completions = client.chat.completions.with_raw_response
        for stream in (False, True):
            raw = await completions.create(model="from-anthropic", messages=MESSAGES, stream=stream)
            if stream:
                [chunk async for chunk in raw.parse()]
            seen.append(("model", raw.headers))
        raw = await completions.create(model="static", messages=MESSAGES, extra_headers=FAIL)
        seen.append(("static", raw.headers))
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="from-openai", messages=MESSAGES, extra_headers=FAIL)
        seen.append(("error", raised.value.response.headers))
    check(running, seen)


async def test_anthropic_raw_responses_carry_the_sidecars_headers(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The Anthropic SDK: the same four answers through ``with_raw_response`` and ``APIStatusError``."""
    running = await start(fake, sidecar)
    seen: list[tuple[str, Any]] = []
    params: Any = {"max_tokens": 50, "messages": MESSAGES}
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client:
        messages = client.messages.with_raw_response
        for stream in (False, True):
            raw = await messages.create(model="from-gemini", stream=stream, **params)
            if stream:
                [event async for event in await raw.parse()]
            seen.append(("model", raw.headers))
        raw = await messages.create(model="static", extra_headers=FAIL, **params)
        seen.append(("static", raw.headers))
        with pytest.raises(anthropic.APIStatusError) as raised:
            await client.messages.create(model="from-openai", extra_headers=FAIL, **params)
        seen.append(("error", raised.value.response.headers))
    check(running, seen)


async def test_gemini_responses_carry_the_sidecars_headers(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai: ``sdk_http_response.headers`` on a translated answer, whole and on a streamed chunk,
    and on the static last resort; ``APIError.response`` on the sidecar's 503."""
    running = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    failing = types.GenerateContentConfig(http_options=types.HttpOptions(headers=FAIL))
    seen: list[tuple[str, Any]] = []
    whole = await models.generate_content(model="from-openai", contents="hello")
    chunks = [chunk async for chunk in await models.generate_content_stream(model="from-anthropic", contents="hello")]
    static = await models.generate_content(model="static", contents="hello", config=failing)
    for kind, answer in (("model", whole), ("model", chunks[0]), ("static", static)):
        assert answer.sdk_http_response is not None and answer.sdk_http_response.headers is not None
        seen.append((kind, answer.sdk_http_response.headers))
    with pytest.raises(errors.APIError) as raised:
        await models.generate_content(model="from-openai", contents="hello", config=failing)
    assert raised.value.code == 503
    seen.append(("error", raised.value.response.headers))
    check(running, seen)
