"""The stream commit point: failures before content fall back unseen; after it, the SDK raises."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client, sdk_client


def policy(urls: list[str], speaks: str, idle: float = 5.0) -> str:
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}}\nproviders:\n"
    for i, url in enumerate(urls):
        text += (
            provider_block(f"p{i}", url, speaks)
            + f"    timeouts: {{idle_s: {idle}, first_byte_s: 30, connect_s: 30}}\n"
        )
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(urls)))
    text += "routes:\n  - {match: {model: chain}, target: [" + ", ".join(f"m{i}" for i in range(len(urls))) + "]}\n"
    return text


async def openai_stream_text(url: str, fault: str) -> str:
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{url}/v1", api_key="x")
    try:
        stream = await client.chat.completions.create(
            model="chain",
            messages=[{"role": "user", "content": "a fairly long answer please"}],
            stream=True,
            extra_headers={"x-fake-fault": fault},
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    finally:
        await client.close()


@pytest.mark.parametrize("fault", ["f0:error-event=0", "f0:cut=0", "f0:status=503", "f0:malformed=0"])
async def test_failure_before_content_falls_back_transparently(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """An error before the first content event is invisible: the SDK gets the fallback's full stream."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "openai"))
    text = await openai_stream_text(running.url, fault)
    assert "a fairly long answer please" in text


