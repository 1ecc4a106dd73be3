"""The fake provider answers a body with a field of the wrong JSON type as a real provider does: a 400
in its dialect naming the field, never aiohttp's bare 500 ("Server got itself in trouble"), which the
sidecar passed through to a same-dialect caller as an upstream 500."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from .conftest import Start, base_url

HI = [{"role": "user", "content": "hi"}]
CASES = [
    ("/v1/chat/completions", {"model": "m", "messages": HI, "tools": 42}, "tools"),
    ("/v1/messages", {"model": "m", "max_tokens": 5, "messages": HI, "tools": 42}, "tools"),
    ("/v1beta/models/m:generateContent", {"contents": [{"role": "user", "parts": 42}]}, "contents[0].parts"),
    ("/v1beta/models/m:generateContent", {"contents": [{"parts": [{"text": "x"}]}], "toolConfig": "x"}, "toolConfig"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{c[0].split('/')[-1]}-{c[2]}" for c in CASES])
async def test_a_field_of_the_wrong_type_is_a_400_naming_it(
    fake: Start, path: str, body: dict[str, Any], field: str
) -> None:
    """The 400 is in the dialect's error shape and names the field and the type it must have."""
    server = await fake()
    async with aiohttp.ClientSession() as session, session.post(base_url(server) + path, json=body) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert f"Invalid request body: {field}: must be" in error["message"]
