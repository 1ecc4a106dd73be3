"""Fault injection seen through the official SDKs: exception classes, retry hints, broken streams."""

from __future__ import annotations

import datetime
import time
from typing import Any

import aiohttp
import anthropic
import httpx2
import openai
import pytest
from google.genai import errors

from sidecar.sse import SSEParser

USER: Any = [{"role": "user", "content": "one two three four five six"}]


def fault(spec: str) -> dict[str, str]:
    return {"x-fake-fault": spec}


async def raw_stream(server: Any, spec: str) -> tuple[list[bytes], bool]:
    """POST a streaming chat request; return the event data received and whether the body ended cleanly."""
    body = {"model": "m", "stream": True, "messages": USER}
    parser = SSEParser()
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1/chat/completions"), json=body, headers=fault(spec)) as response,
    ):
        data: list[bytes] = []
        try:
            async for chunk in response.content.iter_any():
                data += [event.data for event in parser.feed(chunk)]
        except aiohttp.ClientPayloadError:
            return data, False
    return data, True


async def consume(stream: Any) -> None:
    async for _item in stream:
        pass


async def test_openai_429_default_hints(fake, openai_for):
    """status=429 raises RateLimitError with OpenAI's retry-after, retry-after-ms and reset durations."""
    client = openai_for(await fake())
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("status=429;after=360"))
    headers = caught.value.response.headers
    assert headers["retry-after"] == "360"
    assert headers["retry-after-ms"] == "360000"
    assert headers["x-ratelimit-reset-requests"] == "6m0s"
    assert caught.value.code == "rate_limit_exceeded"


async def test_openai_429_chosen_hint(fake, openai_for):
    """``hint=retry-after-ms;after=1.5`` sends only retry-after-ms: 1500."""
    client = openai_for(await fake())
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="m", messages=USER, extra_headers=fault("status=429;hint=retry-after-ms;after=1.5")
        )
    headers = caught.value.response.headers
    assert headers["retry-after-ms"] == "1500"
    assert "retry-after" not in headers
    assert "x-ratelimit-reset-requests" not in headers


async def test_anthropic_429_reset_is_rfc3339(fake, anthropic_for):
    """Anthropic's 429 carries retry-after and an RFC 3339 anthropic-ratelimit-requests-reset."""
    client = anthropic_for(await fake())
    with pytest.raises(anthropic.RateLimitError) as caught:
        await client.messages.create(
            model="claude-fake-1", max_tokens=5, messages=USER, extra_headers=fault("status=429;after=2")
        )
    headers = caught.value.response.headers
    assert headers["retry-after"] == "2"
    reset = datetime.datetime.fromisoformat(headers["anthropic-ratelimit-requests-reset"])
    assert reset.tzinfo is not None


async def test_anthropic_overloaded_529(fake, anthropic_for):
    """``overloaded`` (and status=529) raise the SDK's 529 OverloadedError with overloaded_error."""
    client = anthropic_for(await fake())
    for spec in ("overloaded", "529"):
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(model="claude-fake-1", max_tokens=5, messages=USER, extra_headers=fault(spec))
        assert caught.value.status_code == 529
        assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def gemini_error(client: Any, config: Any) -> errors.ClientError:
    """The ClientError google-genai raises for the fake's injected error."""
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model="m", contents="x", config=config)
    return caught.value


async def test_gemini_429_retry_info(fake, gemini_for, gemini_fault):
    """Gemini's 429 is RESOURCE_EXHAUSTED with a google.rpc.RetryInfo retryDelay."""
    error = await gemini_error(gemini_for(await fake()), gemini_fault("status=429;after=37"))
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    details = error.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"} in details


async def test_gemini_408_is_deadline_exceeded(fake, gemini_for, gemini_fault):
    """Gemini's 408 is DEADLINE_EXCEEDED (time ran out, retry), not FAILED_PRECONDITION (quota gone)."""
    error = await gemini_error(gemini_for(await fake()), gemini_fault("status=408"))
    assert (error.code, error.status) == (408, "DEADLINE_EXCEEDED")


