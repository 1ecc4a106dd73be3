"""An Anthropic app's request features towards OpenAI and Gemini, through the SDK, whole and streamed:
each reaches the other provider as its own field (docs/translation.md, Chat requests), or is dropped and
listed when it does not change what the model generates (``cache_control``, an answer's ``citations`` and
a ``tool_use``'s direct ``caller`` sent back in the history), and the answer parses.
Checked against https://docs.claude.com/en/api/messages (``cache_control``, ``stop_sequences``, image and
document sources, ``tool_choice``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import aiohttp
import anthropic
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client
from .three_dialects import ANTHROPIC_TOOL, start

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()
PDF = base64.b64encode(b"%PDF-1.4 menu").decode()
EPHEMERAL = {"type": "ephemeral"}


def asking(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": "what is this?"}]}]}


def first_part(sent: dict[str, Any]) -> Any:
    """The first part of the first user turn, as the target got it."""
    if "contents" in sent:
        return sent["contents"][0]["parts"][0]
    return sent["messages"][-1]["content"][0]


def gemini_config(sent: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = sent.get("generationConfig", {})
    return config


CITATION = {
    "type": "char_location",
    "cited_text": "The grass is green.",
    "document_index": 0,
    "document_title": "facts",
    "start_char_index": 0,
    "end_char_index": 20,
}
LOOKUP = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
CITED_HISTORY = [
    {"role": "user", "content": "what colour is grass?"},
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "The grass is green.", "citations": [CITATION]}, LOOKUP],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "Found it.", "citations": [CITATION]}],
            },
            {"type": "text", "text": "and the sky?"},
        ],
    },
]
CALLED_HISTORY = [  # a tool_use as the SDKs send back an answer's block: with its caller, the model itself
    {"role": "user", "content": "weather in Oslo?"},
    {"role": "assistant", "content": [{**LOOKUP, "caller": {"type": "direct"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
]
LOOKUP_CALL = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
LOOKUP_GEMINI = {
    "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
    "thoughtSignature": "skip_thought_signature_validator",
}

Check = Callable[[dict[str, Any]], Any]
# feature: (request fields, what OpenAI got, what Gemini got, the x-sidecar-dropped-params header)
FEATURES: dict[str, tuple[dict[str, Any], Check, Check, str | None]] = {
    "cache_control": (
        {
            "system": [{"type": "text", "text": "be brief", "cache_control": EPHEMERAL}],
            "tools": [{**ANTHROPIC_TOOL, "cache_control": EPHEMERAL}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi there", "cache_control": EPHEMERAL}]}
            ],
        },
        lambda s: (s["messages"][0], s["messages"][1]["content"], len(s["tools"])),
        lambda s: (s["systemInstruction"], s["contents"][0]["parts"], len(s["tools"][0]["functionDeclarations"])),
        "cache_control",
    ),
    "citations in the history": (  # an earlier answer's, sent back as the SDK gave it (and in tool results)
        {"messages": CITED_HISTORY},
        lambda s: (s["messages"][1], s["messages"][2]["content"]),
        lambda s: (s["contents"][1], s["contents"][2]["parts"][0]["functionResponse"]["response"]),
        "citations",
    ),
    "a direct caller in the history": (
        {"messages": CALLED_HISTORY},
        lambda s: s["messages"][1],
        lambda s: s["contents"][1],
        "tool_use.caller",
    ),
    "stop_sequences": (
        {"stop_sequences": ["END", "STOP"]},
        lambda s: s["stop"],
        lambda s: gemini_config(s)["stopSequences"],
        None,
    ),
    "image base64": (
        asking({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}),
        first_part,
        first_part,
        None,
    ),
    "image url": (
        asking({"type": "image", "source": {"type": "url", "url": "https://images.example/cat.png"}}),
        first_part,
        first_part,
        None,
    ),
    "image data URL in a url source": (
        asking({"type": "image", "source": {"type": "url", "url": f"data:image/png;base64,{PNG}"}}),
        first_part,
        first_part,
        None,
    ),
    "pdf base64": (
        asking({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}),
        first_part,
        first_part,
        None,
    ),
    "tool_choice none": (
        {"tools": [ANTHROPIC_TOOL], "tool_choice": {"type": "none"}},
        lambda s: s["tool_choice"],
        lambda s: s["toolConfig"],
        None,
    ),
    "thinking between_tools": (  # anthropic 2.17: thinking off, progress notes between tool calls as thinking
        {"thinking": {"type": "between_tools"}},
        lambda s: "reasoning_effort" in s,
        lambda s: "thinkingConfig" in gemini_config(s),
        "thinking",
    ),
}
EXPECTED: dict[str, tuple[Any, Any]] = {
    "cache_control": (
        ({"role": "system", "content": "be brief"}, "hi there", 1),
        ({"parts": [{"text": "be brief"}]}, [{"text": "hi there"}], 1),
    ),
    "citations in the history": (
        ({"role": "assistant", "content": "The grass is green.", "tool_calls": [LOOKUP_CALL]}, "Found it."),
        ({"role": "model", "parts": [{"text": "The grass is green."}, LOOKUP_GEMINI]}, {"result": "Found it."}),
    ),
    "a direct caller in the history": (
        {"role": "assistant", "content": None, "tool_calls": [LOOKUP_CALL]},
        {"role": "model", "parts": [LOOKUP_GEMINI]},
    ),
    "stop_sequences": (["END", "STOP"], ["END", "STOP"]),
    "image base64": (
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
    ),
    "image url": (
        {"type": "image_url", "image_url": {"url": "https://images.example/cat.png"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://images.example/cat.png"}},
    ),
    "image data URL in a url source": (  # inline data, as the base64 source: never a URL to fetch
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
    ),
    "pdf base64": (
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "document.pdf"}},
        {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
    ),
    "tool_choice none": ("none", {"functionCallingConfig": {"mode": "NONE"}}),
    "thinking between_tools": (False, False),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
@pytest.mark.parametrize("feature", list(FEATURES))
async def test_an_anthropic_feature_reaches_the_other_provider_as_its_own(
    fake: FakeFactory, sidecar: SidecarFactory, feature: str, target: str, stream: bool
) -> None:
    """The feature reaches OpenAI or Gemini as the table says, what was dropped is listed, and the SDK
    parses the answer (whole, or accumulated from the stream)."""
    fields, openai_got, gemini_got, dropped = FEATURES[feature]
    request: dict[str, Any] = {"model": target, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    request.update(fields)
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        if stream:
            async with client.messages.stream(**request) as events:
                message = await events.get_final_message()
                headers = events.response.headers
        else:
            raw = await client.messages.with_raw_response.create(**request)
            message, headers = await raw.parse(), raw.headers
    assert message.content and message.content[0].type == "text"
    assert headers.get("x-sidecar-dropped-params") == dropped
    dialect = target.removeprefix("to-")
    sent = (await running.fake_requests(urls[dialect]))[-1]["json"]
    got = (openai_got if dialect == "openai" else gemini_got)(sent)
    assert got == EXPECTED[feature][0 if dialect == "openai" else 1]


async def test_the_beta_s_billing_and_fallback_fields_are_listed_not_refused(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """anthropic 2.17's beta ``billing_policy``, ``fallbacks`` and ``fallback_credit_token`` (who is billed,
    Anthropic's own retry on a substitute model) reach OpenAI as nothing, listed in
    ``x-sidecar-dropped-params``, and the answer parses; before 2026-12-06 each was a 400."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        raw = await client.beta.messages.with_raw_response.create(
            model="to-openai",
            max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
            billing_policy={"type": "billing_policy", "bill_to": "self"},
            fallbacks="default",
            fallback_credit_token="fct_1",
        )
        message = await raw.parse()
    assert message.content[0].type == "text"
    dropped = {name.strip() for name in raw.headers["x-sidecar-dropped-params"].split(",")}
    assert dropped == {"billing_policy", "fallbacks", "fallback_credit_token"}
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert not {"billing_policy", "fallbacks", "fallback_credit_token"} & set(sent)


