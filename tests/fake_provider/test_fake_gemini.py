"""The Gemini dialect, driven by the official google-genai SDK (and raw HTTP for the stream framings)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from google.genai import errors, types

from sidecar.sse import SSEParser

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "city": types.Schema(type=types.Type.STRING),
            "days": types.Schema(type=types.Type.INTEGER),
            "metric": types.Schema(type=types.Type.BOOLEAN),
        },
        required=["city", "days", "metric"],
    ),
)
NO_AUTO_CALLS = types.AutomaticFunctionCallingConfig(disable=True)
REQUEST = {"contents": [{"role": "user", "parts": [{"text": "one two three"}]}]}


async def test_generate_content_echo(fake, gemini_for):
    """generateContent echoes the last user text with finishReason STOP, usage, modelVersion, responseId."""
    client = gemini_for(await fake())
    result = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hello gemini")
    assert result.text == "hello gemini"
    assert result.candidates is not None
    assert result.candidates[0].finish_reason == types.FinishReason.STOP
    assert result.model_version == "gemini-2.5-flash"
    assert result.response_id
    assert result.usage_metadata is not None
    assert result.usage_metadata.candidates_token_count == 3
    assert result.usage_metadata.cached_content_token_count == 0


async def test_stream_usage_in_last_fragment(fake, gemini_for):
    """streamGenerateContent fragments join to the reply and only the last one carries usageMetadata."""
    client = gemini_for(await fake())
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="a b c d")
    chunks = [chunk async for chunk in stream]
    assert "".join(chunk.text or "" for chunk in chunks) == "a b c d"
    assert [chunk.usage_metadata is not None for chunk in chunks] == [False, False, False, True]


async def test_stream_wire_framings(fake):
    """With alt=sse each event is a JSON fragment; without it the fragments form one JSON array."""
    server = await fake()
    url = server.make_url("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    async with aiohttp.ClientSession() as session:
        async with session.post(url.with_query(alt="sse"), json=REQUEST) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = SSEParser().feed(await response.read())
        async with session.post(url, json=REQUEST) as response:
            array = orjson.loads(await response.read())
    fragments = [orjson.loads(event.data) for event in events]
    assert [fragment["candidates"] for fragment in fragments] == [fragment["candidates"] for fragment in array]
    assert len(fragments) == 3
    assert fragments[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_function_call(fake, gemini_for):
    """``fake:tool`` answers a functionCall part with example arguments."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])], automatic_function_calling=NO_AUTO_CALLS
    )
    result = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="fake:tool", config=config)
    calls = result.function_calls or []
    assert [(call.name, call.args) for call in calls] == [("get_weather", {"city": "test", "days": 1, "metric": True})]


async def test_function_call_from_a_json_schema_declaration(fake, gemini_for):
    """A declaration with ``parameters_json_schema`` (google-genai sends it in snake case; Gemini reads both
    spellings) gets example arguments from that schema, not an empty object."""
    client = gemini_for(await fake())
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    declaration = types.FunctionDeclaration(name="get_weather", parameters_json_schema=schema)
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])], automatic_function_calling=NO_AUTO_CALLS
    )
    result = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="fake:tool", config=config)
    assert [(call.name, call.args) for call in result.function_calls or []] == [("get_weather", {"city": "test"})]


async def test_forced_call_then_function_response(fake, gemini_for):
    """Mode ANY forces a call; a following functionResponse turn gets a text reply."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY)
        ),
        automatic_function_calling=NO_AUTO_CALLS,
    )
    forced = await client.aio.models.generate_content(model="m", contents="weather?", config=config)
    assert forced.function_calls
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[types.Part(function_call=forced.function_calls[0])]),
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"sky": "clear"})],
        ),
    ]
    answer = await client.aio.models.generate_content(model="m", contents=contents, config=config)
    assert answer.text == 'Tool result received: {"sky":"clear"}'


async def test_count_tokens(fake, gemini_for):
    """countTokens estimates ~4 characters per token."""
    client = gemini_for(await fake())
    counted = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="abcdefghi")
    assert counted.total_tokens == 3


async def test_embeddings(fake, gemini_for):
    """embed_content answers one deterministic vector per input with the requested dimensionality."""
    client = gemini_for(await fake())
    config = types.EmbedContentConfig(output_dimensionality=16)
    first = await client.aio.models.embed_content(model="text-embedding-004", contents=["a", "b"], config=config)
    again = await client.aio.models.embed_content(model="text-embedding-004", contents=["a"], config=config)
    assert first.embeddings is not None
    assert again.embeddings is not None
    assert [len(item.values or []) for item in first.embeddings] == [16, 16]
    assert first.embeddings[0].values == again.embeddings[0].values


async def test_a_batch_of_more_than_100_embeddings_is_refused_as_gemini_does(fake, gemini_for):
    """batchEmbedContents takes at most 100 requests: 101 get Gemini's 400 and its message; 100 are served."""
    client = gemini_for(await fake())
    config = types.EmbedContentConfig(output_dimensionality=4)
    texts = [f"text {n}" for n in range(101)]
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.embed_content(model="text-embedding-004", contents=texts, config=config)
    assert info.value.code == 400
    assert "at most 100 requests can be in one batch" in (info.value.message or "")
    served = await client.aio.models.embed_content(model="text-embedding-004", contents=texts[:100], config=config)
    assert len(served.embeddings or []) == 100


