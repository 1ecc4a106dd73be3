"""A provider's 200 to a stream request that is not an event stream at all (a wrong base URL's or an
egress proxy's login page: ``text/html``) is a failed attempt saying so (``malformed_response``, the
type named), not ``stream_truncated`` ("ended the stream without finishing it"), which sent the SRE
looking for a cut connection. The provider is a real HTTP server on loopback, the app openai-python."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from .lying_answers import Liar, Lie
from .lying_stack import start

LOGIN_PAGE = Lie(body=b"<html><body>Sign in to continue</body></html>", headers={"content-type": "text/html"})


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


async def streamed_text(running: RunningSidecar, model: str) -> str:
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hello there"}], stream=True
        )
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


async def test_a_page_answering_a_stream_request_falls_back_as_a_malformed_answer(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """On a chain, the app's stream is the next target's; the access line lists the page's attempt as
    malformed_response."""
    running, liar = stack
    liar.lie = LOGIN_PAGE
    assert await streamed_text(running, "chain-openai") == "hello there"
    (access,) = [line for line in running.log_lines() if line["event"] == "access"]
    assert access["attempt_log"] == ["lie-openai:malformed_response", "good:ok"]


async def test_a_page_answering_a_stream_request_alone_is_a_502_naming_its_type(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """With nowhere to fall back, the app's SDK raises a 502 whose message names the type the provider
    answered with and that it is not an event stream."""
    running, liar = stack
    liar.lie = LOGIN_PAGE
    with pytest.raises(openai.InternalServerError) as caught:
        await streamed_text(running, "lie-openai")
    assert "'text/html', not an event stream" in str(caught.value)
