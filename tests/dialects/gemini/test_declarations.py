"""A Gemini function declaration's result schema towards OpenAI and Anthropic
(``sidecar/dialects/gemini/declarations.py``), through google-genai against the real sidecar and fake
providers: google-genai's automatic function calling declares a Python function with the
``responseJsonSchema`` of its return annotation, which no other provider's tool has."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from ...conftest import FakeFactory, SidecarFactory
from ...server.three_dialects import start


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_automatic_function_calling_runs_through_a_translated_route(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """google-genai's automatic function calling with a typed Python function completes its tool loop
    through OpenAI or Anthropic (the function's result reaches the model, whose answer the app gets), the
    declaration's ``responseJsonSchema`` left out and listed in ``x-sidecar-dropped-params``; it was a 400
    naming ``functionDeclarations.responseJsonSchema``."""
    running, _ = await start(fake, sidecar)
    config = types.GenerateContentConfig(tools=[get_weather])
    answer = await gemini_client(running.url).aio.models.generate_content(
        model=target, contents="Weather in Graz? fake:tool", config=config
    )
    assert answer.text == "Tool result received: sunny in test"
    assert len(answer.automatic_function_calling_history or []) == 3  # question, call, result
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "functionDeclarations.responseJsonSchema"


async def test_a_result_schema_never_reaches_the_other_provider(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A declaration's ``response`` (Gemini ``Schema``) reaches OpenAI as a function of name,
    description and parameters only, under the default ``unsupported_params: error``."""
    running, urls = await start(fake, sidecar)
    decl = types.FunctionDeclaration(
        name="get_weather",
        description="Weather",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        response=types.Schema(type="OBJECT", properties={"sky": types.Schema(type="STRING")}),
    )
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])])
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="to-openai", contents="Graz?", config=config
    )
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "functionDeclarations.response"
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert sorted(sent["tools"][0]["function"]) == ["description", "name", "parameters"]
