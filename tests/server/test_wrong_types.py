"""A request field of the wrong JSON type, translated to another dialect, is a 400 in the caller's
dialect naming the field's path and the JSON type it must have, never Python's text (``'int' object
is not iterable``, ``unhashable type: 'list'``), and never a 500."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block

PYTHON_TEXT = re.compile(r"' object|<class|not iterable|unhashable|has no attribute|subscriptable|indices must")

OPENAI = {"model": "to-anthropic", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"model": "to-gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

CHAT, MESSAGES = "/v1/chat/completions", "/v1/messages"
TO_OPENAI, TO_ANTHROPIC = "/v1beta/models/to-openai:generateContent", "/v1beta/models/to-anthropic:generateContent"
CASES = [
    (CHAT, OPENAI, ("messages", 0, "content"), 42, "messages[0].content: must be a string or an array or null"),
    (CHAT, OPENAI, ("reasoning_effort",), ["low"], "reasoning_effort: must be a string or null, not an array"),
    (CHAT, OPENAI, ("response_format",), "json", "response_format: must be an object or null, not a string"),
    (CHAT, OPENAI, ("tools",), {"type": "function"}, "tools: must be an array or null, not an object"),
    (MESSAGES, ANTHROPIC, ("system",), 7, "system: must be a string or an array, not a number"),
    (MESSAGES, ANTHROPIC, ("metadata",), [], "metadata: must be an object, not an array"),
    (MESSAGES, ANTHROPIC, ("messages", 0, "content"), {"text": "hi"}, "messages[0].content: must be a string or an"),
    (TO_OPENAI, GEMINI, ("contents", 0, "parts"), "hi", "contents[0].parts: must be an array, not a string"),
    (TO_OPENAI, GEMINI, ("toolConfig",), True, "toolConfig: must be an object, not a boolean"),
    (TO_ANTHROPIC, GEMINI, ("systemInstruction", "parts", 0), None, "systemInstruction.parts[0]: must be an object"),
]


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copy: Any = {**body, "messages": [dict(m) for m in body.get("messages", [])]} if "messages" in body else dict(body)
    if "contents" in copy:
        copy["contents"] = [dict(c) for c in copy["contents"]]
    if path[0] == "systemInstruction":
        copy["systemInstruction"] = {"parts": [{"text": "s"}]}
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def message_of(path: str, body: dict[str, Any]) -> str:
    """The error message, checking the envelope is the caller's dialect's."""
    if path == "/v1/messages":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    elif path.startswith("/v1beta/"):
        assert body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400
    else:
        assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


@pytest.mark.parametrize(("path", "body", "field", "value", "said"), CASES, ids=[c[4].split(":")[0] for c in CASES])
async def test_a_wrong_json_type_is_named_in_the_callers_dialect(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    path: str,
    body: dict[str, Any],
    field: tuple[str | int, ...],
    value: Any,
    said: str,
) -> None:
    """The 400 names the field's path and its JSON type, in the caller's envelope, with no Python text."""
    url = await fake()
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("oa", url, speaks="openai")
        + provider_block("an", url, speaks="anthropic")
        + provider_block("ge", url, speaks="gemini")
        + "models:\n  to-openai: {provider: oa, model: m}\n  to-anthropic: {provider: an, model: m}\n"
        + "  to-gemini: {provider: ge, model: m}\n"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + path, json=with_value(body, field, value)) as response,
    ):
        assert response.status == 400
        message = message_of(path, await response.json())
    assert said in message, message
    assert not PYTHON_TEXT.search(message), message


async def test_a_gemini_response_mime_type_that_is_not_a_string_is_400_not_500(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``responseMimeType: 42`` towards OpenAI was a 500 (the refusal's text concatenated the number)."""
    url = await fake()
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("oa", url, speaks="openai")
        + "models:\n  m: {provider: oa, model: m}\n"
    )
    body = {**GEMINI, "generationConfig": {"responseMimeType": 42}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1beta/models/m:generateContent", json=body) as response,
    ):
        assert response.status == 400
        message = message_of("/v1beta/", await response.json())
    assert "generationConfig.responseMimeType: must be a string" in message