@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
async def test_a_system_block_that_is_not_text_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """An image in ``system`` (Anthropic's system prompt takes text blocks only) is refused as
    ``system.image``, nothing sent. It was left out unsaid: the target got an empty system prompt."""
    running, urls = await start(fake, sidecar)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError, match=r"system\.image"):
            await client.messages.create(
                model=target,
                max_tokens=20,
                system=[image],  # type: ignore[list-item]
                messages=[{"role": "user", "content": "hi"}],
            )
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


@pytest.mark.parametrize("target", ["to-openai", "to-gemini"])
@pytest.mark.parametrize("kind", ["image", "document"])
async def test_a_data_url_source_that_is_not_base64_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, target: str, kind: str
) -> None:
    """A ``url`` source holding a data URL without ``;base64`` (percent-encoded bytes) has no form in the
    other dialects: a 400 naming the field, nothing sent (as an OpenAI app's, docs/translation.md)."""
    running, urls = await start(fake, sidecar)
    block = {"type": kind, "source": {"type": "url", "url": "data:image/png,%89PNG"}}
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.BadRequestError, match=rf"{kind}\.source\.url: a data URL must hold base64 data"):
            await client.messages.create(model=target, max_tokens=20, **asking(block))
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


async def test_an_anthropic_request_without_max_tokens_is_answered_on_every_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A raw Anthropic-dialect request without ``max_tokens`` (the Anthropic SDKs require it; a raw caller
    may omit it) is answered whatever the route's target: an Anthropic target gets the limit a translated
    request gets (the model's ``max_output_tokens``), so an app answered through OpenAI or Gemini keeps
    working when its route moves to Anthropic (it got Anthropic's 400 "max_tokens: Field required")."""
    running, urls = await start(fake, sidecar)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "app-dummy"}
    async with aiohttp.ClientSession() as session:
        for model in ("to-openai", "to-gemini", "to-anthropic"):
            async with session.post(running.url + "/v1/messages", json={**body, "model": model}, headers=headers) as r:
                assert (r.status, (await r.json())["content"][0]["type"]) == (200, "text"), model
    assert [sent["json"]["max_tokens"] for sent in await running.fake_requests(urls["anthropic"])] == [1024]
