"""A provider answering a body nested deeper than the sidecar can write (orjson reads 1,024 levels and
writes 254) fails its attempt as ``malformed_response``, as a request that deep is refused, and a
stream's id that is not a string is not the caller's id: both were a 500 ``internal_error`` with a
traceback logged (``TypeError: Recursion limit reached`` writing the translated answer). Minimal examples
tests/server/test_fuzz_upstream_answers.py found; the liar is a real HTTP server on loopback."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import dumps, logged_faults
from .lying_answers import EVENTS, WHOLE, Liar, Lie, sse
from .lying_stack import request, start


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


async def ask(running: RunningSidecar, caller: str, model: str, stream: bool) -> tuple[int, bytes]:
    path, headers, body = request(caller, model, stream)
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.read()


@pytest.mark.parametrize(("upstream", "caller"), [("openai", "gemini"), ("openai", "anthropic"), ("gemini", "openai")])
async def test_an_answer_nested_300_levels_deep_is_a_malformed_response(
    stack: tuple[RunningSidecar, Liar], upstream: str, caller: str
) -> None:
    """A one-target route answers 502 saying why; nothing is logged as an error."""
    running, liar = stack
    answer = copy.deepcopy(WHOLE[upstream])
    answer["id" if upstream == "openai" else "modelVersion"] = nested(300)
    liar.lie = Lie(body=dumps(answer))
    status, raw = await ask(running, caller, f"lie-{upstream}", False)
    assert status == 502, raw[:300]
    assert b"malformed_response (upstream sent a body nested more than 250 levels deep)" in raw
    assert not logged_faults(running.log_lines())


async def test_an_answer_nested_300_levels_deep_falls_back(stack: tuple[RunningSidecar, Liar]) -> None:
    """A route with a good second target answers with it."""
    running, liar = stack
    liar.lie = Lie(body=dumps({**WHOLE["openai"], "id": nested(300)}))
    status, raw = await ask(running, "anthropic", "chain-openai", False)
    assert status == 200 and orjson.loads(raw)["type"] == "message"


@pytest.mark.parametrize(
    ("upstream", "caller", "path"),
    [
        ("openai", "anthropic", ("id",)),
        ("openai", "gemini", ("id",)),
        ("anthropic", "openai", ("message", "id")),
        ("anthropic", "gemini", ("message", "id")),
        ("gemini", "anthropic", ("responseId",)),
    ],
)
async def test_a_stream_whose_id_is_not_a_string_is_served(
    stack: tuple[RunningSidecar, Liar], upstream: str, caller: str, path: tuple[str, ...]
) -> None:
    """The first event's id, 300 levels of lists: the caller's stream is a 200 holding the answer, with an
    id of the sidecar's making; nothing is logged as an error."""
    running, liar = stack
    events = copy.deepcopy(EVENTS[upstream])
    node = events[0]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = nested(300)
    done = [b"data: [DONE]\n\n"] if upstream == "openai" else []
    liar.lie = Lie(events=[sse(upstream, event) for event in events] + done)
    status, raw = await ask(running, caller, f"lie-{upstream}", True)
    assert status == 200, raw[:300]
    assert b"hi" in raw and b"get_weather" in raw and b"[[[" not in raw
    assert not logged_faults(running.log_lines())
