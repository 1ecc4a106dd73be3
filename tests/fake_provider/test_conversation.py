"""What the fake model says when JSON is asked and no truth grades it (``sidecar/fake_provider/conversation.py``):
a JSON document of the asked schema, as a provider's structured output always parses, so the SDKs'
structured-output helpers work against the fake (they raised on the echoed prompt)."""

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