async def test_quota_per_dialect(fake, openai_for, anthropic_for):
    """``quota`` is OpenAI 429 insufficient_quota and Anthropic 402 billing_error."""
    server = await fake()
    with pytest.raises(openai.RateLimitError) as openai_error:
        await openai_for(server).chat.completions.create(model="m", messages=USER, extra_headers=fault("quota"))
    assert openai_error.value.code == "insufficient_quota"
    assert "retry-after" not in openai_error.value.response.headers
    with pytest.raises(anthropic.APIStatusError) as anthropic_error:
        await anthropic_for(server).messages.create(
            model="claude-fake-1", max_tokens=5, messages=USER, extra_headers=fault("quota")
        )
    assert anthropic_error.value.status_code == 402
    assert anthropic_error.value.body["error"]["type"] == "billing_error"  # type: ignore[index]


async def test_context_overflow_per_dialect(fake, openai_for, anthropic_for, gemini_for, gemini_fault):
    """``context`` answers each provider's context-overflow 400 with its wording."""
    server = await fake()
    spec = "context;tokens=300000;max=200000"
    with pytest.raises(openai.BadRequestError) as openai_error:
        await openai_for(server).chat.completions.create(model="m", messages=USER, extra_headers=fault(spec))
    assert openai_error.value.code == "context_length_exceeded"
    with pytest.raises(anthropic.BadRequestError) as anthropic_error:
        await anthropic_for(server).messages.create(
            model="claude-fake-1", max_tokens=5, messages=USER, extra_headers=fault(spec)
        )
    assert "prompt is too long: 300000 tokens > 200000 maximum" in anthropic_error.value.message
    with pytest.raises(errors.ClientError) as gemini_error:
        await gemini_for(server).aio.models.generate_content(model="m", contents="x", config=gemini_fault(spec))
    assert gemini_error.value.message == (
        "The input token count (300000) exceeds the maximum number of tokens allowed (200000)."
    )


async def test_reset_is_connection_error(fake, openai_for, anthropic_for):
    """``reset`` and ``reset-body`` drop the connection: the SDKs raise APIConnectionError."""
    server = await fake()
    for spec in ("reset", "reset-body"):
        with pytest.raises(openai.APIConnectionError):
            await openai_for(server).chat.completions.create(model="m", messages=USER, extra_headers=fault(spec))
    with pytest.raises(anthropic.APIConnectionError):
        await anthropic_for(server).messages.create(
            model="claude-fake-1", max_tokens=5, messages=USER, extra_headers=fault("reset")
        )


async def test_stall_times_out(fake, openai_for):
    """``stall=S`` sends nothing for S seconds: a shorter client timeout raises APITimeoutError."""
    client = openai_for(await fake(), timeout=0.1)
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("stall=0.4"))


async def test_malformed_body(fake, openai_for):
    """``malformed`` answers 200 with a body that is not JSON."""
    client = openai_for(await fake())
    raw = await client.chat.completions.with_raw_response.create(
        model="m", messages=USER, extra_headers=fault("malformed")
    )
    assert raw.http_response.status_code == 200
    with pytest.raises(ValueError, match=r"JSON|Unterminated|Expecting"):
        raw.parse()


async def test_cut_stream_has_no_terminator(fake):
    """``cut=3`` sends three events and drops the connection without ``[DONE]``."""
    server = await fake()
    data, clean = await raw_stream(server, "cut=3")
    assert len(data) == 3
    assert b"[DONE]" not in data
    assert not clean


async def test_cut_stream_raises_in_sdk(fake, openai_for, anthropic_for):
    """Cut streams surface as connection errors in the SDKs after the events that were sent."""
    server = await fake()
    stream = await openai_for(server).chat.completions.create(
        model="m", messages=USER, stream=True, extra_headers=fault("cut=3")
    )
    received = []

    async def drain() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIConnectionError):
        await drain()
    assert len(received) == 3
    with pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)):
        async with anthropic_for(server).messages.stream(
            model="claude-fake-1", max_tokens=50, messages=USER, extra_headers=fault("cut=4")
        ) as anthropic_stream:
            await anthropic_stream.get_final_message()


async def test_error_event_after_200(fake, openai_for, anthropic_for, gemini_for, gemini_fault):
    """``error-event=K`` sends each dialect's in-stream error after a 200; each SDK raises mid-stream."""
    server = await fake()
    stream = await openai_for(server).chat.completions.create(
        model="m", messages=USER, stream=True, extra_headers=fault("error-event=2")
    )
    with pytest.raises(openai.APIError, match="server had an error"):
        await consume(stream)
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with anthropic_for(server).messages.stream(
            model="claude-fake-1", max_tokens=50, messages=USER, extra_headers=fault("error-event=2")
        ) as anthropic_stream:
            await anthropic_stream.get_final_message()
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    gemini_stream = await gemini_for(server).aio.models.generate_content_stream(
        model="m", contents="a b c", config=gemini_fault("error-event=1")
    )
    with pytest.raises(errors.ServerError):
        await consume(gemini_stream)


