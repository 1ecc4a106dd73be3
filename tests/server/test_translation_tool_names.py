"""Tool names one provider allows and another refuses (``translate.names``), through the official SDKs.

Gemini takes ``.`` and ``:`` in a function name (an MCP-style ``github.create_issue``, ``fs:read``);
OpenAI and Anthropic refuse both (the fake providers answer such a name with their provider's 400, as
the real ones do). A translated request sends each refused name mapped to one the target takes (in
``tools``, ``tool_choice`` and the history), and the answer, whole or streamed, carries the app's own
names. Before the mapping the target's 400 reached the app and ended the chain.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client
from .three_dialects import start

DOTTED = ("github.create_issue", "fs:read")
SENT = {"to-openai": ["github_create_issue", "fs_read"], "to-anthropic": ["github_create_issue", "fs_read"]}
SCHEMA = {"type": "OBJECT", "properties": {"title": {"type": "STRING"}}, "required": ["title"]}


def gemini_config(names: tuple[str, ...] = DOTTED, **config: Any) -> Any:
    from google.genai import types

    declarations = [types.FunctionDeclaration(name=name, description="a tool", parameters=SCHEMA) for name in names]
    return types.GenerateContentConfig(tools=[types.Tool(function_declarations=declarations)], **config)


def sent_tool_names(body: dict[str, Any]) -> list[str]:
    """The tool names of an OpenAI or Anthropic request body."""
    return [t["function"]["name"] if "function" in t else t["name"] for t in body.get("tools") or []]


def call_names(chunks: list[Any]) -> list[str]:
    return [call.name for chunk in chunks for call in (chunk.function_calls or [])]


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_dotted_tool_names_from_google_genai_come_back_as_the_app_named_them(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str, stream: bool
) -> None:
    """Two parallel calls to ``github.create_issue`` and ``fs:read`` served by OpenAI or Anthropic: the
    upstream gets ``github_create_issue`` and ``fs_read``, the app's function calls carry its own names."""
    running, urls = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    prompt, config = "fake:tools2 file an issue", gemini_config()
    if stream:
        chunks = [c async for c in await models.generate_content_stream(model=target, contents=prompt, config=config)]
    else:
        chunks = [await models.generate_content(model=target, contents=prompt, config=config)]
    assert call_names(chunks) == list(DOTTED)
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert sent_tool_names(sent) == SENT[target]


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_history_with_dotted_tool_calls_and_results_is_sent_under_the_mapped_names(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """google-genai's second turn (its call of ``github.create_issue`` and the function response) reaches
    OpenAI or Anthropic with the call under the name its tool is declared with, and the answer is read."""
    from google.genai import types

    running, urls = await start(fake, sidecar)
    call = types.FunctionCall(id="call_1", name="github.create_issue", args={"title": "bug"})
    result = types.FunctionResponse(id="call_1", name="github.create_issue", response={"result": "issue 7 filed"})
    contents = [
        types.Content(role="user", parts=[types.Part(text="file an issue")]),
        types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(role="user", parts=[types.Part(function_response=result)]),
    ]
    reply = await gemini_client(running.url).aio.models.generate_content(
        model=target, contents=contents, config=gemini_config()
    )
    assert "issue 7 filed" in (reply.text or "")
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    if target == "to-openai":
        history = [c["function"]["name"] for m in sent["messages"] for c in m.get("tool_calls") or []]
    else:
        blocks = [b for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]]
        history = [b["name"] for b in blocks if b["type"] == "tool_use"]
    assert history == ["github_create_issue"] and "github_create_issue" in sent_tool_names(sent)


async def test_a_forced_tool_whose_mapped_name_clashes_keeps_both_tools_apart(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """``a.b`` next to a tool already named ``a_b``: ``a.b`` is sent as ``a_b`` plus a hash suffix, the
    forced choice names the same, and the app's call is to ``a.b``."""
    from google.genai import types

    running, urls = await start(fake, sidecar)
    forced = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["a.b"]
        )
    )
    reply = await gemini_client(running.url).aio.models.generate_content(
        model="to-openai", contents="call it", config=gemini_config(("a_b", "a.b"), tool_config=forced)
    )
    assert call_names([reply]) == ["a.b"]
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    kept, mapped = sent_tool_names(sent)
    assert kept == "a_b" and mapped.startswith("a_b_") and len(mapped) == len("a_b_") + 8
    assert sent["tool_choice"] == {"type": "function", "function": {"name": mapped}}


async def test_an_anthropic_tool_name_too_long_for_openai_is_cut_and_restored(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A 100-character Anthropic tool name (Anthropic takes 128, OpenAI 64) reaches OpenAI as 64
    characters and the Anthropic SDK's tool_use block has the whole name."""
    running, urls = await start(fake, sidecar)
    name = "tool_" + "x" * 95
    tool = {"name": name, "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
    async with anthropic_client(running) as client:
        message = await client.messages.create(
            model="to-openai", max_tokens=100, tools=[tool], messages=[{"role": "user", "content": "fake:tool go"}]
        )
    assert [b.name for b in message.content if b.type == "tool_use"] == [name]
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert [len(n) for n in sent_tool_names(sent)] == [64]


async def test_a_name_no_mapping_makes_unique_skips_the_target_for_the_next(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Tools ``a.b``, ``a_b`` and ``a_b_<hash of a.b>``: ``a.b`` has no free name left on OpenAI, so the
    route's OpenAI target is skipped (untranslatable) and Gemini, which takes the name, answers."""
    import hashlib

    taken = "a_b_" + hashlib.sha256(b"a.b").hexdigest()[:8]
    route = "  - {name: o-then-g, match: {model: o-then-g}, target: [to-openai, to-gemini]}\n"
    running, urls = await start(fake, sidecar, route)
    reply = await gemini_client(running.url).aio.models.generate_content(
        model="o-then-g", contents="fake:tool go", config=gemini_config(("a.b", "a_b", taken))
    )
    assert call_names([reply]) == ["a.b"]
    assert await running.fake_requests(urls["openai"]) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_cached_answer_replays_the_apps_own_tool_names(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """The same dotted-tools request twice on a cached route to OpenAI: the second answer comes from the
    cache (one upstream call) and still calls ``github.create_issue`` and ``fs:read``, not the names
    OpenAI was sent."""
    route = (
        "  - {name: cached, match: {model: cached}, target: [to-openai], cache: {enabled: true, cacheable: always}}\n"
    )
    running, urls = await start(fake, sidecar, route)
    models = gemini_client(running.url).aio.models
    prompt, config = "fake:tools2 file an issue", gemini_config()
    for _ in range(2):
        if stream:
            stream_of = await models.generate_content_stream(model="cached", contents=prompt, config=config)
            chunks = [c async for c in stream_of]
        else:
            chunks = [await models.generate_content(model="cached", contents=prompt, config=config)]
        assert call_names(chunks) == list(DOTTED)
    assert len(await running.fake_requests(urls["openai"])) == 1
