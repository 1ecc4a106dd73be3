"""A provider's event stream that begins with a UTF-8 byte order mark (some servers and gateways write
one; the WHATWG algorithm ignores it) is read whole: the mark was read as part of the first field's name,
so the first event was lost without a word. A Gemini stream's first fragment (text) went missing from
the answer every app got, a 200; an Anthropic stream lost its ``message_start`` and the Anthropic SDK
failed on what followed (AssertionError). The provider is a real HTTP server on loopback, the apps the
official SDKs, streaming."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .lying_answers import EVENTS, Liar, Lie, sse
from .lying_stack import start

BOM = "\ufeff".encode()
PAIRS = [("gemini", "openai"), ("gemini", "anthropic"), ("gemini", "gemini"), ("anthropic", "anthropic")]


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


async def streamed_text(running: RunningSidecar, caller: str, model: str, gemini_client: Any) -> str:
    """The text the official SDK of ``caller`` gathers from a streamed answer."""
    said = [{"role": "user", "content": "hello"}]
    if caller == "openai":
        async with openai_client(running) as client:
            chunks = await client.chat.completions.create(model=model, messages=said, stream=True)  # type: ignore[arg-type]
            return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    if caller == "anthropic":
        async with (
            anthropic_client(running) as client,
            client.messages.stream(model=model, max_tokens=50, messages=said) as stream,  # type: ignore[arg-type]
        ):
            message = await stream.get_final_message()
            return "".join(block.text for block in message.content if block.type == "text")
    fragments = await gemini_client(running.url).aio.models.generate_content_stream(model=model, contents="hello")
    return "".join([fragment.text or "" async for fragment in fragments])


@pytest.mark.parametrize(("upstream", "caller"), PAIRS)
async def test_a_stream_that_begins_with_a_byte_order_mark_loses_nothing(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any, upstream: str, caller: str
) -> None:
    """The app's SDK gathers the whole text ("hi", in the stream's first content event)."""
    running, liar = stack
    events = [sse(upstream, event) for event in EVENTS[upstream]]
    events[0] = BOM + events[0]
    liar.lie = Lie(events=events)
    assert await streamed_text(running, caller, f"lie-{upstream}", gemini_client) == "hi"
