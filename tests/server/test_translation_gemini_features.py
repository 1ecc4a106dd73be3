"""A google-genai app's request features towards OpenAI and Anthropic, through the SDK, whole and
streamed: each reaches the other provider as its own field (docs/translation.md, Chat requests), or is
refused by name, and the answer parses. Checked against https://ai.google.dev/api/generate-content
(``systemInstruction``, ``responseSchema`` / ``responseJsonSchema``, ``toolConfig.functionCallingConfig``,
``inlineData``, ``safetySettings``, ``thinkingConfig``; google-genai 3.6.1's ``serviceTier``, ``store``,
``continuationToken`` and ``toolConfig.includeServerSideToolInvocations`` from its types' documentation) and
https://ai.google.dev/api/caching#FunctionDeclaration
(a declaration's ``response`` / ``responseJsonSchema``: left out and listed, no other provider's tool has one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import TOOL, start

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather", description="Weather", parameters_json_schema=TOOL["function"]["parameters"]
            )
        ]
    )
]
PNG = b"\x89PNG\r\n\x1a\n0000"


def declared(**fields: Any) -> types.Tool:
    """``get_weather`` declared with ``fields`` besides its name, description and parameters."""
    parameters = TOOL["function"]["parameters"]
    decl = types.FunctionDeclaration(
        name="get_weather", description="Weather", parameters_json_schema=parameters, **fields
    )
    return types.Tool(function_declarations=[decl])


def calling(mode: str) -> dict[str, Any]:
    return {
        "tools": TOOLS,
        "tool_config": types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=mode)),
    }


Check = Callable[[dict[str, Any]], Any]
# feature: (config, contents, (what OpenAI got, expected), (what Anthropic got, expected)); expected None: refused
FEATURES: dict[str, tuple[dict[str, Any], Any, tuple[Check, Any], tuple[Check, Any]]] = {
    "system_instruction": (
        {"system_instruction": "Answer in German."},
        "Graz?",
        (lambda s: s["messages"][0], {"role": "system", "content": "Answer in German."}),
        (lambda s: s["system"], "Answer in German."),
    ),
    "response_json_schema": (
        {"response_mime_type": "application/json", "response_json_schema": SCHEMA},
        "Graz?",
        (lambda s: s["response_format"]["json_schema"]["schema"], SCHEMA),
        (lambda s: (s["tools"][0]["input_schema"], s["tool_choice"]["type"]), (SCHEMA, "tool")),
    ),
    "response_schema": (
        {
            "response_mime_type": "application/json",
            "response_schema": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
        },
        "Graz?",
        (lambda s: s["response_format"]["json_schema"]["schema"], SCHEMA),
        (lambda s: s["tools"][0]["input_schema"], SCHEMA),
    ),
    "mode ANY": (
        calling("ANY"),
        "Graz?",
        (lambda s: s["tool_choice"], "required"),
        (lambda s: s["tool_choice"], {"type": "any"}),
    ),
    "mode NONE": (
        calling("NONE"),
        "Graz?",
        (lambda s: s["tool_choice"], "none"),
        (lambda s: s["tool_choice"], {"type": "none"}),
    ),
    "inline image": (
        {},
        [
            types.Content(
                role="user", parts=[types.Part.from_bytes(data=PNG, mime_type="image/png"), types.Part(text="?")]
            )
        ],
        (lambda s: s["messages"][0]["content"][0]["type"], "image_url"),
        (lambda s: s["messages"][0]["content"][0]["source"]["media_type"], "image/png"),
    ),
    "video metadata": (  # which stretch of a video the model sees: no other provider's form
        {},
        [
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        inline_data=types.Blob(data=PNG, mime_type="image/png"),
                        video_metadata=types.VideoMetadata(start_offset="1s"),
                    )
                ],
            )
        ],
        (lambda s: s, None),
        (lambda s: s, None),
    ),
    "declaration response": (
        {"tools": [declared(response=types.Schema(type="OBJECT", properties={"sky": {"type": "STRING"}}))]},
        "Graz?",
        (lambda s: sorted(s["tools"][0]["function"]), ["description", "name", "parameters"]),
        (lambda s: sorted(s["tools"][0]), ["description", "input_schema", "name"]),
    ),
    "declaration response_json_schema": (
        {"tools": [declared(response_json_schema={"type": "object", "properties": {"sky": {"type": "string"}}})]},
        "Graz?",
        (lambda s: sorted(s["tools"][0]["function"]), ["description", "name", "parameters"]),
        (lambda s: sorted(s["tools"][0]), ["description", "input_schema", "name"]),
    ),
    "safety_settings": (
        {"safety_settings": [types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH", threshold="BLOCK_NONE")]},
        "Graz?",
        (lambda s: s, None),
        (lambda s: s, None),
    ),
    "thinking budget": (
        {
            "thinking_config": types.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
            "max_output_tokens": 4000,
        },
        "Graz?",
        (lambda s: s, None),
        (lambda s: s["thinking"], {"type": "enabled", "budget_tokens": 2048}),
    ),
    # google-genai 3.6.1: a latency tier and Google's logging, dropped and listed (before 2026-12-06 a 400)
    "service_tier and store": (
        {"service_tier": "flex", "store": False},
        "Graz?",
        (lambda s: {"service_tier", "store"} & set(s), set()),
        (lambda s: {"service_tier"} & set(s), set()),
    ),
    "server-side tool invocations": (
        {"tools": TOOLS, "tool_config": types.ToolConfig(include_server_side_tool_invocations=True)},
        "Graz?",
        (lambda s: [t["function"]["name"] for t in s["tools"]], ["get_weather"]),
        (lambda s: [t["name"] for t in s["tools"]], ["get_weather"]),
    ),
    "continuation_token": ({"continuation_token": b"resume-here"}, "Graz?", (lambda s: s, None), (lambda s: s, None)),
}
REFUSED_AS = {
    "video metadata": r"parts\.videoMetadata",
    "safety_settings": "safetySettings",
    "thinking budget": "thinkingConfig.thinkingBudget",
    "continuation_token": "'continuationToken': it resumes an answer Gemini cut",
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
@pytest.mark.parametrize("feature", list(FEATURES))
async def test_a_gemini_feature_reaches_the_other_provider_as_its_own(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, feature: str, target: str, stream: bool
) -> None:
    """The feature reaches OpenAI or Anthropic as the table says, or is a 400 naming it as google-genai
    sent it; the SDK parses the answer (whole, or fragment by fragment)."""
    config, contents, openai_got, anthropic_got = FEATURES[feature]
    got, expected = openai_got if target == "to-openai" else anthropic_got
    running, urls = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    request = {"model": target, "contents": contents, "config": types.GenerateContentConfig(**config)}
    if expected is None:
        with pytest.raises(errors.ClientError, match=REFUSED_AS[feature]):
            if stream:
                [c async for c in await models.generate_content_stream(**request)]
            else:
                await models.generate_content(**request)
        return
    if stream:
        chunks = [chunk async for chunk in await models.generate_content_stream(**request)]
        assert any(chunk.candidates and chunk.candidates[0].content for chunk in chunks)
    else:
        answer = await models.generate_content(**request)
        assert answer.candidates and answer.candidates[0].content
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert got(sent) == expected


async def test_under_drop_a_declaration_s_result_schema_is_left_out_and_listed(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """With ``unsupported_params: drop``, a declaration's ``response`` reaches OpenAI without it (OpenAI
    functions declare no result), the rest of the declaration as it was, and ``x-sidecar-dropped-params``
    lists ``functionDeclarations.response``; before, it was left out unsaid."""
    lenient = "  - {name: lenient, match: {model: lenient}, target: to-openai, unsupported_params: drop}\n"
    running, urls = await start(fake, sidecar, extra=lenient)
    tool = declared(response=types.Schema(type="OBJECT", properties={"sky": types.Schema(type="STRING")}))
    config = types.GenerateContentConfig(tools=[tool])
    answer = await gemini_client(running.url).aio.models.generate_content(
        model="lenient", contents="Graz?", config=config
    )
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "functionDeclarations.response"
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert sent["tools"][0]["function"] == {
        "name": "get_weather",
        "description": "Weather",
        "parameters": TOOL["function"]["parameters"],
    }


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_an_image_in_the_system_instruction_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """An image part in ``systemInstruction`` has no place in OpenAI's or Anthropic's system prompt: refused
    as ``systemInstruction.inlineData``, nothing sent. It was left out unsaid: the target got the text."""
    running, urls = await start(fake, sidecar)
    system = types.Content(parts=[types.Part(text="Describe"), types.Part.from_bytes(data=PNG, mime_type="image/png")])
    config = types.GenerateContentConfig(system_instruction=system)
    with pytest.raises(errors.ClientError, match=r"systemInstruction\.inlineData"):
        await gemini_client(running.url).aio.models.generate_content(model=target, contents="hi", config=config)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_an_answers_thought_signature_sent_back_is_listed(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """A function call as google-genai keeps an answer's (with its ``thought_signature``) sent back in the
    history: answered, ``x-sidecar-dropped-params`` lists ``thoughtSignature`` (the model's thoughts have no
    place elsewhere); before 2026-12-06 it was left out unlisted."""
    running, urls = await start(fake, sidecar)
    call = types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Graz"}))
    call.thought_signature = b"\x0a\x24signed"
    result = types.Part.from_function_response(name="get_weather", response={"sky": "sunny"})
    contents = [
        types.Content(role="user", parts=[types.Part(text="Weather in Graz?")]),
        types.Content(role="model", parts=[call]),
        types.Content(role="user", parts=[result]),
    ]
    config = types.GenerateContentConfig(tools=TOOLS)
    answer = await gemini_client(running.url).aio.models.generate_content(
        model=target, contents=contents, config=config
    )
    assert answer.sdk_http_response.headers["x-sidecar-dropped-params"] == "thoughtSignature"
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert "Graz" in str(sent["messages"])
