"""A provider's embeddings or token count that is not what was asked, translated for a caller of another
dialect, is a malformed answer (a 502 in the caller's dialect, or the route's next target), never a
silent wrong answer: it was a 200 with fewer vectors than texts, an empty vector (``values: []``) or a
count of 0 read from a count that was none. Minimal examples tests/server/test_fuzz_upstream_answers.py
found; the provider is a real HTTP server on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import logged_faults
from .lying_answers import Liar, Lie
from .lying_stack import CALLER_HEADERS, start

TWO_TEXTS = {"model": "lie-gemini", "input": ["hello", "again"]}
GEMINI_EMBED = {"content": {"parts": [{"text": "hello"}]}}
COUNT = {"model": "lie-gemini", "messages": [{"role": "user", "content": "hi"}]}
GEMINI_COUNT = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CASES: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {  # caller, path, request, answer
    "one vector for two texts": ("openai", "/v1/embeddings", TWO_TEXTS, {"embeddings": [{"values": [0.5]}]}),
    "a vector of strings": ("openai", "/v1/embeddings", TWO_TEXTS, {"embeddings": [{"values": ["a"]}] * 2}),
    "no vector": ("gemini", "/v1beta/models/lie-openai:embedContent", GEMINI_EMBED, {"object": "list", "data": []}),
    "an embedding that is a string": (
        "gemini",
        "/v1beta/models/lie-openai:embedContent",
        GEMINI_EMBED,
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "AAAAPw=="}]},
    ),
    "a total that is a string": ("anthropic", "/v1/messages/count_tokens", COUNT, {"totalTokens": "5"}),
    "input_tokens a list": ("gemini", "/v1beta/models/lie-anthropic:countTokens", GEMINI_COUNT, {"input_tokens": [5]}),
}


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


async def post(running: RunningSidecar, caller: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=CALLER_HEADERS[caller]) as response,
    ):
        return response.status, orjson.loads(await response.read())


@pytest.mark.parametrize("case", CASES)
async def test_a_translated_answer_that_is_not_what_was_asked_is_a_malformed_response(
    stack: tuple[RunningSidecar, Liar], case: str
) -> None:
    """A 502 whose message says malformed_response; nothing logged as an error."""
    running, liar = stack
    caller, path, body, answer = CASES[case]
    liar.lie = Lie(body=orjson.dumps(answer))
    status, out = await post(running, caller, path, body)
    assert status == 502, out
    assert "malformed_response" in out["error"]["message"]
    assert not logged_faults(running.log_lines())
