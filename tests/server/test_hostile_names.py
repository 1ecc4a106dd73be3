"""What a caller wrote comes back in a refusal or in ``x-sidecar-dropped-params`` bounded and in JSON's
words: a name is cut at ``NAME_CHARS`` characters, a value that is not a string is named by its JSON
type, a translation lists at most ``MAX_DROPPED`` names and the header at most ``DROPPED_HEADER_CHARS``
characters. Each test is a minimal example tests/server/test_fuzz_requests.py found."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sidecar.server.answer_headers import DROPPED_HEADER_CHARS
from sidecar.translate.options import MAX_DROPPED, NAME_CHARS

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .three_dialects import start as start_three

DROP = "  - {name: drop, match: {model: drop}, target: to-anthropic, unsupported_params: drop}\n"


@pytest.fixture
async def stack(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    running, _urls = await start_three(fake, sidecar, DROP)
    return running


async def chat(running: RunningSidecar, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        return response.status, dict(response.headers), await response.json()


def user(*content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [*content, {"type": "text", "text": "hi"}]}]


async def test_a_dropped_part_type_of_9000_characters_is_an_answer_the_app_can_read(stack: RunningSidecar) -> None:
    """The part's type was the dropped name whole: a header line past aiohttp's 8,190 bytes, so the app's
    client refused an answer the provider had billed. Now the name is cut and the answer read."""
    status, headers, _ = await chat(stack, {"model": "drop", "messages": user({"type": "x" * 9000})})
    assert status == 200
    assert headers["x-sidecar-dropped-params"] == "content." + "x" * (NAME_CHARS - 3 - len("content.")) + "..."


async def test_thousands_of_unknown_fields_make_a_bounded_dropped_list(stack: RunningSidecar) -> None:
    """3,000 unknown fields on a drop route: the header lists the first ``MAX_DROPPED`` and ``...``, within
    ``DROPPED_HEADER_CHARS`` (it listed all 3,000: 35 KB, refused by the app's client)."""
    body = {"model": "drop", "messages": user(), **{f"field_{i}": i for i in range(3000)}}
    status, headers, _ = await chat(stack, body)
    assert status == 200
    items = headers["x-sidecar-dropped-params"].split(",")
    assert items == [f"field_{i}" for i in range(MAX_DROPPED)] + ["..."]
    assert len(headers["x-sidecar-dropped-params"]) <= DROPPED_HEADER_CHARS


async def test_a_dropped_header_of_long_encoded_names_stops_at_its_bound(stack: RunningSidecar) -> None:
    """Names of non-ASCII characters are percent-encoded (nine bytes for ``é\\n``): the header stops at
    ``DROPPED_HEADER_CHARS`` on an item boundary and says ``...``."""
    body = {"model": "drop", "messages": user(), **{f"{i}" + "é\n" * 40: i for i in range(20)}}
    status, headers, _ = await chat(stack, body)
    assert status == 200
    dropped = headers["x-sidecar-dropped-params"]
    assert len(dropped) <= DROPPED_HEADER_CHARS and dropped.endswith(",...")


async def test_a_refused_part_type_that_is_null_is_named_by_its_json_type(stack: RunningSidecar) -> None:
    """``{"type": null}`` was refused as ``parameter 'content.None'``: Python's word. Now ``content.<null>``."""
    status, _, body = await chat(stack, {"model": "to-anthropic", "messages": user({"type": None})})
    assert status == 400
    assert body["error"]["param"] == "content.<null>"
    assert "None" not in body["error"]["message"]


@pytest.mark.parametrize(
    ("role", "said"),
    [(None, "null"), (["x"] * 5000, "an array"), ({"a": 1}, "an object"), ("x" * 9000, "'" + "x" * 61 + "...'")],
    ids=["null", "a long array", "an object", "a long string"],
)
async def test_a_message_role_of_another_type_is_named_by_its_path_and_json_type(
    stack: RunningSidecar, role: Any, said: str
) -> None:
    """The refusal quoted the role's Python repr whole (``unknown message role ['x', 'x', ...]``, 25 KB);
    now it names ``messages[0].role``, the roles allowed and what was sent, in JSON's words, cut."""
    messages = [{"role": role, "content": "hi"}]
    status, _, body = await chat(stack, {"model": "to-anthropic", "messages": messages})
    assert status == 400
    message = body["error"]["message"]
    assert (
        f"messages[0].role: must be 'system', 'developer', 'user', 'assistant', 'tool' or 'function', not {said}"
        in (message)
    )
    assert len(message) < 400


async def test_an_anthropic_message_role_of_another_type_is_named_by_its_path(stack: RunningSidecar) -> None:
    """The Anthropic translator's refusal, likewise: ``messages[1].role: must be 'user' or 'assistant',
    not an object``."""
    body = {"model": "to-openai", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": {}}]}
    headers = {"anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.url}/v1/messages", json=body, headers=headers) as response,
    ):
        assert response.status == 400
        error = (await response.json())["error"]
    assert "messages[1].role: must be 'user' or 'assistant', not an object" in error["message"]
