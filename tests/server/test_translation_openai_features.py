"""An OpenAI app's request features towards Anthropic and Gemini, through openai-python, whole and
streamed: each reaches the other provider as its own field (docs/translation.md, Chat requests), or is
dropped and listed when it does not change what the model generates (``store``, ``metadata``, an
answer's ``annotations`` and ``reasoning_content`` sent back in the history), and the answer parses. Checked against https://platform.openai.com/docs/api-reference/chat/create
(``parallel_tool_calls``, ``tool_choice``, ``response_format`` with ``strict`` and ``description``,
``max_completion_tokens``, ``reasoning_effort``, ``store``, ``metadata``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .three_dialects import TOOL, start

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
STRICT = {"type": "json_schema", "json_schema": {"name": "place", "strict": True, "schema": SCHEMA}}
DESCRIBED = {
    "type": "json_schema",
    "json_schema": {
        "name": "place",
        "description": "A city to visit in spring",
        "schema": {**SCHEMA, "description": "Where to go"},
    },
}
SOURCE = {"url": "https://graz.example/", "title": "Graz", "start_index": 0, "end_index": 4}
ANNOTATED_HISTORY = [
    {"role": "user", "content": "A city to visit?"},
    {
        "role": "assistant",
        "content": "Graz is lovely.",
        "annotations": [{"type": "url_citation", "url_citation": SOURCE}],
    },
    {"role": "user", "content": "Graz, please"},
]
REASONED_HISTORY = [  # an answer as openai-python sends it back: the reasoning the sidecar's answers carry
    {"role": "user", "content": "A city to visit?"},
    {"role": "assistant", "content": "Graz.", "refusal": None, "annotations": [], "reasoning_content": "Small, old."},
    {"role": "user", "content": "Graz, please"},
]
Check = Callable[[dict[str, Any]], Any]
# feature: (request fields, (what Anthropic got, expected), (what Gemini got, expected), dropped header)
FEATURES: dict[str, tuple[dict[str, Any], tuple[Check, Any], tuple[Check, Any], str | None]] = {
    "parallel_tool_calls false": (
        {"tools": [TOOL], "parallel_tool_calls": False},
        (lambda s: s["tool_choice"], {"type": "auto", "disable_parallel_tool_use": True}),
        (lambda s: s, None),  # refused: Gemini cannot forbid parallel calls
        None,
    ),
    "tool_choice required": (
        {"tools": [TOOL], "tool_choice": "required"},
        (lambda s: s["tool_choice"], {"type": "any"}),
        (lambda s: s["toolConfig"], {"functionCallingConfig": {"mode": "ANY"}}),
        None,
    ),
    "tool_choice function": (
        {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        (lambda s: s["tool_choice"], {"type": "tool", "name": "get_weather"}),
        (
            lambda s: s["toolConfig"],
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        ),
        None,
    ),
    "json_schema strict": (
        {"response_format": STRICT},
        (lambda s: (s["tools"][0]["input_schema"], s["tool_choice"]["type"]), (SCHEMA, "tool")),
        (
            lambda s: s["generationConfig"]["responseSchema"],
            {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
        ),
        None,
    ),
    "json_schema description": (
        {"response_format": DESCRIBED},
        (lambda s: "A city to visit in spring" in s["tools"][0]["description"], True),
        (
            lambda s: s["generationConfig"]["responseSchema"]["description"],
            "A city to visit in spring\n\nWhere to go",
        ),
        None,
    ),
    "max_completion_tokens": (
        {"max_completion_tokens": 77},
        (lambda s: s["max_tokens"], 77),
        (lambda s: s["generationConfig"]["maxOutputTokens"], 77),
        None,
    ),
    "annotations in the history": (  # an answer's sources, sent back with it (openai-python's message)
        {"messages": ANNOTATED_HISTORY},
        (lambda s: s["messages"][1], {"role": "assistant", "content": [{"type": "text", "text": "Graz is lovely."}]}),
        (lambda s: s["contents"][1], {"role": "model", "parts": [{"text": "Graz is lovely."}]}),
        "annotations",
    ),
    "reasoning in the history": (  # an earlier answer's reasoning: no place in another provider's history
        {"messages": REASONED_HISTORY},
        (lambda s: s["messages"][1], {"role": "assistant", "content": [{"type": "text", "text": "Graz."}]}),
        (lambda s: s["contents"][1], {"role": "model", "parts": [{"text": "Graz."}]}),
        "assistant.reasoning_content",
    ),
    "store and metadata": (
        {"store": True, "metadata": {"team": "search"}},
        (lambda s: "metadata" in s, False),
        (lambda s: "labels" in s, False),
        "store,metadata",
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
@pytest.mark.parametrize("feature", list(FEATURES))
async def test_an_openai_feature_reaches_the_other_provider_as_its_own(
    fake: FakeFactory, sidecar: SidecarFactory, feature: str, target: str, stream: bool
) -> None:
    """The feature reaches Anthropic or Gemini as the table says, what was dropped is listed, and
    openai-python parses the answer (whole, or chunk by chunk)."""
    fields, anthropic_got, gemini_got, dropped = FEATURES[feature]
    got, expected = anthropic_got if target == "to-anthropic" else gemini_got
    request: dict[str, Any] = {"model": target, "messages": [{"role": "user", "content": "Graz, please"}], **fields}
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        if expected is None:  # refused by name
            with pytest.raises(openai.BadRequestError, match="parallel_tool_calls"):
                await client.chat.completions.create(**request, stream=stream)
            return
        raw = await client.chat.completions.with_raw_response.create(**request, stream=stream)
        if stream:
            chunks = [chunk async for chunk in raw.parse()]
            answered = [
                c for c in chunks if c.choices and (c.choices[0].delta.content or c.choices[0].delta.tool_calls)
            ]
        else:
            message = raw.parse().choices[0].message
            answered = [message] if message.content or message.tool_calls else []
    assert answered
    listed = raw.headers.get("x-sidecar-dropped-params")
    assert (set(listed.split(",")) if listed else None) == (set(dropped.split(",")) if dropped else None)
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert got(sent) == expected


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_a_participant_name_is_refused_by_name(fake: FakeFactory, sidecar: SidecarFactory, target: str) -> None:
    """A message's ``name`` (who said it, in a multi-agent chat) has no Anthropic or Gemini form: a 400 naming
    ``messages.name``, nothing sent; before, it was left out silently and the model could not tell the
    speakers apart."""
    running, urls = await start(fake, sidecar)
    messages: list[Any] = [
        {"role": "user", "content": "I vote for Graz.", "name": "alice"},
        {"role": "user", "content": "I vote for Linz.", "name": "bob"},
        {"role": "user", "content": "Who voted for Linz?"},
    ]
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match=r"messages\.name"):
            await client.chat.completions.create(model=target, messages=messages)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_a_message_field_with_no_place_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """A field of a message or a content part that the other provider has no place for (an earlier spoken
    answer's ``audio``) is a 400 naming it, nothing sent; before 2026-12-06 it was left out unsaid."""
    running, urls = await start(fake, sidecar)
    messages: list[Any] = [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": None, "audio": {"id": "audio_abc"}},
        {"role": "user", "content": "Again, in text."},
    ]
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match=r"assistant\.audio"):
            await client.chat.completions.create(model=target, messages=messages)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png,%89PNG"}}, "image_url.url"),
        ({"type": "file", "file": {"file_data": "data:application/pdf,%25PDF-1.4"}}, "file.file_data"),
    ],
    ids=["image", "file"],
)
async def test_a_data_url_that_is_not_base64_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str, part: dict[str, Any], field: str
) -> None:
    """A data URL without ``;base64`` (its bytes percent-encoded) has no form in the other dialects, which
    take base64 data or a URL their provider fetches: a 400 naming the field, nothing sent. Before, it went
    as a URL: to Gemini a ``fileData`` whose ``fileUri`` was the data URL, its type guessed as JPEG, to
    Anthropic an image ``source.type: url``."""
    running, urls = await start(fake, sidecar)
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, part]}]
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match=rf"{field}: a data URL must hold base64 data"):
            await client.chat.completions.create(model=target, messages=messages)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