@pytest.mark.parametrize("fault", ["f0:cut=3", "f0:error-event=3"])
async def test_openai_sdk_raises_on_failure_after_commit(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """A stream cut or failing after content has been sent makes the OpenAI SDK raise, not end cleanly."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "openai"))
    with pytest.raises(openai.APIError):
        await openai_stream_text(running.url, fault)
    errors = [line for line in running.log_lines() if line.get("event") == "access"]
    assert errors[-1]["outcome"] == "stream_error"


async def test_a_cut_after_commit_names_its_error_type_as_the_events_code(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The error event that ends an OpenAI stream the upstream cut after content carries the error type as
    its ``code`` (the SDK's ``APIError.code``), the same name as the access line's ``stream_error``."""
    urls = [await fake("f0")]
    running = await sidecar(policy(urls, "openai"))
    with pytest.raises(openai.APIError) as raised:
        await openai_stream_text(running.url, "f0:cut=3")
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert raised.value.code == line["stream_error"] and raised.value.code


async def test_idle_gap_after_commit_ends_with_an_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream that stalls mid-answer past idle_s ends with an error the SDK raises."""
    urls = [await fake("f0")]
    running = await sidecar(policy(urls, "openai", idle=0.3))
    with pytest.raises(openai.APIError):
        await openai_stream_text(running.url, "stall-mid=2;for=3")


async def test_anthropic_sdk_raises_on_cut_after_commit(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic stream cut after content ends with an error event the Anthropic SDK raises."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "anthropic"))
    client = anthropic_client(running)
    with pytest.raises(anthropic.APIError):
        async with client.messages.stream(
            model="chain",
            max_tokens=200,
            messages=[{"role": "user", "content": "long answer please"}],
            extra_headers={"x-fake-fault": "f0:cut=5"},
        ) as stream:
            async for _ in stream.text_stream:
                pass
    await client.close()


async def test_anthropic_overload_event_before_content_falls_back(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Anthropic's overloaded error event right after message_start is retried on the next target."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "anthropic"))
    client = anthropic_client(running)
    async with client.messages.stream(
        model="chain",
        max_tokens=200,
        messages=[{"role": "user", "content": "still here"}],
        extra_headers={"x-fake-fault": "f0:error-event=1"},
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert "still here" in text
    await client.close()


def upstreams(urls: dict[str, str]) -> str:
    """One provider per dialect (the fake speaking it), a model named after each."""
    text = "version: 1\nproviders:\n" + "".join(provider_block(f"p-{d}", url, d) for d, url in urls.items())
    return (
        text
        + "models:\n"
        + "".join(f"  from-{d}: {{provider: p-{d}, model: up-{d}, max_output_tokens: 512}}\n" for d in urls)
    )


async def test_a_translated_mid_stream_error_keeps_the_providers_message(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """An upstream's error event after content, translated to each other dialect, reaches that SDK as
    an error carrying the provider's own message (not the sidecar's summary of it)."""
    urls = {d: await fake(f"f-{d}") for d in ("openai", "anthropic", "gemini")}
    running = await sidecar(upstreams(urls))
    fault = {"x-fake-fault": "error-event=6"}  # past the preamble: content has reached the app
    words = "a long enough answer to fail in, with words to spare after the sixth event"
    prompt = [{"role": "user", "content": words}]

    openai_sdk = openai_client(running)
    with pytest.raises(openai.APIError) as from_anthropic:
        stream = await openai_sdk.chat.completions.create(
            model="from-anthropic",
            messages=prompt,
            stream=True,
            extra_headers=fault,  # type: ignore[arg-type]
        )
        async for _ in stream:
            pass
    assert from_anthropic.value.message == "Overloaded"
    await openai_sdk.close()

    anthropic_sdk = anthropic_client(running)
    with pytest.raises(anthropic.APIError) as from_gemini:
        async with anthropic_sdk.messages.stream(
            model="from-gemini",
            max_tokens=200,
            messages=prompt,
            extra_headers=fault,  # type: ignore[arg-type]
        ) as stream:
            async for _ in stream.text_stream:
                pass
    assert "The model is overloaded. Please try again later." in str(from_gemini.value)
    await anthropic_sdk.close()

    from google.genai import errors

    with pytest.raises(errors.APIError) as from_openai:
        async for _ in await gemini_client(running.url).aio.models.generate_content_stream(
            model="from-openai", contents=words, config={"http_options": {"headers": fault}}
        ):
            pass
    assert from_openai.value.message == "The server had an error while processing your request. Sorry about that!"


CONTENT = {
    "openai": 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":"partial "},"finish_reason":null}]}\n\n',
    "anthropic": 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    '"role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    '"content_block":{"type":"text","text":""}}\n\n'
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    '"delta":{"type":"text_delta","text":"partial "}}\n\n',
    "gemini": 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"partial "}]},"index":0}],'
    '"modelVersion":"m","responseId":"r1"}\n\n',
}
MALFORMED_ERROR = {  # error events the dialect's SDK would not raise on as they are, each with its message
    "openai": 'data: {"error": "upstream hiccup"}\n\n',
    "anthropic": 'data: {"type":"error","error":{"type":"overloaded_error","message":"upstream hiccup"}}\n\n',
    "gemini": 'data: {"error": {"message": "upstream hiccup", "status": "RESOURCE_EXHAUSTED"}}\n\n',
}


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini"])
async def test_a_same_dialect_error_event_the_sdk_would_read_past_is_rewritten_so_it_raises(
    aiohttp_server: Any, sidecar: SidecarFactory, gemini_client: Any, dialect: str
) -> None:
    """An upstream error event lacking what its SDK needs to raise (OpenAI: an error object; Anthropic:
    the event name; Gemini: a numeric code) is rewritten in the same dialect, message kept: the SDK
    raises instead of ending as if the answer were complete."""
    from aiohttp import web

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(CONTENT[dialect].encode())
        await response.write(MALFORMED_ERROR[dialect].encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{path:.*}", stream)
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    running = await sidecar(
        f"version: 1\nproviders:\n  up: {{kind: {dialect}, base_url: '{base}{'/v1' if dialect == 'openai' else ''}'}}\n"
        "models:\n  m: {provider: up, model: m, max_output_tokens: 64}\n"
    )
    if dialect == "openai":
        client = openai_client(running)
        with pytest.raises(openai.APIError) as raised:
            async for _ in await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                pass
        await client.close()
        assert raised.value.message == "upstream hiccup"
    elif dialect == "anthropic":
        anthropic_sdk = anthropic_client(running)
        with pytest.raises(anthropic.APIError, match="upstream hiccup"):
            async with anthropic_sdk.messages.stream(
                model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            ) as events:
                async for _ in events.text_stream:
                    pass
        await anthropic_sdk.close()
    else:
        from google.genai import errors

        with pytest.raises(errors.APIError) as raised_gemini:
            async for _ in await gemini_client(running.url).aio.models.generate_content_stream(
                model="m", contents="hi"
            ):
                pass
        assert (raised_gemini.value.code, raised_gemini.value.message) == (429, "upstream hiccup")


async def test_a_translated_tool_call_cut_before_the_app_got_a_byte_falls_back_unseen(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini app's stream from an OpenAI target whose tool call starts (a content event, translated into
    nothing yet: Gemini's functionCall needs the whole arguments) and is then cut: the app had nothing, so
    the chain falls back unseen and the app gets the next target's function call (it got a 200 with only
    an error event; bench/sdk_soak.py seed 21)."""
    from google.genai import types

    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "openai"))
    weather = types.FunctionDeclaration(name="weather", parameters_json_schema={"type": "object"})
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        http_options=types.HttpOptions(headers={"x-fake-fault": "f0:cut=2"}),
    )
    stream = await gemini_client(running.url).aio.models.generate_content_stream(
        model="chain", contents="the weather please fake:tool", config=config
    )
    calls = [part.function_call.name async for chunk in stream for part in chunk.parts or () if part.function_call]
    assert calls == ["weather"]
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["status"], line["outcome"], line["attempt_log"]) == (200, "fallback", ["m0:reset", "m1:ok"])
