"""Ensembles voting on tool calls, through the real sidecar and the OpenAI SDK: members that call
different tools with the same arguments do not agree (docs/ensembles.md, "Picking a normalizer")."""

from __future__ import annotations

from typing import Any

import orjson

from ..conftest import SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, answering, response

MESSAGES: Any = [{"role": "user", "content": "Close the account of user 42?"}]
USER_ARGUMENT: Any = {"type": "object", "properties": {"user": {"type": "string"}}}
TOOLS: Any = [
    {"type": "function", "function": {"name": name, "parameters": USER_ARGUMENT}}
    for name in ("delete_account", "lookup_account")
]


def tool_call_answer(name: str) -> bytes:
    """An OpenAI chat answer that calls ``name`` with ``{"user": "42"}``, as a raw HTTP response."""
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": '{"user": "42"}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "up",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }
    return response(orjson.dumps(body), headers="content-type: application/json\r\n")


async def tool_callers(raw_upstream: UpstreamFactory, *names: str) -> str:
    """A policy whose models m0..mN answer with a call to ``names[i]``, and a majority route ``vote``."""
    text = "version: 1\nproviders:\n"
    for index, name in enumerate(names):
        upstream = await raw_upstream(answering(tool_call_answer(name)))
        text += f"  p{index}: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(names)))
    members = ", ".join(f"m{i}" for i in range(len(names)))
    ensemble = f"{{members: [{members}], early_quorum: false}}"
    return text + f"routes:\n  - {{name: vote, match: {{model: vote}}, ensemble: {ensemble}}}\n"


async def test_calls_to_different_tools_with_the_same_arguments_do_not_agree(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The first member calls delete_account, the two others lookup_account, all with {"user": "42"}:
    lookup_account wins 2 to 1 (before: the arguments alone voted, all three agreed, and the first
    member's delete_account was returned as a unanimous 3/3)."""
    policy = await tool_callers(raw_upstream, "delete_account", "lookup_account", "lookup_account")
    running = await sidecar(policy, env={"KEY": "k"})
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="vote", messages=MESSAGES, tools=TOOLS)
    calls = raw.parse().choices[0].message.tool_calls
    assert calls is not None and [call.function.name for call in calls] == ["lookup_account"]
    assert raw.headers["x-sidecar-ensemble"] == (
        "strategy=majority; winner=m1; votes=2/3; decided=all; members=m0:2,m1:1,m2:1"
    )
