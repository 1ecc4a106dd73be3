"""The fake model's values for a JSON Schema (``sidecar/fake_provider/examples.py``), read by openai-python's
structured-output helpers as a provider's structured output would be."""

from __future__ import annotations

from typing import Any, Literal

import openai
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    qty: int


class Order(BaseModel):
    main: Item
    note: str | None
    kind: Literal["a", "b"]


async def test_a_nested_model_s_refs_are_followed(fake: Any, openai_for: Any) -> None:
    """A pydantic model holding another (``$ref`` into ``$defs``) and an optional field (``anyOf`` with
    null) parses from the fake's JSON and tool arguments, as from OpenAI's (a ``$ref`` was filled "test")."""
    client = openai_for(await fake())
    expected = Order(main=Item(name="test", qty=1), note="test", kind="a")
    reply = await client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "Order."}], response_format=Order
    )
    assert reply.choices[0].message.parsed == expected
    called = await client.chat.completions.parse(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Order. fake:tool"}],
        tools=[openai.pydantic_function_tool(Order)],
    )
    assert called.choices[0].message.tool_calls[0].function.parsed_arguments == expected  # type: ignore[index]
