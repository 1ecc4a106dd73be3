"""An upstream event that is not JSON after the first content of a same-dialect stream (an event cut
short, a line of text) ends the app's stream with an error event in its dialect, which its SDK raises as
an API error, and the access line says ``stream_error`` ``malformed_response``; before 2026-12-05 the
relay passed such an event on as it came and the SDK failed with a JSON decode error. SSE comments and
unknown events that are JSON still pass as they came. A fake provider's ``malformed`` fault (all three
dialects) and a raw upstream write the lies (each list item one upstream write, one read for the
sidecar). Not covered by default, as documented: a broken event followed in the same read by a whole one,
in a read the relay forwards unparsed (nothing in it to count or end the stream), and an event that
begins and ends as a JSON object but breaks inside (``defaults.streams.validate_events`` covers both:
test_stream_validate_events.py)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google.genai import errors

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory
from .openai_streams import END, FIRST, access_line, data, openai_sidecar, openai_text
from .three_dialects import start

TEXT = "one two three four five six seven eight nine ten"
FAULT = {"x-fake-fault": "malformed=5"}
LIES = {
    "a cut event": [FIRST, b'data: {"choices":[\n\n', END],
    "a line of text": [FIRST, b"data: hello\n\n", END],
    "a line of text after a whole event in one read": [FIRST, data({"content": "two "}) + b"data: hello\n\n", END],
    "a cut event, CRLF": [FIRST, data({"content": "two "}).replace(b"\n", b"\r\n") + b'data: {"a\r\n\r\n', END],
}


@pytest.mark.parametrize("reads", LIES.values(), ids=LIES.keys())
async def test_an_openai_app_gets_an_api_error_at_an_event_that_is_not_json(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes]
) -> None:
    """openai-python raises ``APIError`` (``malformed_response``), not ``json.JSONDecodeError``, after
    the text before the broken event."""
    running = await openai_sidecar(raw_upstream, sidecar, reads)
    with pytest.raises(openai.APIError, match="malformed_response"):
        await openai_text(running)


async def test_an_event_that_is_not_json_is_recorded_as_a_stream_error(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The access line says ``outcome`` ``stream_error``, ``stream_error`` ``malformed_response``."""
    running = await openai_sidecar(raw_upstream, sidecar, LIES["a line of text"])
    with pytest.raises(openai.APIError):
        await openai_text(running)
    line = access_line(running)
    assert (line["status"], line["outcome"], line["stream_error"]) == (200, "stream_error", "malformed_response")


async def test_comments_and_unknown_json_events_pass_as_they_came(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A keep-alive comment, an event of a kind the sidecar does not know and a JSON value that is no
    object ending in ``}`` as a line of its own reach the app as the upstream wrote them; the stream
    ends cleanly."""
    unknown = b'event: thing\ndata: {"object": "something.new"}\n\n'
    reads = [FIRST, b": keep-alive\n\n", unknown, data({"content": "two "}) + b": ping\n\n" + unknown, END]
    running = await openai_sidecar(raw_upstream, sidecar, reads)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(running.url + "/v1/chat/completions", json=body) as got:
        streamed = await got.read()
    assert streamed.count(unknown) == 2 and b": keep-alive\n\n" in streamed and b": ping\n\n" in streamed
    assert streamed.endswith(b"data: [DONE]\n\n") and b"error" not in streamed
    assert access_line(running)["outcome"] == "ok"


async def test_a_good_stream_reads_whole(raw_upstream: UpstreamFactory, sidecar: SidecarFactory) -> None:
    """Events of every shape the check lets pass unparsed (a JSON object with spaces after it, several
    in one read) reach openai-python whole."""
    spaced = data({"content": "two "}).replace(b"}\n\n", b"}  \n\n")
    reads = [FIRST, spaced, data({"content": "three "}) + data({"content": "four"}), END]
    running = await openai_sidecar(raw_upstream, sidecar, reads)
    assert "".join(await openai_text(running)) == "one two three four"
    assert json.loads(spaced[6:])  # the spaced event is JSON all the same


async def test_an_openai_app_of_the_fake_gets_an_api_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """openai-python raises ``APIError`` at the fake's broken sixth event, after the text before it."""
    running, _ = await start(fake, sidecar)
    got: list[str] = []
    async with openai_client(running) as client:
        with pytest.raises(openai.APIError, match="malformed_response"):
            stream = await client.chat.completions.create(
                model="to-openai", messages=[{"role": "user", "content": TEXT}], stream=True, extra_headers=FAULT
            )
            async for chunk in stream:
                got += [c.delta.content or "" for c in chunk.choices]
    assert "".join(got) == "one two three four "
    assert access_line(running)["stream_error"] == "malformed_response"


async def test_an_anthropic_app_gets_an_api_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The Anthropic SDK's stream helper raises ``APIStatusError``, not ``json.JSONDecodeError``."""
    running, _ = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIStatusError, match="malformed_response"):
            async with client.messages.stream(
                model="to-anthropic", max_tokens=100, messages=[{"role": "user", "content": TEXT}], extra_headers=FAULT
            ) as stream:
                await stream.get_final_message()
    assert access_line(running)["stream_error"] == "malformed_response"


async def test_a_gemini_app_gets_an_api_error(fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any) -> None:
    """google-genai raises ``ServerError``, not ``UnknownApiResponseError``, after the text before it."""
    running, _ = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    config: dict[str, Any] = {"http_options": {"headers": FAULT}}
    got: list[str] = []
    with pytest.raises(errors.ServerError, match="malformed_response"):
        async for chunk in await models.generate_content_stream(model="to-gemini", contents=TEXT, config=config):
            got.append(chunk.text or "")
    assert "".join(got) == "one two three four five "
    assert access_line(running)["stream_error"] == "malformed_response"