async def test_embed_content_and_v1_prefix(fake):
    """:embedContent answers one vector and Gemini paths also work under /v1/."""
    server = await fake()
    body = {"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 4}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/v1/models/text-embedding-004:embedContent"), json=body) as response:
            embedded = await response.json()
        async with session.post(server.make_url("/v1/models/g:generateContent"), json=REQUEST) as response:
            generated = await response.json()
    assert len(embedded["embedding"]["values"]) == 4
    assert generated["candidates"][0]["content"]["parts"][0]["text"] == "one two three"


async def test_unknown_method_is_gemini_404(fake):
    """An unknown model method answers 404 in Gemini's google.rpc.Status shape."""
    server = await fake()
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1beta/models/m:frobnicate"), json={}) as response,
    ):
        body = await response.json()
    assert response.status == 404
    assert body["error"]["status"] == "NOT_FOUND"


async def test_invalid_request_is_400(fake):
    """A request without contents is rejected with 400 INVALID_ARGUMENT."""
    server = await fake()
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1beta/models/m:generateContent"), json={}) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"


CALL_TURN = types.Content(
    role="model", parts=[types.Part.from_function_call(name="get_weather", args={"city": "Oslo"})]
)
RESULT_TURN = types.Content(
    role="user", parts=[types.Part.from_function_response(name="get_weather", response={"result": "sunny"})]
)


async def test_a_conversation_opened_by_a_function_call_is_refused_as_gemini_does(fake, gemini_for):
    """Gemini's 400 ``INVALID_ARGUMENT`` for a model function call that no user turn precedes (an agent's
    history without a user turn: google-gemini/gemini-cli#11814); after a user turn it is answered."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model="m", contents=[CALL_TURN, RESULT_TURN], config=config)
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "function call turn comes immediately after a user turn" in (caught.value.message or "")
    asked = types.Content(role="user", parts=[types.Part.from_text(text="weather in Oslo?")])
    answer = await client.aio.models.generate_content(
        model="m", contents=[asked, CALL_TURN, RESULT_TURN], config=config
    )
    assert answer.text


async def test_the_model_contents_in_a_row_are_one_turn(fake, gemini_for):
    """A thought content then a call content (google-genai's streamed chat keeps one content per fragment)
    are one model turn: after a user turn it is answered; opening the conversation, refused."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    thought = types.Content(role="model", parts=[types.Part(text="the user asks", thought=True)])
    asked = types.Content(role="user", parts=[types.Part.from_text(text="weather in Oslo?")])
    answer = await client.aio.models.generate_content(
        model="m", contents=[asked, thought, CALL_TURN, RESULT_TURN], config=config
    )
    assert answer.text
    with pytest.raises(errors.ClientError, match="function call turn comes immediately after a user turn"):
        await client.aio.models.generate_content(model="m", contents=[thought, CALL_TURN, RESULT_TURN], config=config)


async def test_a_conversation_opened_by_a_model_text_turn_is_answered(fake, gemini_for):
    """A model turn of text first (a chatbot's greeting) is taken, as Gemini takes it: google-genai's chat
    sends such a history since Google let chats start with a model turn (python-genai 046fa87d, js-genai
    68115a8c, 2025: they refused it before, "History must start with a user turn.")."""
    server = await fake()
    greeting = types.Content(role="model", parts=[types.Part.from_text(text="Hi! How can I help?")])
    chat = gemini_for(server).aio.chats.create(model="m", history=[greeting])
    answer = await chat.send_message("hello")
    assert answer.text == "hello"
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/_fake/requests")) as response:
        sent = (await response.json())[-1]["json"]
    assert [content["role"] for content in sent["contents"]] == ["model", "user"]


THINKING = types.GenerateContentConfig(
    thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True)
)


async def test_include_thoughts_adds_a_thought_part(fake, gemini_for):
    """``includeThoughts: true`` answers a thought part (``thought: true``) before the text, counted in
    ``thoughtsTokenCount`` and the total; ``response.text`` leaves it out, as Gemini 2.5 does."""
    client = gemini_for(await fake())
    result = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="ping", config=THINKING)
    parts = result.candidates[0].content.parts
    assert [(p.text, p.thought) for p in parts] == [("The user asks: ping", True), ("ping", None)]
    assert result.text == "ping"
    usage = result.usage_metadata
    assert (usage.thoughts_token_count, usage.total_token_count) == (5, usage.prompt_token_count + 1 + 5)


async def test_streamed_thoughts_come_first_in_a_fragment_of_their_own(fake, gemini_for):
    """Streamed, the thought part is the first fragment, the answer's fragments follow, and the last
    fragment's usage counts the thoughts."""
    client = gemini_for(await fake())
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="a b", config=THINKING)
    chunks = [chunk async for chunk in stream]
    parts = [[(p.text, p.thought) for p in c.candidates[0].content.parts] for c in chunks]
    assert parts == [[("The user asks: a b", True)], [("a ", None)], [("b", None)]]
    assert chunks[-1].usage_metadata.thoughts_token_count == 5


async def test_google_genai_lists_and_gets_models(fake, gemini_for):
    """google-genai's ``models.list`` and ``models.get`` (which call ``GET /v1/models``, Gemini's v1 API,
    with ``x-goog-api-key``) get Gemini's model shape, not OpenAI's list, which the SDK read as no model."""
    client = gemini_for(await fake())
    names = [model.name async for model in await client.aio.models.list()]
    assert "models/gemini-2.5-flash" in names
    model = await client.aio.models.get(model="gemini-2.5-flash")
    assert model.name == "models/gemini-2.5-flash"
