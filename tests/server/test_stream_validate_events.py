"""``defaults.streams.validate_events``: with it, every event of a same-dialect stream is parsed, so that an
event that begins and ends as a JSON object but breaks inside, or a broken event followed by a whole one
in the same upstream read, ends the app's stream with an error event its SDK raises as an API error.
Without it (the default) such events pass as they came after the first content, and openai-python fails
with a JSON decode error (docs/translation.md: the check costs about 20 % per event). A stream someone
listens to (a caching route) has every event parsed anyway and is checked either way. A raw upstream
writes the events, each list item one write (one read for the sidecar)."""

from __future__ import annotations

import json
from typing import Any

import openai
import orjson
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, paced
from .cache_helpers import cache_policy

CHUNK = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def data(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def openai_text(running: RunningSidecar, model: str = "m") -> list[str]:
    """The text openai-python reads from a streamed chat (temperature 0), until it ends or raises."""
    got: list[str] = []
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True, temperature=0
        )
        async for chunk in stream:
            got += [c.delta.content or "" for c in chunk.choices]
    return got


FIRST = data({"role": "assistant", "content": "one "})
END = data({}, finish="stop") + b"data: [DONE]\n\n"

BROKEN = {
    "an object broken inside": [FIRST, b'data: {"choices":[}\n\n', END],
    "a broken event, then a whole one in the same read": [FIRST, b'data: {"choi\n\n' + data({"content": "two"}), END],
    "a broken string, then a whole event in the same read": [FIRST, b'data: {"a": "b\n\n' + data({"a": "}"}), END],
    "two objects in one event": [FIRST, b'data: {"a": 1},{"b": 2}\n\n', END],
}


async def openai_sidecar(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes], defaults: str = ""
) -> RunningSidecar:
    """The sidecar in front of an OpenAI upstream writing ``reads`` (model ``m``), ``defaults`` the
    policy's ``defaults:`` block (YAML flow text), if any."""
    upstream = await raw_upstream(paced(reads))
    policy = (
        "version: 1\n" + (f"defaults: {defaults}\n" if defaults else "") + "providers:\n"
        f"  p: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: up}\n"
    )
    return await sidecar(policy, env={"KEY": "sk-x"})


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
