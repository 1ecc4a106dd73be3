"""A provider key quoted in an error event streamed after a 200 never reaches the app: the key the call
sent is redacted there as it is in non-2xx error bodies (``attempt.without_key``)."""

from __future__ import annotations

import aiohttp
import pytest

from ..conftest import SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory, chunked

ENV_KEY = "sk-PLANTED-stream-7c1e0f9a2b3d"
_KEY_HEADERS = (b"authorization:", b"x-api-key:", b"x-goog-api-key:")

# Per upstream dialect: the content event that opens the stream (the caller has it before the error, when
# "after" is asked), the error event quoting the key (KEY), and the provider's base path.
_STREAMS = {
    "openai": (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n',
        b'data: {"error": {"message": "Incorrect API key provided: KEY. Check your key.", "type": "server_error"}}\n\n',
        "/v1",
    ),
    "anthropic": (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
        b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
        b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n',
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
        b'"message": "Incorrect API key provided: KEY. Check your key."}}\n\n',
        "",
    ),
    "gemini": (
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}]}\n\n',
        b'data: {"error": {"code": 500, "message": "Incorrect API key provided: KEY. Check your key.", '
        b'"status": "INTERNAL"}}\n\n',
        "",
    ),
}
_HI = [{"role": "user", "content": "hi"}]
_CALLERS = {
    "openai": ("/v1/chat/completions", {"model": "one", "stream": True, "messages": _HI}),
    "anthropic": ("/v1/messages", {"model": "one", "stream": True, "max_tokens": 5, "messages": _HI}),
    "gemini": ("/v1beta/models/one:streamGenerateContent?alt=sse", {"contents": [{"parts": [{"text": "hi"}]}]}),
}


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini"])
async def test_a_streamed_error_event_quoting_the_key_does_not_hand_it_to_the_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, dialect: str, caller: str, when: str
) -> None:
    """An upstream that answers 200 and then streams an error event quoting the key it was sent (before
    or after the first content): what the app gets, the upstream's event as is or translated, or the
    sidecar's own error, carries the rest of the message but not the sidecar's key."""
    opening, error, base = _STREAMS[dialect]

    async def echo(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            line = next(x for x in request.head.split(b"\r\n") if x.lower().startswith(_KEY_HEADERS))
            sent = line.split(b":", 1)[1].strip().removeprefix(b"Bearer ")
            events = (opening if when == "after" else b"") + error.replace(b"KEY", sent)
            await conn.send(chunked(events, headers="content-type: text/event-stream\r\n"))

    upstream = await raw_upstream(echo)
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: {dialect}, base_url: '{upstream.base}{base}', api_key: {{env: PLANTED}}}}\n"
        "models:\n  m: {provider: p, model: m, max_output_tokens: 64}\n"
        "routes:\n  - {name: one, match: {model: one}, target: m}\n"
    )
    running = await sidecar(policy, env={"PLANTED": ENV_KEY})
    path, body = _CALLERS[caller]
    async with aiohttp.ClientSession() as session, session.post(running.url + path, json=body) as answer:
        text = await answer.read()
    assert upstream.requests, "the upstream was called"
    assert b"Check your key." in text or when == "before", text
    assert ENV_KEY.encode() not in text, text
    logs = "\n".join(map(str, running.log_lines()))
    assert ENV_KEY not in logs
