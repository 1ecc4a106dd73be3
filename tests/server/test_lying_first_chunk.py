"""An OpenAI provider whose first stream chunk has ``choices`` or ``delta`` of another JSON type (a
boolean delta, a string or an object for choices) is relayed or translated like any chunk without
content, to a caller of each dialect: the commit point's check (``is_preamble``) read ``delta.get`` and
made the request a 500 ``internal_error`` with a traceback, even for an OpenAI caller whose stream is
relayed untouched. Minimal examples tests/server/test_fuzz_upstream_answers.py found."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import logged_faults
from .lying_answers import EVENTS, Liar, Lie, sse
from .lying_stack import request, start

FIRST_CHUNKS = {
    "delta a boolean": {"choices": [{"index": 0, "delta": True}]},
    "choices a string": {"choices": "delta"},
    "choices an object": {"choices": {"delta": {}}},
    "a choice a number": {"choices": [5, {"delta": {}}]},
}


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("first", FIRST_CHUNKS)
async def test_a_first_chunk_of_the_wrong_shape_is_streamed_past(
    stack: tuple[RunningSidecar, Liar], first: str, caller: str
) -> None:
    """A 200 stream holding the answer's text and tool call; nothing logged as an error."""
    running, liar = stack
    events: list[Any] = copy.deepcopy(EVENTS["openai"])
    events[0] = FIRST_CHUNKS[first]
    liar.lie = Lie(events=[sse("openai", event) for event in events] + [b"data: [DONE]\n\n"])
    path, headers, body = request(caller, "lie-openai", True)
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=headers) as response,
    ):
        status, raw = response.status, await response.read()
    assert status == 200, raw[:300]
    assert b"hi" in raw and b"get_weather" in raw
    assert not logged_faults(running.log_lines())
