"""Across dialects: each official SDK against a fake provider of another dialect, streams and tools too."""

from __future__ import annotations

import array
import base64
import json
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client, sdk_client
from .three_dialects import ANTHROPIC_TOOL, TOOL, start


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_openai_sdk_chat_served_by_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """A plain OpenAI chat is answered by Anthropic or Gemini; text and usage come back in OpenAI's shape."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    reply = await client.chat.completions.create(
        model=target,
        messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "translated hello"},
        ],
        max_tokens=50,
    )
    assert "translated hello" in (reply.choices[0].message.content or "")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    await client.close()


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_openai_sdk_stream_with_tool_call_across_dialects(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """A streamed OpenAI tool call served by Anthropic or Gemini arrives with intact JSON arguments."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    stream = await client.chat.completions.create(
        model=target,
        messages=[{"role": "user", "content": "fake:tool what is the weather"}],
        tools=[TOOL],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments, name, finish, usage = "", None, None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                name = call.function.name if call.function and call.function.name else name
                arguments += call.function.arguments or "" if call.function else ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "test"}
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens > 0
    await client.close()


async def test_anthropic_sdk_served_by_openai_streaming(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic SDK stream served by an OpenAI upstream yields the full Anthropic event sequence."""
    running, _ = await start(fake, sidecar)
    client = anthropic_client(running)
    async with client.messages.stream(
        model="to-openai",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "hola amigo"}],
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert "hola amigo" in text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    await client.close()


async def test_anthropic_sdk_tool_use_served_by_gemini(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic tool_use answered by Gemini comes back as a tool_use block with the input object."""
    running, _ = await start(fake, sidecar)
    client = anthropic_client(running)
    message = await client.messages.create(
        model="to-gemini",
        max_tokens=64,
        tools=[ANTHROPIC_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "fake:tool weather please"}],
    )
    blocks = [b for b in message.content if b.type == "tool_use"]
    assert message.stop_reason == "tool_use"
    assert blocks and blocks[0].name == "get_weather" and blocks[0].input == {"city": "test"}
    await client.close()


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_gemini_sdk_stream_served_by_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """A google-genai stream served by OpenAI or Anthropic parses chunk by chunk with usage at the end."""
    running, _ = await start(fake, sidecar)
    client = gemini_client(running.url)
    text, usage = "", None
    async for chunk in await client.aio.models.generate_content_stream(model=target, contents="servus"):
        text += chunk.text or ""
        usage = chunk.usage_metadata or usage
    assert "servus" in text
    assert usage is not None and usage.candidates_token_count