async def test_malformed_stream_event(fake):
    """``malformed=2`` makes the third event invalid JSON and still ends the stream."""
    data, clean = await raw_stream(await fake(), "malformed=2")
    assert clean
    assert data[-1] == b"[DONE]"
    assert data[2].startswith(b'{"malformed": ')


async def test_slow_ttft_and_stall_mid(fake):
    """``slow-ttft=MS`` delays the first token; ``stall-mid=K;for=S`` pauses after K events."""
    server = await fake()
    start = time.monotonic()
    await raw_stream(server, "slow-ttft=150")
    assert time.monotonic() - start >= 0.15
    start = time.monotonic()
    data, clean = await raw_stream(server, "stall-mid=2;for=0.15")
    assert time.monotonic() - start >= 0.15
    assert clean
    assert data[-1] == b"[DONE]"


async def test_header_scoped_by_server_name(fake, openai_for):
    """A ``name:spec`` item fails only the server with that name; the other answers normally."""
    primary, fallback = await fake(name="primary"), await fake(name="fallback")
    headers = fault("primary:status=503, other:reset")
    with pytest.raises(openai.InternalServerError):
        await openai_for(primary).chat.completions.create(model="m", messages=USER, extra_headers=headers)
    result = await openai_for(fallback).chat.completions.create(model="m", messages=USER, extra_headers=headers)
    assert result.choices[0].message.content == USER[0]["content"]


async def test_times_fails_first_n(fake, openai_for):
    """``times=2`` fails the first two matching requests on a server, then lets them through."""
    client = openai_for(await fake())
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("status=503;times=2"))
    result = await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("status=503;times=2"))
    assert result.choices[0].finish_reason == "stop"


async def test_prompt_marker(fake, openai_for):
    """A ``[fault:SPEC]`` marker in the prompt applies like the header."""
    client = openai_for(await fake(name="a"))
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi [fault:a:429]"}])
    result = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "[fault:b:429]"}])
    assert result.choices[0].message.content == "[fault:b:429]"


async def test_bad_spec_is_400(fake, openai_for):
    """An unparseable fault spec is answered with 400 naming the problem."""
    client = openai_for(await fake())
    with pytest.raises(openai.BadRequestError, match="unknown fault kind"):
        await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("explode"))


async def test_default_fault_rate_is_seeded(fake, openai_for):
    """The default fault applies at fault_rate, reproducibly for a given seed."""

    async def pattern() -> list[bool]:
        client = openai_for(await fake(fault="status=500", fault_rate=0.5, seed=7))
        outcomes = []
        for _ in range(12):
            try:
                await client.chat.completions.create(model="m", messages=USER)
                outcomes.append(True)
            except openai.InternalServerError:
                outcomes.append(False)
        return outcomes

    first = await pattern()
    assert first == await pattern()
    assert True in first
    assert False in first


async def test_should_retry_header(fake, openai_for):
    """``should-retry=false`` sends ``x-should-retry: false``, which the SDK honours over its retry rule."""
    server = await fake()
    client = openai_for(server).with_options(max_retries=2)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=USER, extra_headers=fault("500;should-retry=false"))
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/_fake/stats")) as response:
        assert (await response.json())["requests"] == 1


async def test_empty_answer(fake, openai_for, anthropic_for, gemini_for, gemini_fault):
    """``empty`` answers 200 with the answer list of each dialect emptied: no choice, no content block, no
    candidate."""
    server = await fake()
    answer = await openai_for(server).chat.completions.create(model="m", messages=USER, extra_headers=fault("empty"))
    assert answer.choices == [] and answer.usage is not None
    message = await anthropic_for(server).messages.create(
        model="c", max_tokens=64, messages=USER, extra_headers=fault("empty")
    )
    assert message.content == [] and message.stop_reason == "end_turn"
    gemini = await gemini_for(server).aio.models.generate_content(model="g", contents="x", config=gemini_fault("empty"))
    assert gemini.candidates == [] and gemini.text is None