async def test_max_tokens_0_reaches_anthropic_as_0_not_the_models_limit(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``max_tokens: 0`` reaches Anthropic as 0, which it refuses, and the app gets that 400. It was taken for
    an absent limit: the request went with the model's ``max_output_tokens`` (1,024 here) and was answered,
    where OpenAI and Gemini refuse 0."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match="max_tokens"):
            await client.chat.completions.create(
                model="to-anthropic", messages=[{"role": "user", "content": "hi"}], max_tokens=0
            )
    assert [sent["json"]["max_tokens"] for sent in await running.fake_requests(urls["anthropic"])] == [0]


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
@pytest.mark.parametrize("role", ["system", "assistant", "tool"])
async def test_an_image_in_a_message_that_holds_text_only_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str, role: str
) -> None:
    """An image part in a system, assistant or tool message (OpenAI takes text parts only there) is refused
    as ``<role>.content.image_url``, nothing sent. It was left out unsaid: the target got the text alone."""
    running, urls = await start(fake, sidecar)
    parts = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]
    message: dict[str, Any] = {"role": role, "content": parts}
    messages: list[Any] = [{"role": "user", "content": "hi"}, message]
    if role == "tool":  # the result of a call made before
        message["tool_call_id"] = "call_1"
        call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        messages.insert(1, {"role": "assistant", "content": None, "tool_calls": [call]})
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match=rf"{role}\.content\.image_url"):
            await client.chat.completions.create(model=target, messages=messages)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


async def test_a_tool_result_s_name_is_not_a_participant(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A ``tool`` message's ``name`` (LangChain writes the tool's) repeats its call's: the loop reaches
    Anthropic as before."""
    running, urls = await start(fake, sidecar)
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"},
    ]
    async with openai_client(running) as client:
        await client.chat.completions.create(model="to-anthropic", messages=messages, tools=[TOOL])
    sent = (await running.fake_requests(urls["anthropic"]))[-1]["json"]
    assert sent["messages"][-1]["content"][0]["tool_use_id"] == "call_1"


async def test_a_json_schema_description_without_a_schema_is_refused_towards_gemini(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A ``json_schema`` response format with a ``description`` and no ``schema`` has no Gemini form (Gemini
    describes an answer only on its schema): a 400 naming ``response_format.json_schema.description``,
    nothing sent; Anthropic takes it in its answer tool's description."""
    running, urls = await start(fake, sidecar)
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "place", "description": "A city to visit"}}
    messages: list[Any] = [{"role": "user", "content": "Graz, please"}]
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match=r"response_format\.json_schema\.description"):
            await client.chat.completions.create(model="to-gemini", messages=messages, response_format=fmt)
        await client.chat.completions.create(model="to-anthropic", messages=messages, response_format=fmt)
    assert await running.fake_requests(urls["gemini"]) == []
    sent = (await running.fake_requests(urls["anthropic"]))[-1]["json"]
    assert "A city to visit" in sent["tools"][0]["description"]
