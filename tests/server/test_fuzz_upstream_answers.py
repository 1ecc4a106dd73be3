"""Property: a provider that lies (an answer of the wrong shape: fields of another JSON type, missing,
thousands of them, usage of odd types; a stream whose events are mutated, lost, repeated, reordered or
not JSON) is a failed attempt, never a crash. Each upstream dialect, to each caller dialect (and
Anthropic and Gemini to a caller of OpenAI's Responses API), whole and streamed: a one-target route
answers 200 or a 502 in the caller's dialect; a route falling back to a good provider answers 200 (a
stream already committed may end with an error event instead); nothing is logged at error level; the
access line's tokens and cost stay numbers of at least 0, and the budgets never go below 0. The liar is
a real HTTP server on loopback (``lying_answers.Liar``)."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .hostile_json import dumps, error_shape_problem, fuzz_settings, logged_faults, mutated
from .lying_answers import OTHER_ANSWERS, Liar, Lie, error_lies, lies
from .lying_stack import CALLER_HEADERS, DIALECTS, HI, request
from .lying_stack import start as start_lying

EXAMPLES = 40  # per case; the module runs in about 25 s


@pytest.fixture
async def lying(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start_lying(aiohttp_server, fake, sidecar)


def check_numbers(running: RunningSidecar, lines: list[dict[str, Any]]) -> None:
    """Every access line's tokens and cost are finite numbers of at least 0."""
    for line in lines:
        for name in ("cost_usd", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
            if name in line and line[name] is not None:
                value = line[name]
                assert isinstance(value, (int, float)) and not isinstance(value, bool), (name, value)
                assert math.isfinite(value) and value >= 0, (name, value)


async def check_budgets(session: aiohttp.ClientSession, running: RunningSidecar) -> None:
    async with session.get(f"{running.url}/status") as answer:
        rows = (await answer.json())["budgets"]
    for row in rows:
        assert isinstance(row["used"], (int, float)) and math.isfinite(row["used"]) and row["used"] >= 0, row


# each upstream to each caller, and Anthropic and Gemini to a caller of OpenAI's Responses API
CASES = [(u, c, s) for u in DIALECTS for c in DIALECTS for s in (False, True)] + [
    (u, "openai-responses", s) for u in DIALECTS if u != "openai" for s in (False, True)
]


@pytest.mark.parametrize(
    ("upstream", "caller", "stream"), CASES, ids=[f"{u}-to-{c}-{'stream' if s else 'whole'}" for u, c, s in CASES]
)
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_a_lying_answer_is_a_failed_attempt_never_a_crash(
    lying: tuple[RunningSidecar, Liar], upstream: str, caller: str, stream: bool, data: st.DataObject
) -> None:
    """A one-target route: 200 or a 502 in the caller's shape; with a good fallback: 200; a caching and
    shadowed route: the same, and asked again, the stored answer. Nothing logged as an error, tokens and
    cost numbers of at least 0."""
    stack, liar = lying
    liar.lie = data.draw(lies(upstream, stream), label="lie")
    route = data.draw(st.sampled_from(["lie", "chain", "cache"]), label="route")
    asked = f"weather in Paris? ({liar.calls})"  # never asked before: a cache miss first
    path, headers, body = request(caller, f"{route}-{upstream}", stream, asked)
    logged = len(stack.log_lines())
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(2 if route == "cache" else 1):
            async with session.post(stack.url + path, data=dumps(body), headers=headers) as response:
                status, kind, raw = response.status, response.headers.get("content-type", ""), await response.read()
            await check_answer(session, stack, caller, stream, route, (status, kind, raw), logged)
            statuses.append(status)
    assert statuses in ([200], [502], [200, 200], [502, 200], [502, 502])  # a stored answer is served again


async def check_answer(
    session: aiohttp.ClientSession,
    stack: RunningSidecar,
    caller: str,
    stream: bool,
    route: str,
    answer: tuple[int, str, bytes],
    logged: int,
) -> None:
    """One answer of ``route``: 200, or a 502 in the caller's shape where the route has no fallback; no
    internal error; nothing logged as an error since ``logged``; tokens, cost and budgets at least 0."""
    status, kind, raw = answer
    assert status in ((200,) if route == "chain" else (200, 502)), raw[:600]
    assert b"Traceback" not in raw and b"internal_error" not in raw, raw[:600]
    if status != 200:
        assert error_shape_problem(caller.removesuffix("-responses"), status, orjson.loads(raw)) is None, raw[:600]
    elif not stream:
        assert kind.startswith("application/json") and isinstance(orjson.loads(raw), dict), raw[:600]
    else:
        assert kind.startswith("text/event-stream"), kind
    lines = stack.log_lines()[logged:]
    assert not logged_faults(lines), logged_faults(lines)
    check_numbers(stack, lines)
    await check_budgets(session, stack)


FALLS_BACK = frozenset({500, 502, 503, 504, 529})  # the default fallback_on


@pytest.mark.parametrize(
    ("upstream", "caller", "stream"), CASES, ids=[f"{u}-to-{c}-{'stream' if s else 'whole'}" for u, c, s in CASES]
)
@fuzz_settings(EXAMPLES // 2)
@given(data=st.data())
async def test_a_lying_error_is_the_providers_error_or_a_fallback_never_a_crash(
    lying: tuple[RunningSidecar, Liar], upstream: str, caller: str, stream: bool, data: st.DataObject
) -> None:
    """An error status with a body of the wrong shape and odd retry hints: a route with a good fallback
    answers 200 for a status it falls back on; otherwise an error in the caller's shape (the provider's
    own, relayed untouched, to a caller of its dialect), never the sidecar's internal error; nothing
    logged as an error."""
    stack, liar = lying
    liar.lie = lie = data.draw(error_lies(upstream), label="lie")
    chain = data.draw(st.booleans(), label="falls back")
    path, headers, body = request(caller, f"chain-{upstream}" if chain else f"lie-{upstream}", stream)
    logged = len(stack.log_lines())
    async with aiohttp.ClientSession() as session:
        async with session.post(stack.url + path, data=dumps(body), headers=headers) as response:
            status, raw = response.status, await response.read()
        assert b"Traceback" not in raw and b"internal_error" not in raw, raw[:600]
        if chain and lie.status in FALLS_BACK:
            assert status == 200, raw[:600]
        relayed = caller == upstream and status == lie.status  # the provider's own body, as it sent it
        if status >= 400 and not relayed:
            assert error_shape_problem(caller.removesuffix("-responses"), status, orjson.loads(raw)) is None, raw[:600]
        lines = stack.log_lines()[logged:]
        assert not logged_faults(lines), logged_faults(lines)
        check_numbers(stack, lines)
        await check_budgets(session, stack)


TEXTS = {"input": ["hello", "again"], "encoding_format": "float"}
PARTS = {"parts": [{"text": "hello"}]}
OTHERS = {  # name -> (caller, path, body, operation, upstream dialect)
    "openai embeddings": ("openai", "/v1/embeddings", TEXTS, "embeddings", "openai"),
    "openai embeddings from gemini": ("openai", "/v1/embeddings", TEXTS, "embeddings", "gemini"),
    "openai base64 embeddings from gemini": (
        "openai",
        "/v1/embeddings",
        {**TEXTS, "encoding_format": "base64"},
        "embeddings",
        "gemini",
    ),
    "gemini embedContent from openai": ("gemini", ":embedContent", {"content": PARTS}, "embeddings", "openai"),
    "gemini batchEmbedContents": (
        "gemini",
        ":batchEmbedContents",
        {"requests": [{"model": "models/x", "content": PARTS}] * 2},
        "embeddings",
        "gemini",
    ),
    "anthropic count_tokens": ("anthropic", "/v1/messages/count_tokens", {"messages": HI}, "count_tokens", "anthropic"),
    "anthropic count_tokens from gemini": (
        "anthropic",
        "/v1/messages/count_tokens",
        {"messages": HI},
        "count_tokens",
        "gemini",
    ),
    "gemini countTokens from anthropic": (
        "gemini",
        ":countTokens",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "count_tokens",
        "anthropic",
    ),
    "openai responses": ("openai", "/v1/responses", {"input": "hi", "max_output_tokens": 20}, "responses", "openai"),
}


@pytest.mark.parametrize("case", OTHERS)
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_a_lying_embedding_count_or_response_is_a_failed_attempt(
    lying: tuple[RunningSidecar, Liar], case: str, data: st.DataObject
) -> None:
    """Embeddings, token counts and the Responses API, answered in the wrong shape: 200 or a 502 in the
    caller's shape, nothing logged as an error, tokens and cost numbers of at least 0."""
    caller, path, body, operation, upstream = OTHERS[case]
    stack, liar = lying
    answer = data.draw(mutated(OTHER_ANSWERS[(operation, upstream)]), label="answer")
    liar.lie = Lie(body=dumps(answer))
    model = f"lie-{upstream}"
    url = f"{stack.url}/v1beta/models/{model}{path}" if path.startswith(":") else stack.url + path
    sent = body if path.startswith(":") else {**body, "model": model}
    logged = len(stack.log_lines())
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=dumps(sent), headers=CALLER_HEADERS[caller]) as response:
            status, raw = response.status, await response.read()
        assert status in (200, 502), raw[:600]
        assert b"Traceback" not in raw and b"internal_error" not in raw, raw[:600]
        if status != 200:
            assert error_shape_problem(caller, status, orjson.loads(raw)) is None, raw[:600]
        else:
            assert isinstance(orjson.loads(raw), dict), raw[:600]
        lines = stack.log_lines()[logged:]
        assert not logged_faults(lines), logged_faults(lines)
        check_numbers(stack, lines)
        await check_budgets(session, stack)
