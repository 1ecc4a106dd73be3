"""``defaults.streams.validate_events``: with it, every event of a same-dialect stream is parsed, so that an
event that begins and ends as a JSON object but breaks inside, or a broken event followed by a whole one
in the same upstream read, ends the app's stream with an error event its SDK raises as an API error.
Without it (the default) such events pass as they came after the first content, and openai-python fails
with a JSON decode error (docs/translation.md: the check costs about 20 % per event). A stream someone
listens to (a caching route) has every event parsed anyway and is checked either way. A raw upstream
writes the events, each list item one write (one read for the sidecar)."""

from __future__ import annotations

import json

import openai
import pytest

from ..conftest import SidecarFactory
from ..upstream.raw import UpstreamFactory, paced
from .cache_helpers import cache_policy
from .openai_streams import END, FIRST, access_line, data, openai_sidecar, openai_text

BROKEN = {
    "an object broken inside": [FIRST, b'data: {"choices":[}\n\n', END],
    "a broken event, then a whole one in the same read": [FIRST, b'data: {"choi\n\n' + data({"content": "two"}), END],
    "a broken string, then a whole event in the same read": [FIRST, b'data: {"a": "b\n\n' + data({"a": "}"}), END],
    "two objects in one event": [FIRST, b'data: {"a": 1},{"b": 2}\n\n', END],
}


VALIDATE = "{streams: {validate_events: true}}"


@pytest.mark.parametrize("reads", BROKEN.values(), ids=BROKEN.keys())
async def test_with_validate_events_an_openai_app_gets_an_api_error(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes]
) -> None:
    """openai-python raises ``APIError`` (``malformed_response``); the access line says ``stream_error``."""
    running = await openai_sidecar(raw_upstream, sidecar, reads, VALIDATE)
    with pytest.raises(openai.APIError, match="malformed_response"):
        await openai_text(running)
    line = access_line(running)
    assert (line["outcome"], line["stream_error"]) == ("stream_error", "malformed_response")


@pytest.mark.parametrize("reads", BROKEN.values(), ids=BROKEN.keys())
async def test_without_validate_events_such_events_pass_as_they_came(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes]
) -> None:
    """The default: the event reaches the app as the upstream wrote it, and openai-python fails on it
    with a JSON decode error, not an API error."""
    running = await openai_sidecar(raw_upstream, sidecar, reads)
    with pytest.raises(json.JSONDecodeError):
        await openai_text(running)


async def test_with_validate_events_a_good_stream_reads_whole(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Every event parsed, a good stream (several events in a read, a comment, a usage chunk) reaches
    openai-python whole and ends cleanly."""
    usage = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":null}\n\n'
    reads = [FIRST, data({"content": "two "}) + b": ping\n\n" + data({"content": "three"}), usage, END]
    running = await openai_sidecar(raw_upstream, sidecar, reads, VALIDATE)
    assert "".join(await openai_text(running)) == "one two three"
    assert access_line(running)["outcome"] == "ok"


@pytest.mark.parametrize("reads", BROKEN.values(), ids=BROKEN.keys())
async def test_a_stream_a_cache_listens_to_is_checked_without_validate_events(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes]
) -> None:
    """On a caching route every event is parsed for the cache: one that is not JSON ends the app's stream
    with an API error, and nothing is cached (the next request reaches the upstream again)."""
    upstream = await raw_upstream(paced(reads))
    running = await sidecar(cache_policy([upstream.base]))
    for _ in range(2):  # the second one would be a hit, and read whole, had the first been cached
        with pytest.raises(openai.APIError, match="malformed_response"):
            await openai_text(running, "cached")
