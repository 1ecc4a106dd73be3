"""The SDKs' stream helpers on translated streams and on streams the sidecar writes or ends itself, sync
and async: openai ``chat.completions.stream`` (``get_final_completion``), anthropic ``messages.stream``
(``text_stream``, ``get_final_message``), google-genai ``chats.create(...).send_message_stream``. A
stream the sidecar ends with its own error event (the upstream cut it, or went quiet past ``idle_s``,
after content reached the app) makes the helper raise the SDK's own error, never a parse error or a
short answer that looks complete; the static last resort's stream ends as a live one does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import gemini_http_options, sdk_client, suite_tls
from .sdk_stack import STATIC, start

WORDS = "a long enough answer to fail in, with words to spare after the sixth event of the stream"
# After content reached the app: the upstream cuts the stream, or pauses past idle_s (0.3 s).
AFTER_COMMIT = {"cut": "cut=6", "idle": "stall-mid=6;for=2"}
# Each app's SDK reads a stream translated from another dialect.
UPSTREAM = {"openai": "anthropic", "anthropic": "gemini", "gemini": "openai"}


def model_and_fault(app: str, case: str) -> tuple[str, dict[str, str]]:
    if case == "static":
        return "static", {"x-fake-fault": "status=503"}
    fault = AFTER_COMMIT.get(case)
    return f"from-{UPSTREAM[app]}", {"x-fake-fault": fault} if fault else {}


def openai_text(running: RunningSidecar, model: str, headers: dict[str, str], sync: bool) -> Any:
    """``chat.completions.stream`` to its final completion's text (a coroutine, or a callable for a thread)."""
    messages: Any = [{"role": "user", "content": WORDS}]
    if sync:

        def run() -> str | None:
            with (
                sdk_client(openai.OpenAI, base_url=f"{running.url}/v1", api_key="x") as client,
                client.chat.completions.stream(model=model, messages=messages, extra_headers=headers) as stream,
            ):
                return stream.get_final_completion().choices[0].message.content

        return run

    async def run_async() -> str | None:
        async with (
            sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x") as client,
            client.chat.completions.stream(model=model, messages=messages, extra_headers=headers) as stream,
        ):
            return (await stream.get_final_completion()).choices[0].message.content

    return run_async()


def anthropic_text(running: RunningSidecar, model: str, headers: dict[str, str], sync: bool) -> Any:
    """``messages.stream``: its ``text_stream`` joined, which must equal its final message's text."""
    params: Any = {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": WORDS}]}
    if sync:

        def run() -> str:
            with (
                sdk_client(anthropic.Anthropic, base_url=running.url, api_key="x") as client,
                client.messages.stream(**params, extra_headers=headers) as stream,
            ):
                text = "".join(stream.text_stream)
                final = stream.get_final_message()
            assert final.content[0].type == "text" and final.content[0].text == text
            return text

        return run

    async def run_async() -> str:
        async with (
            sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="x") as client,
            client.messages.stream(**params, extra_headers=headers) as stream,
        ):
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert final.content[0].type == "text" and final.content[0].text == text
        return text

    return run_async()


def gemini_text(running: RunningSidecar, model: str, headers: dict[str, str], sync: bool) -> Any:
    """``chats.create(...).send_message_stream``, its chunks' text joined."""
    if sync:

        def run() -> str:
            options = gemini_http_options(base_url=running.url, headers=headers)
            with genai.Client(api_key="x", http_options=options) as client:
                chat = client.chats.create(model=model)
                return "".join(chunk.text or "" for chunk in chat.send_message_stream(WORDS))

        return run

    async def run_async() -> str:
        import httpx2

        async with httpx2.AsyncClient(verify=suite_tls()) as transport:
            options = gemini_http_options(base_url=running.url, headers=headers, httpx_async_client=transport)
            client = genai.Client(api_key="x", http_options=options)
            chat = client.aio.chats.create(model=model)
            return "".join([chunk.text or "" async for chunk in await chat.send_message_stream(WORDS)])

    return run_async()


HELPERS: dict[str, Callable[..., Any]] = {"openai": openai_text, "anthropic": anthropic_text, "gemini": gemini_text}
ERRORS: dict[str, type[Exception]] = {
    "openai": openai.APIError,
    "anthropic": anthropic.APIError,
    "gemini": errors.APIError,
}


async def helper_text(running: RunningSidecar, app: str, case: str, sync: bool) -> Any:
    model, headers = model_and_fault(app, case)
    call = HELPERS[app](running, model, headers, sync)
    return await asyncio.to_thread(call) if sync else await call


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("app", ["openai", "anthropic", "gemini"])
async def test_a_translated_stream_ends_whole_in_the_helper(
    fake: FakeFactory, sidecar: SidecarFactory, app: str, sync: bool
) -> None:
    """A stream translated from another dialect: the helper's accumulated answer is the whole echo."""
    running = await start(fake, sidecar)
    assert WORDS in await helper_text(running, app, "whole", sync)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("app", ["openai", "anthropic", "gemini"])
async def test_the_static_last_resort_streams_its_text_to_the_helper(
    fake: FakeFactory, sidecar: SidecarFactory, app: str, sync: bool
) -> None:
    """Every target failed and the route answers its canned text: the helper ends with that text."""
    running = await start(fake, sidecar)
    assert await helper_text(running, app, "static", sync) == STATIC


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("case", ["cut", "idle"])
@pytest.mark.parametrize("app", ["openai", "anthropic", "gemini"])
async def test_a_stream_the_sidecar_ends_with_its_error_event_raises_the_sdks_error(
    fake: FakeFactory, sidecar: SidecarFactory, app: str, case: str, sync: bool
) -> None:
    """The upstream cut the translated stream, or went quiet past ``idle_s``, after content reached the
    app: the sidecar's error event makes the helper raise the SDK's API error (not a connection error,
    not a parse error, not a short answer)."""
    running = await start(fake, sidecar)
    with pytest.raises(ERRORS[app]) as raised:
        await helper_text(running, app, case, sync)
    assert not isinstance(raised.value, (openai.APIConnectionError, anthropic.APIConnectionError))
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert line["outcome"] == "stream_error"
