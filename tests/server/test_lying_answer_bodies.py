"""A provider whose answer (read whole) is JSON of the wrong shape: a message that is a string, a text
that is a number, parts that are a string. Translated for a caller of another dialect, the attempt fails
as ``malformed_response`` (a 502 in the caller's dialect, or the next target), never a 500; read by a
shadow in the caller's own dialect, the served answer reaches the caller untouched. A raw upstream writes
the bodies; a real sidecar reads them."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory, response
from ..waiting import until

USAGE = {"prompt_tokens": 1, "completion_tokens": 1}
OPENAI_MESSAGE_A_STRING = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "usage": USAGE}
OPENAI_MESSAGE_A_STRING["choices"] = [{"index": 0, "message": "hi", "finish_reason": "stop"}]
ANTHROPIC_TEXT_A_NUMBER = {
    "id": "msg_x",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": 5}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
GEMINI_PARTS_A_STRING = {"candidates": [{"content": {"role": "model", "parts": "hi"}, "finishReason": "STOP"}]}

CALLERS = {
    "openai": ("/v1/chat/completions", {}),
    "anthropic": ("/v1/messages", {"anthropic-version": "2023-06-01"}),
}
LIES: dict[str, tuple[str, dict[str, Any], str]] = {  # provider dialect, its body, the caller
    "openai message a string, to an Anthropic caller": ("openai", OPENAI_MESSAGE_A_STRING, "anthropic"),
    "anthropic text a number, to an OpenAI caller": ("anthropic", ANTHROPIC_TEXT_A_NUMBER, "openai"),
    "gemini parts a string, to an OpenAI caller": ("gemini", GEMINI_PARTS_A_STRING, "openai"),
    "gemini parts a string, to an Anthropic caller": ("gemini", GEMINI_PARTS_A_STRING, "anthropic"),
}


def liar(body: dict[str, Any]) -> Any:
    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(response(orjson.dumps(body), headers="content-type: application/json\r\n"))

    return handler


def policy(dialect: str, served: str, candidate: str, shadow: bool) -> str:
    suffix = "/v1" if dialect == "openai" else ""  # anthropic, gemini: the host alone
    extra = ", shadow: {candidates: [m1], sample: 1.0}" if shadow else ""
    return (
        "version: 1\nproviders:\n"
        f"  p0: {{dialect: {dialect}, base_url: '{served}{suffix}', api_key: {{env: KEY}}}}\n"
        f"  p1: {{dialect: {dialect}, base_url: '{candidate}{suffix}', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p0, model: up0}\n  m1: {provider: p1, model: up1}\n"
        f"routes:\n  - {{name: r, match: {{model: r}}, target: [m0]{extra}}}\n"
    )


async def ask(running: RunningSidecar, caller: str) -> tuple[int, dict[str, Any]]:
    path, headers = CALLERS[caller]
    body = {"model": "r", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


@pytest.mark.parametrize("lie", LIES)
async def test_a_translated_answer_of_the_wrong_shape_is_a_malformed_response(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, lie: str
) -> None:
    """A 502 in the caller's dialect whose attempt says malformed_response; no internal error logged."""
    dialect, body, caller = LIES[lie]
    upstreams = [await raw_upstream(liar(body)) for _ in range(2)]
    running = await sidecar(policy(dialect, upstreams[0].base, upstreams[1].base, False), env={"KEY": "sk-x"})
    status, answer = await ask(running, caller)
    assert status == 502 and "error" in answer
    assert b"malformed_response" in orjson.dumps(answer)
    assert "internal_error" not in running.logs.getvalue().decode()


async def test_a_shadowed_answer_whose_text_is_a_number_reaches_the_caller(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic caller, an Anthropic provider answering a text that is a number, a shadow reading it:
    the caller gets the provider's body as it came (200), and nothing fails inside."""
    upstreams = [await raw_upstream(liar(ANTHROPIC_TEXT_A_NUMBER)) for _ in range(2)]
    running = await sidecar(policy("anthropic", upstreams[0].base, upstreams[1].base, True), env={"KEY": "sk-x"})
    status, answer = await ask(running, "anthropic")
    assert status == 200 and answer["content"] == [{"type": "text", "text": 5}]
    # a shadow call would have been started before the answer was written, and would ask the candidate
    # (the served answer cannot be read, so there is nothing to compare and none is: docs/ensembles.md)
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    await running.shadow_calls_ended()
    assert line["shadow"] == "sampled" and upstreams[1].requests == []
    assert "internal_error" not in running.logs.getvalue().decode()