async def test_embeddings_openai_to_gemini(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """OpenAI embeddings for a list of inputs are served by Gemini batchEmbedContents."""
    running, urls = await start(fake, sidecar)
    client = openai_client(running)
    result = await client.embeddings.create(model="embed-gemini", input=["one", "two"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) > 8
    upstream = (await running.fake_requests(urls["gemini"]))[-1]
    assert upstream["path"].endswith("text-embedding-004:batchEmbedContents")
    await client.close()


async def test_a_gemini_content_of_several_text_parts_is_one_openai_input_with_its_parts_on_lines(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai sends ``contents=["hello", "world"]`` to a multimodal embedding model as one content of
    two parts, which Gemini embeds as one vector: an OpenAI target gets one input, the parts on their own
    lines ("hello\\nworld", not the one word "helloworld"), and the app gets its one vector."""
    extra = "  - {name: mm, match: {model: gemini-embedding-2}, target: to-openai}\n"
    running, urls = await start(fake, sidecar, extra)
    models = gemini_client(running.url).aio.models
    result = await models.embed_content(model="gemini-embedding-2", contents=["hello", "world"])
    assert len(result.embeddings or ()) == 1
    assert (await running.fake_requests(urls["openai"]))[-1]["json"]["input"] == ["hello\nworld"]  # a batch of one


async def test_embeddings_asked_as_base64_come_as_base64(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An OpenAI app that asks encoding_format base64 gets base64 float32 vectors from a Gemini upstream, as
    OpenAI sends them (openai-python hands them over undecoded; openai-node decodes without checking)."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    as_base64 = await client.embeddings.create(model="embed-gemini", input=["one", "two"], encoding_format="base64")
    as_float = await client.embeddings.create(model="embed-gemini", input=["one", "two"], encoding_format="float")
    for encoded, floats in zip(as_base64.data, as_float.data, strict=True):
        assert isinstance(encoded.embedding, str)
        decoded = array.array("f", base64.b64decode(encoded.embedding)).tolist()
        assert decoded == pytest.approx(floats.embedding, rel=1e-6)
    default = await client.embeddings.create(model="embed-gemini", input="one")  # the SDK asks base64, decodes
    assert default.data[0].embedding == pytest.approx(as_float.data[0].embedding, rel=1e-6)
    await client.close()


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_openai_jpg_data_uri_reaches_another_dialect_as_jpeg(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """An image sent as ``data:image/jpg;base64,...`` (OpenAI takes that spelling) reaches Anthropic and
    Gemini as ``image/jpeg``, the only JPEG type they take (Anthropic answered 400 to ``image/jpg``)."""
    running, urls = await start(fake, sidecar)
    client = openai_client(running)
    image = {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQSkZJRg=="}}
    reply = await client.chat.completions.create(
        model=target, messages=[{"role": "user", "content": [{"type": "text", "text": "what is it"}, image]}]
    )
    assert reply.choices[0].message.content
    upstream = json.dumps((await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"])
    assert "image/jpeg" in upstream and "image/jpg" not in upstream
    await client.close()


@pytest.mark.parametrize("target", ["to-anthropic", "to-gemini"])
async def test_openai_system_only_request_is_answered_by_another_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, target: str
) -> None:
    """A request of system messages only (OpenAI answers it) reaches Anthropic and Gemini, which need a
    turn, with the system text as the one user turn (it was their 400)."""
    running, urls = await start(fake, sidecar)
    client = openai_client(running)
    reply = await client.chat.completions.create(
        model=target, messages=[{"role": "system", "content": "Write a haiku about rain"}]
    )
    assert "haiku about rain" in (reply.choices[0].message.content or "")
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert "system" not in sent and "systemInstruction" not in sent  # said once, as the turn
    await client.close()


async def test_tool_choice_without_tools_reaches_openai_without_it(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini app's function-calling mode (or an Anthropic tool_choice) with no tools declared is answered
    by OpenAI, which refuses ``tool_choice`` without ``tools``: with no tools there is no choice to send."""
    running, urls = await start(fake, sidecar)
    google = gemini_client(running.url)
    config = {"tool_config": {"function_calling_config": {"mode": "NONE"}}}
    answer = await google.aio.models.generate_content(model="to-openai", contents="plain hello", config=config)
    assert "plain hello" in (answer.text or "")
    claude = anthropic_client(running)
    message = await claude.messages.create(
        model="to-openai", max_tokens=20, tool_choice={"type": "auto"}, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.stop_reason == "end_turn"
    assert all("tool_choice" not in r["json"] for r in await running.fake_requests(urls["openai"]))
    await claude.close()


@pytest.mark.parametrize(("should_retry", "calls"), [("false", 1), ("true", 2)])
async def test_upstream_retry_hint_reaches_the_sdk_across_dialects(
    fake: FakeFactory, sidecar: SidecarFactory, should_retry: str, calls: int
) -> None:
    """An Anthropic upstream's 500 reaches an OpenAI app translated, with its ``retry-after-ms`` (the
    route's last resort asks for no longer wait) and ``x-should-retry: false``: with the upstream's
    ``false`` the sidecar does not call its chain's last target again, with ``true`` it does (its
    ``max_attempts_per_target``: 2); either way openai-python (2 retries) does not call again, as the
    sidecar did the retrying (tests/server/test_sdk_retries.py)."""
    quick = "  - {name: quick, match: {model: quick}, target: to-anthropic,\n"
    quick += "     resilience: {last_resort: {retry_after_s: 0}}}\n"
    running, urls = await start(fake, sidecar, quick)
    fault = f"[fault:status=500;should-retry={should_retry};hint=retry-after-ms;after=0.05]"
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x", max_retries=2) as client:
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model="quick", messages=[{"role": "user", "content": fault}])
    assert info.value.response.headers["x-should-retry"] == "false"
    assert info.value.response.headers["retry-after-ms"] == "50"
    assert info.value.message  # the upstream's message, in OpenAI's shape
    assert len(await running.fake_requests(urls["anthropic"])) == calls


async def test_unsupported_parameter_is_a_400_naming_it(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With unsupported_params: error, a parameter Anthropic lacks gets a 400 that names it."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="to-anthropic", messages=[{"role": "user", "content": "x"}], logprobs=True
        )
    assert "logprobs" in str(info.value)
    await client.close()


async def test_unsupported_parameters_400_names_the_dialect_a_fake_provider_speaks(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python's ``logprobs`` to a fake provider speaking Anthropic (the demo's set-up): the 400 says
    the parameter has no equivalent on ``anthropic``, the API it lacks it in, not on ``fake``, its kind."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="to-anthropic", messages=[{"role": "user", "content": "x"}], logprobs=True
            )
    assert "parameter 'logprobs' has no equivalent on anthropic (model to-anthropic)" in info.value.message


async def test_unsupported_parameter_dropped_when_the_policy_says_so(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With unsupported_params: drop on the route, the parameter is dropped and named in a header."""
    extra = "  - {name: lenient, match: {model: lenient}, target: to-anthropic, unsupported_params: drop}\n"
    running, _ = await start(fake, sidecar, extra)
    client = openai_client(running)
    raw = await client.chat.completions.with_raw_response.create(
        model="lenient", messages=[{"role": "user", "content": "x"}], logprobs=True
    )
    assert "logprobs" in raw.headers["x-sidecar-dropped-params"]
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert "logprobs" in access["dropped_params"]
    await client.close()


async def test_upstream_error_is_mapped_into_the_callers_dialect(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic 400 reaches an OpenAI SDK caller as its BadRequestError with the upstream message."""
    running, _ = await start(fake, sidecar)
    client = openai_client(running)
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="to-anthropic",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-fault": "status=400"},
        )
    await client.close()


async def test_cross_dialect_chain_falls_back(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic SDK caller whose Claude target is overloaded is served by the OpenAI target."""
    running, _ = await start(fake, sidecar)
    client = anthropic_client(running)
    raw = await client.messages.with_raw_response.create(
        model="a-then-o",
        max_tokens=64,
        messages=[{"role": "user", "content": "still answered"}],
        extra_headers={"x-fake-fault": "fake-anthropic:status=529"},
    )
    message = await raw.parse()
    assert "still answered" in message.content[0].text  # type: ignore[union-attr]
    assert raw.headers["x-sidecar-model"] == "to-openai"
    assert raw.headers["x-sidecar-fallback-reason"] == "overloaded"
    await client.close()


NO_ARGS_STREAM = [
    ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                            "model": "claude", "content": [], "stop_reason": None,
                                                            "usage": {"input_tokens": 9, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "tool_use", "id": "toolu_1", "name": "current_time",
                                               "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "input_json_delta", "partial_json": ""}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                       "usage": {"output_tokens": 12}}),
    ("message_stop", {"type": "message_stop"}),
]  # fmt: skip
NO_ARGS_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "current_time", "input": {}}],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 9, "output_tokens": 12},
}


@pytest.mark.parametrize("stream", [True, False])
async def test_a_tool_call_without_arguments_from_anthropic_parses_as_json_for_the_openai_sdk(
    aiohttp_server: Any, sidecar: SidecarFactory, stream: bool
) -> None:
    """Anthropic's call to a tool without arguments (input {} and one empty input_json_delta) reaches the
    OpenAI SDK with arguments "{}", streamed as unstreamed, so the app's json.loads works."""
    from aiohttp import web

    async def messages(request: web.Request) -> web.StreamResponse:
        if not (await request.json()).get("stream"):
            return web.json_response(NO_ARGS_MESSAGE)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for name, data in NO_ARGS_STREAM:
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    server = await aiohttp_server(app)
    policy = (
        "version: 1\nproviders:\n  ant: {kind: anthropic, base_url: '" + str(server.make_url("")).rstrip("/") + "'}\n"
        "models:\n  claude: {provider: ant, model: claude, max_output_tokens: 256}\n"
    )
    running = await sidecar(policy)
    client = openai_client(running)
    tool = {
        "type": "function",
        "function": {"name": "current_time", "parameters": {"type": "object", "properties": {}}},
    }
    request: dict[str, Any] = {"model": "claude", "messages": [{"role": "user", "content": "time?"}], "tools": [tool]}
    if stream:
        arguments = ""
        async for chunk in await client.chat.completions.create(**request, stream=True):
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                arguments += call.function.arguments or "" if call.function else ""
    else:
        reply = await client.chat.completions.create(**request)
        calls = reply.choices[0].message.tool_calls or []
        arguments = calls[0].function.arguments  # type: ignore[union-attr]
    assert arguments == "{}" and json.loads(arguments) == {}
    await client.close()


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"tools": [{"type": "function", "function": {"parameters": {}}}]}, "the field 'name' is missing"),
        ({"messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]: must be an object, not a number"),
    ],
    ids=["tool without name", "content part a number"],
)
async def test_a_malformed_request_field_is_named_in_words_not_a_python_error(
    fake: FakeFactory, sidecar: SidecarFactory, extra: dict[str, Any], said: str
) -> None:
    """A request the translator cannot read (a tool without its name, a content part that is a number)
    gets a 400 that says what is wrong in words, not a Python exception's repr (``KeyError('name')``)."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(
                model="to-anthropic", messages=[{"role": "user", "content": "x"}], extra_body=extra
            )
    message = raised.value.message
    assert "malformed openai request body: " + said in message
    assert "Error(" not in message and "Error:" not in message


async def test_more_inputs_than_gemini_embeds_at_once_are_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python embeddings of 101 texts (LangChain's OpenAIEmbeddings sends up to 1,000) towards Gemini,
    whose batchEmbedContents takes at most 100: a 400 naming ``input`` and the limit, Gemini never called
    (its own 400 would have ended the route); 100 texts are served."""
    running, urls = await start(fake, sidecar)
    texts = [f"text {n}" for n in range(101)]
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.embeddings.create(model="embed-gemini", input=texts)
        assert "'input': Gemini embeds at most 100 texts in one call, 101 given" in info.value.message
        assert await running.fake_requests(urls["gemini"]) == []
        served = await client.embeddings.create(model="embed-gemini", input=texts[:100])
    assert len(served.data) == 100
