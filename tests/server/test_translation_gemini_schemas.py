"""Gemini ``Schema``s as google-genai sends them, translated to JSON Schema: the SDK writes a schema's
keywords in snake case (``any_of``, ``max_items``, ``property_ordering``...), which Gemini reads as
their camelCase forms; they reached OpenAI and Anthropic as they were, a union's branches with Gemini's
upper-case types (``INTEGER``), which are no JSON Schema."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from google.genai import types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import start


class Reading(pydantic.BaseModel):
    city: int | str
    tags: list[str] = pydantic.Field(max_length=3)
    note: str | None = None


EXPECTED = {
    "properties": {
        "city": {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "City"},
        "tags": {"items": {"type": "string"}, "maxItems": 3, "title": "Tags", "type": "array"},
        "note": {"title": "Note", "type": ["string", "null"]},
    },
    "required": ["city", "tags"],
    "title": "Reading",
    "type": "object",
}


def sent_schema(body: dict[str, Any]) -> Any:
    """The response schema of a request as OpenAI or Anthropic received it."""
    if "response_format" in body:
        return body["response_format"]["json_schema"]["schema"]
    return next(t["input_schema"] for t in body["tools"] if t["name"] == "sidecar_json_response")


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_pydantic_response_schema_reaches_the_target_as_json_schema(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """google-genai's ``response_schema`` from a pydantic model with a union and a length bound: the
    target gets ``anyOf`` with lower-case types, ``maxItems``, and no ``propertyOrdering``."""
    running, urls = await start(fake, sidecar)
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Reading)
    await gemini_client(running.url).aio.models.generate_content(model=target, contents="hello", config=config)
    sent = (await running.fake_requests(urls[target.removeprefix("to-")]))[-1]["json"]
    assert sent_schema(sent) == EXPECTED
