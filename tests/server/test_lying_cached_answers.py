"""A provider's answer with a text, tool call id or name that is not a string, on a caching route, is
relayed to a caller of its own dialect as it came and is not stored: it was stored, and every later
identical request got a 500 ``internal_error`` until the entry expired (the replay wrote the cached
answer again: ``'int' object has no attribute 'replace'``). Translated for a caller of another dialect,
it is a malformed answer. Minimal examples tests/server/test_fuzz_upstream_answers.py found; the
provider is a real HTTP server on loopback."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import logged_faults
from .lying_answers import WHOLE, Liar, Lie
from .lying_stack import request, start

LIES: dict[str, tuple[str, tuple[Any, ...]]] = {  # the provider's dialect, the path of the field made 5
    "an anthropic tool_use id": ("anthropic", ("content", 1, "id")),
    "an anthropic text": ("anthropic", ("content", 0, "text")),
    "an openai tool call's name": ("openai", ("choices", 0, "message", "tool_calls", 0, "function", "name")),
    "an openai tool call's id": ("openai", ("choices", 0, "message", "tool_calls", 0, "id")),
    "a gemini functionCall name": ("gemini", ("candidates", 0, "content", "parts", 1, "functionCall", "name")),
    "a gemini text": ("gemini", ("candidates", 0, "content", "parts", 0, "text")),
}


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


def lie(dialect: str, path: tuple[Any, ...]) -> Lie:
    answer = copy.deepcopy(WHOLE[dialect])
    node = answer
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 5
    return Lie(body=orjson.dumps(answer))


async def ask(running: RunningSidecar, caller: str, model: str) -> tuple[int, str | None]:
    path, headers, body = request(caller, model, False)
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=headers) as response,
    ):
        await response.read()
        return response.status, response.headers.get("x-sidecar-cache")


@pytest.mark.parametrize("case", LIES)
async def test_an_answer_with_a_field_of_the_wrong_type_is_relayed_and_not_stored(
    stack: tuple[RunningSidecar, Liar], case: str
) -> None:
    """Asked twice on a caching route by a caller of the provider's dialect: two 200s, both misses."""
    running, liar = stack
    dialect, path = LIES[case]
    liar.lie = lie(dialect, path)
    assert [await ask(running, dialect, f"cache-{dialect}") for _ in range(2)] == [(200, "miss"), (200, "miss")]
    assert not logged_faults(running.log_lines())


@pytest.mark.parametrize("case", LIES)
async def test_an_answer_with_a_field_of_the_wrong_type_is_malformed_when_translated(
    stack: tuple[RunningSidecar, Liar], case: str
) -> None:
    """For a caller of another dialect: a 502 (the provider's fault), not an answer missing the field."""
    running, liar = stack
    dialect, path = LIES[case]
    liar.lie = lie(dialect, path)
    caller = "anthropic" if dialect == "openai" else "openai"
    status, _ = await ask(running, caller, f"lie-{dialect}")
    assert status == 502
    assert not logged_faults(running.log_lines())
