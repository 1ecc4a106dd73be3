"""What the fake model says (``sidecar/fake_provider/conversation.py``), as the providers do: when JSON is
asked and no truth grades it, a JSON document of the asked schema, as structured output always parses, so
the SDKs' structured-output helpers work against the fake (they raised on the echoed prompt); a text that
holds a stop sequence ends before it (the fake ignored stop sequences); forbidden parallel calls are one."""

from __future__ import annotations

from typing import Any

import orjson
from google.genai import types
from pydantic import BaseModel


class Label(BaseModel):
    label: str
    score: int


async def test_openai_parse_gets_the_schema_s_document(fake: Any, openai_for: Any) -> None:
    """openai-python's ``chat.completions.parse`` with a pydantic model parses the fake's answer (required
    properties filled as tool arguments are: strings ``test``, numbers ``1``)."""
    client = openai_for(await fake())
    reply = await client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "Label this."}], response_format=Label
    )
    assert reply.choices[0].message.parsed == Label(label="test", score=1)


async def test_openai_json_object_answers_an_object(fake: Any, openai_for: Any) -> None:
    """``response_format: json_object`` (no schema) answers a JSON object, not the echoed prompt."""
    client = openai_for(await fake())
    reply = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Some JSON."}], response_format={"type": "json_object"}
    )
    assert orjson.loads(reply.choices[0].message.content or "") == {}


async def test_gemini_response_schema_is_parsed(fake: Any, gemini_for: Any) -> None:
    """google-genai's ``response_schema`` with a pydantic model fills ``response.parsed`` from the fake's
    answer, streamed text joined the same."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Label)
    reply = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Label this.", config=config)
    assert reply.parsed == Label(label="test", score=1)
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="m", contents="x", config=config)]
    assert Label.model_validate_json("".join(c.text or "" for c in chunks)) == Label(label="test", score=1)


async def test_anthropic_output_format_answers_the_schema_s_document(fake: Any, anthropic_for: Any) -> None:
    """An Anthropic ``output_config.format`` json_schema answers a document of the schema as its text."""
    client = anthropic_for(await fake())
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    reply = await client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "Label this."}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    assert orjson.loads(reply.content[0].text) == {"label": "test"}  # type: ignore[union-attr]


TEXT = "alpha beta END gamma"


async def test_openai_stop_ends_the_text_before_the_sequence(fake: Any, openai_for: Any) -> None:
    """OpenAI ``stop`` (a string or a list) ends the echoed text before the sequence, finish ``stop``,
    whole and streamed."""
    client = openai_for(await fake())
    reply = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": TEXT}], stop=["zzz", "END"]
    )
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("alpha beta ", "stop")
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": TEXT}], stop="END", stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "alpha beta "


async def test_anthropic_stop_sequence_is_its_stop_reason(fake: Any, anthropic_for: Any) -> None:
    """Anthropic ``stop_sequences`` ends the text before the sequence with stop reason ``stop_sequence``
    and the sequence in ``stop_sequence``, whole and in the stream's ``message_delta``."""
    client = anthropic_for(await fake())
    request: Any = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": TEXT}],
        "stop_sequences": ["END"],
    }
    reply = await client.messages.create(**request)
    assert (reply.content[0].text, reply.stop_reason, reply.stop_sequence) == ("alpha beta ", "stop_sequence", "END")  # type: ignore[union-attr]
    async with client.messages.stream(**request) as stream:
        final = await stream.get_final_message()
    assert (final.content[0].text, final.stop_reason, final.stop_sequence) == ("alpha beta ", "stop_sequence", "END")  # type: ignore[union-attr]


async def test_gemini_stop_sequences_end_the_text(fake: Any, gemini_for: Any) -> None:
    """Gemini ``stopSequences`` ends the text before the sequence, finish reason ``STOP``."""
    client = gemini_for(await fake())
    config = types.GenerateContentConfig(stop_sequences=["END"])
    reply = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=TEXT, config=config)
    assert (reply.text, reply.candidates[0].finish_reason) == ("alpha beta ", types.FinishReason.STOP)  # type: ignore[index]


async def test_forbidden_parallel_calls_make_one_call(fake: Any, openai_for: Any, anthropic_for: Any) -> None:
    """``fake:tools2`` makes one call, not two, when the request forbids parallel calls (OpenAI
    ``parallel_tool_calls: false``, Anthropic ``tool_choice.disable_parallel_tool_use``), as the providers
    answer it (the fake made two)."""
    server = await fake()
    schema = {"type": "object", "properties": {}}
    oai = await openai_for(server).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "fake:tools2"}],
        tools=[{"type": "function", "function": {"name": "a", "parameters": schema}}],
        parallel_tool_calls=False,
    )
    assert len(oai.choices[0].message.tool_calls or []) == 1
    ant = await anthropic_for(server).messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "fake:tools2"}],
        tools=[{"name": "a", "input_schema": schema}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [block.type for block in ant.content] == ["tool_use"]
