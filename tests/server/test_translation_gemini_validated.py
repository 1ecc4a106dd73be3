"""A google-genai app's function-calling mode ``VALIDATED`` towards OpenAI and Anthropic, through the SDK.
Gemini's ``VALIDATED`` lets the model answer in text or call a function, its calls checked against their
schema, and limited to ``allowedFunctionNames`` when set
(https://ai.google.dev/api/caching#FunctionCallingConfig): it reaches the others as ``auto`` (the check
dropped and listed, as OpenAI's ``strict`` is), and with allowed names it is refused by name: ``auto``
alone let the model call a function the app had not allowed, silently."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import TOOL, start

TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name=name, description="d", parameters_json_schema=TOOL["function"]["parameters"])
            for name in ("get_weather", "book_flight")
        ]
    )
]


def validated(*names: str) -> types.GenerateContentConfig:
    calling = types.FunctionCallingConfig(mode="VALIDATED", allowed_function_names=list(names) or None)
    return types.GenerateContentConfig(tools=TOOLS, tool_config=types.ToolConfig(function_calling_config=calling))


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_validated_with_allowed_names_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """``VALIDATED`` limited to ``get_weather``: a 400 naming ``allowedFunctionNames``, nothing sent."""
    running, urls = await start(fake, sidecar)
    with pytest.raises(errors.ClientError) as info:
        await gemini_client(running.url).aio.models.generate_content(
            model=target, contents="weather in Graz?", config=validated("get_weather")
        )
    assert info.value.code == 400 and "allowedFunctionNames" in str(info.value)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_validated_alone_reaches_the_target_as_auto_listed(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """``VALIDATED`` without names reaches the target as its ``auto`` with both tools, the dropped check
    listed as ``functionCallingConfig.mode``."""
    running, urls = await start(fake, sidecar)
    answer = await gemini_client(running.url).aio.models.generate_content(
        model=target, contents="weather in Graz?", config=validated()
    )
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "functionCallingConfig.mode"
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert sent["tool_choice"] in ("auto", {"type": "auto"}) and len(sent["tools"]) == 2
