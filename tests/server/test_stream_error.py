"""An upstream error event that cannot be decoded, after the first content of a stream, reaches the app
as an error event in its own dialect that says what happened: the upstream sent an error event that
could not be decoded, in a stream answered HTTP 200, and its first bytes, shown safely (quoted and
escaped, the provider key redacted, at most 64 bytes), with the sidecar's code for it. Before wave 36 the
app got the event's raw text as the message, or, for an empty one, only "upstream returned HTTP 502", a
status the upstream never sent. Such an event before the first content fails the attempt, and the
sidecar's own error, when no target is left, says the same (before: only ``stream_error_event``). The
provider is a real HTTP server on loopback sending a hostile stream; the apps are the official SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .lying_answers import EVENTS, Liar, Lie, sse
from .lying_stack import start

SAID = "upstream sent an error event that could not be decoded, in a stream answered HTTP 200"
# HTML with a control character, a terminal escape, the provider key ("sk-x", the stack's) and a
# right-to-left override, longer than what is shown
HOSTILE = b"event: error\ndata: <html>\x01\x1b[31m sk-x \xe2\x80\xae" + b"x" * 80 + b"</html>\n\n"
SHOWN = "its first bytes: '<html>\\x01\\x1b[31m [key redacted by llm-sidecar] \\u202e" + "x" * 18 + "'..."
EMPTY = b"event: error\ndata: \n\n"
FIRST_CONTENT = {"openai": 2, "anthropic": 3, "gemini": 1}  # the events up to the stream's first text


@pytest.fixture
async def stack(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    return await start(aiohttp_server, fake, sidecar)


async def streamed_error(running: RunningSidecar, caller: str, upstream: str, gemini_client: Any) -> tuple[str, Any]:
    """The message of the error the official SDK of ``caller`` raises reading a stream of ``lie-<upstream>``,
    and its code (OpenAI's ``code``, Anthropic's ``type``, Gemini's ``ErrorInfo`` reasons)."""
    said: Any = [{"role": "user", "content": "hello"}]
    model = f"lie-{upstream}"
    if caller == "openai":
        async with openai_client(running) as client:
            with pytest.raises(openai.APIError) as raised:
                async for _ in await client.chat.completions.create(model=model, messages=said, stream=True):
                    pass
        return raised.value.message, raised.value.code
    if caller == "anthropic":
        async with anthropic_client(running) as claude:
            with pytest.raises(anthropic.APIStatusError) as failed:
                async with claude.messages.stream(model=model, max_tokens=50, messages=said) as stream:
                    await stream.get_final_message()
        error = failed.value.body["error"]  # type: ignore[index]
        return error["message"], error["type"]
    with pytest.raises(errors.APIError) as info:
        async for _ in await gemini_client(running.url).aio.models.generate_content_stream(model=model, contents="hi"):
            pass
    details = info.value.details["error"].get("details", [])
    return info.value.message or "", (info.value.code, [d["reason"] for d in details])


CODES = {"openai": "stream_error_event", "anthropic": "api_error", "gemini": (502, ["stream_error_event"])}
PAIRS = [("anthropic", "openai"), ("anthropic", "gemini"), ("openai", "anthropic"), ("gemini", "anthropic")]


@pytest.mark.parametrize(("upstream", "caller"), PAIRS, ids=[f"{u}->{c}" for u, c in PAIRS])
async def test_an_undecodable_error_event_is_told_with_its_first_bytes_shown_safely(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any, upstream: str, caller: str
) -> None:
    """The app's SDK raises with the sidecar's words and code and the event's first 64 bytes escaped: no
    control character, escape or override, no key; before, the raw text was the message."""
    running, liar = stack
    events = [sse(upstream, event) for event in EVENTS[upstream][: FIRST_CONTENT[upstream]]]
    liar.lie = Lie(events=[*events, HOSTILE])
    message, code = await streamed_error(running, caller, upstream, gemini_client)
    assert message == f"{SAID}; {SHOWN}"
    assert code == CODES[caller]


@pytest.mark.parametrize("caller", ["openai", "gemini"])
async def test_an_empty_error_event_is_told_as_empty(
    stack: tuple[RunningSidecar, Liar], gemini_client: Any, caller: str
) -> None:
    """An ``event: error`` with no data is told as such, not as "upstream returned HTTP 502"."""
    running, liar = stack
    events = [sse("anthropic", event) for event in EVENTS["anthropic"][:3]]
    liar.lie = Lie(events=[*events, EMPTY])
    message, code = await streamed_error(running, caller, "anthropic", gemini_client)
    assert (message, code) == (f"{SAID}; the event was empty", CODES[caller])


async def test_an_undecodable_error_event_before_any_content_is_told_in_the_sidecars_error(
    stack: tuple[RunningSidecar, Liar],
) -> None:
    """The stream's first event is such an event and the route has no other target: openai-python's 502
    and the access line's ``attempt_errors`` say what came, its first bytes shown safely."""
    running, liar = stack
    liar.lie = Lie(events=[HOSTILE])
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(
                model="lie-anthropic", messages=[{"role": "user", "content": "hello"}], stream=True
            )
    told = f"stream_error_event ({SAID}; {SHOWN})"
    error = raised.value.body  # the body's error object
    assert (raised.value.status_code, error["message"]) == (502, f"upstream lie-anthropic failed: {told}")  # type: ignore[index]
    (line,) = running.access_lines()
    assert line["attempt_errors"] == [f"lie-anthropic:stream_error_event: {SAID}; {SHOWN}"]
