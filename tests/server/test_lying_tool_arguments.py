"""Tool-call arguments that are not JSON, streamed by an OpenAI-compatible provider to an Anthropic app.
The Anthropic SDK parses a tool block's input (partial JSON) after every ``input_json_delta`` and raised a
bare ``ValueError`` mid-stream ("Unable to parse tool parameter JSON"), ending the app's stream with an
exception no API error handler catches. Now arguments that do not begin a JSON object reach the app as
``{"_raw": "<text>"}``, as the unstreamed answer gives them, and arguments that begin one and then break
it end the stream with an error event the SDK raises as an API error. The provider is a real HTTP server
on loopback, the app the official Anthropic SDK, streaming."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client
from .lying_answers import Liar, Lie, _openai_chunk, sse
from .lying_stack import start

TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


def tool_stream(*fragments: str) -> list[bytes]:
    """An OpenAI stream of one ``get_weather`` call whose arguments come as ``fragments``."""
    start = {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    chunks = [_openai_chunk({"role": "assistant", "content": None}), _openai_chunk({"tool_calls": [start]})]
    chunks += [_openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in fragments]
    chunks.append(_openai_chunk({}, "tool_calls"))
    return [sse("openai", chunk) for chunk in chunks] + [b"data: [DONE]\n\n"]


async def streamed_input(running: RunningSidecar, model: str = "lie-openai") -> object:
    """The tool input the Anthropic SDK's stream helper gathers, from ``model``."""
    said = [{"role": "user", "content": "weather in Paris?"}]
    async with (
        anthropic_client(running) as client,
        client.messages.stream(model=model, max_tokens=50, messages=said, tools=TOOLS) as stream,  # type: ignore[arg-type]
    ):
        message = await stream.get_final_message()
    return [block.input for block in message.content if block.type == "tool_use"]


@pytest.mark.parametrize("fragments", [("{not json",), ("not ", "json"), ("[1, ", "2]"), (" ", "oops")])
async def test_arguments_that_begin_no_json_object_arrive_as_raw(
    stack: tuple[RunningSidecar, Liar], fragments: tuple[str, ...]
) -> None:
    """Arguments that do not begin a JSON object reach the app whole as ``{"_raw": text}``."""
    running, liar = stack
    liar.lie = Lie(events=tool_stream(*fragments))
    assert await streamed_input(running) == [{"_raw": "".join(fragments)}]


async def test_arguments_that_are_json_still_stream_fragment_by_fragment(stack: tuple[RunningSidecar, Liar]) -> None:
    """Valid arguments, in fragments that split a string and a literal, arrive as the object they make."""
    running, liar = stack
    liar.lie = Lie(events=tool_stream(' {"ci', 'ty": "Par', 'is", "metric": tr', "ue}"))
    assert await streamed_input(running) == [{"city": "Paris", "metric": True}]


async def test_arguments_that_break_after_their_start_end_the_stream_with_an_api_error(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """A JSON object begun and then broken: the SDK raises an API error naming the tool, not ValueError."""
    running, liar = stack
    liar.lie = Lie(events=tool_stream('{"city": ', "Paris}"))
    with pytest.raises(anthropic.APIError, match="get_weather"):
        await streamed_input(running)


async def test_arguments_that_break_after_their_start_are_recorded_as_a_stream_error(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """The stream the sidecar ended with its error event is no success: the access line says
    ``stream_error`` (``malformed_response``, naming the tool), as an upstream's mid-stream error."""
    running, liar = stack
    liar.lie = Lie(events=tool_stream('{"city": ', "Paris}"))
    with pytest.raises(anthropic.APIError):
        await streamed_input(running)
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["outcome"], line["stream_error"]) == ("stream_error", "malformed_response")
    assert "get_weather" in line["attempt_errors"][0]


async def test_a_stream_ended_by_broken_arguments_is_not_cached(stack: tuple[RunningSidecar, Liar]) -> None:
    """On a caching route the broken stream is not stored: the same request asked again goes to the
    provider again (and ends with the same API error)."""
    running, liar = stack
    liar.lie = Lie(events=tool_stream('{"city": ', "Paris}"))
    for _ in range(2):
        with pytest.raises(anthropic.APIError, match="get_weather"):
            await streamed_input(running, "cache-openai")
    assert liar.calls == 2
