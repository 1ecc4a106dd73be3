"""The passthrough on the wire (docs/api.md, "Passthrough"): what crosses to the provider and back byte for
byte, what is left out, the limits, the failures the sidecar answers itself, and what it records. The
provider is ``forward_upstream.Recorder``, a real server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
import pytest
from yarl import URL

from ..conftest import SidecarFactory
from ..listening import free_port
from .forward_upstream import DOWNLOAD_BYTES, KEYS, Recorder, Stack, policy_text

MULTIPART = b"--b\r\ncontent-disposition: form-data; name=file\r\n\r\n\x00\x01\xff\r\n--b--\r\n"


async def test_method_query_and_body_cross_byte_for_byte_and_the_key_is_replaced(stack: Stack) -> None:
    """The provider gets the method, path, query and body as sent, the sidecar's key in the app's place,
    and none of the hop-by-hop headers, the app's cookie or the sidecar's own controls."""
    running, recorder = await stack()
    headers = {
        "authorization": "Bearer app-key",
        "content-type": "multipart/form-data; boundary=b",
        "connection": "keep-alive, x-hop",
        "x-hop": "1",
        "te": "trailers",
        "cookie": "session=1",
        "x-sidecar-app": "billing",
        "openai-beta": "assistants=v2",
    }
    async with aiohttp.ClientSession() as session:
        url = URL(f"{running.url}/v1/files?purpose=batch&after=f%2F1", encoded=True)
        async with session.put(url, data=MULTIPART, headers=headers) as answer:
            assert answer.status == 200
    (received,) = recorder.received
    assert (received.method, received.path, received.query) == ("PUT", "/v1/files", "purpose=batch&after=f%2F1")
    assert received.body == MULTIPART and received.headers["content-length"] == str(len(MULTIPART))
    assert received.headers["authorization"] == "Bearer sk-sidecar-openai"
    assert received.headers["content-type"] == "multipart/form-data; boundary=b"
    assert received.headers["openai-beta"] == "assistants=v2"
    assert not {"x-hop", "te", "cookie", "x-sidecar-app"} & set(received.headers)


async def test_the_answer_keeps_the_providers_headers_but_not_its_cookies_or_account(stack: Stack) -> None:
    """The answer carries the provider's own headers and request id with the sidecar's ``x-sidecar-*``;
    ``Set-Cookie`` and the key's organization (``openai-organization``) stay behind."""
    running, _ = await stack()
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/moderations", json={}) as answer:
        assert answer.status == 200
        headers = answer.headers
    assert headers["x-request-id"] == "req_up" and headers["x-up"] == "/v1/moderations"
    assert headers["x-sidecar-provider"] == "openai" and headers["x-sidecar-attempts"] == "1"
    assert "x-sidecar-request-id" in headers and "x-sidecar-policy-version" in headers
    assert "set-cookie" not in headers and "openai-organization" not in headers


async def test_without_the_block_an_unserved_path_is_a_404_naming_the_setting(stack: Stack) -> None:
    """Off by default: a policy without ``passthrough`` answers 404, and the message says how to forward."""
    running, recorder = await stack(passthrough="")
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files") as answer:
        body = await answer.json()
    assert answer.status == 404 and body["error"]["code"] == "unknown_path"
    assert "passthrough" in body["error"]["message"] and recorder.received == []


async def test_a_path_under_no_listed_prefix_is_a_404(stack: Stack) -> None:
    """Only the listed prefixes are forwarded: ``/v1/batches`` is not, and the provider hears nothing."""
    running, recorder = await stack()
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/batches") as answer:
        assert answer.status == 404
    assert recorder.received == []


async def test_a_path_the_sidecar_serves_is_never_forwarded(stack: Stack) -> None:
    """Under ``/v1/`` (every path), ``POST /v1/chat/completions`` keeps its meaning: a body that is not JSON
    is the sidecar's own 400, and the provider hears nothing."""
    running, recorder = await stack(passthrough="  - {dialect: openai, provider: openai, paths: [/v1/]}\n")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", data=b"not json") as answer,
    ):
        body = await answer.json()
    assert answer.status == 400 and body["error"]["code"] == "invalid_json"
    assert recorder.received == []


async def test_a_gemini_method_no_prefix_covers_keeps_the_gemini_routes_404(stack: Stack) -> None:
    """``models/m:predict`` under no listed Gemini prefix: the Gemini route's own 404 ``unknown_path``, in
    Gemini's shape, as without a passthrough; the provider hears nothing."""
    running, recorder = await stack()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1beta/models/m:predict", json={"instances": []}, headers={"x-goog-api-key": "k"}
        ) as answer,
    ):
        body = await answer.json()
    assert answer.status == 404 and body["error"]["status"] == "NOT_FOUND"
    assert "unknown Gemini method" in body["error"]["message"] and recorder.received == []


async def test_a_body_announced_over_the_ceiling_is_refused_before_it_is_read(stack: Stack) -> None:
    """``max_body_bytes``: a ``Content-Length`` over it is a 413 ``body_too_large`` in the app's dialect."""
    running, recorder = await stack(
        passthrough="  - {dialect: openai, provider: openai, paths: [/v1/files], max_body_bytes: 100}\n"
    )
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/files", data=b"x" * 101) as answer:
        body = await answer.json()
    assert answer.status == 413 and body["error"]["code"] == "body_too_large"
    assert recorder.received == []


async def test_a_chunked_body_growing_over_the_ceiling_is_a_413(stack: Stack) -> None:
    """A body without ``Content-Length`` is counted as it goes: past ``max_body_bytes``, the call ends, 413."""
    running, _ = await stack(
        passthrough="  - {dialect: openai, provider: openai, paths: [/v1/files], max_body_bytes: 100000}\n"
    )

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 10000

    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/files", data=chunks()) as answer:
        body = await answer.json()
    assert answer.status == 413 and body["error"]["code"] == "body_too_large"


async def test_an_expect_continue_upload_over_the_sidecars_own_limit_is_forwarded(stack: Stack) -> None:
    """``SIDECAR_MAX_BODY_BYTES`` bounds interpreted bodies only: a passthrough upload above it, announced
    with ``Expect: 100-continue``, gets its ``100`` and reaches the provider whole."""
    running, recorder = await stack(max_body_bytes=1000)
    data = bytes(range(256)) * 100
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/files", data=data, expect100=True) as answer,
    ):
        assert answer.status == 200
    assert recorder.received[-1].body == data


async def test_a_streamed_answer_reaches_the_app_event_by_event(stack: Stack) -> None:
    """Server-sent events are relayed unbuffered: the app reads the first event while the provider waits
    to send the last (it sends it only once the app has the first)."""
    running, recorder = await stack()
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/sse") as answer:
        async with asyncio.timeout(10):  # a buffered relay would wait for the last event: this fails it
            first = await answer.content.readuntil(b"\n\n")
        recorder.go_on.set()
        rest = await answer.read()
    assert (first, rest) == (b'data: {"n": 1}\n\n', b"data: [DONE]\n\n")
    assert answer.headers["content-type"] == "text/event-stream"


async def test_a_redirect_is_relayed_not_followed(stack: Stack) -> None:
    """A provider's 307 reaches the app as it is, its ``Location`` untouched: the app's client decides."""
    running, recorder = await stack()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.url}/v1/redirect", allow_redirects=False) as answer,
    ):
        assert answer.status == 307 and answer.headers["location"] == f"{recorder.base}/v1/elsewhere"
    assert len(recorder.received) == 1


async def test_a_provider_that_breaks_off_mid_answer_cuts_the_apps_connection(stack: Stack) -> None:
    """The head was relayed: the app's client sees the body break off (never a clean end), and the access
    line says ``stream_error``."""
    running, _ = await stack()
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/reset") as answer:
        assert answer.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await answer.read()
    await asyncio.sleep(0)
    line = running.access_lines()[-1]
    assert (line["operation"], line["outcome"], line["error_type"]) == ("passthrough", "stream_error", "reset")


async def test_a_client_that_leaves_mid_upload_cancels_the_providers_call(stack: Stack) -> None:
    """An app that closes its connection halfway through a body: the provider's connection is closed too,
    its request never complete."""
    running, recorder = await stack()
    host, port = running.url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /v1/files HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 1_000_000)
    await writer.drain()
    writer.close()
    await asyncio.wait_for(recorder.cut.wait(), 30)
    assert recorder.received == []  # its handler never got the whole request


async def test_a_provider_that_refuses_connections_is_a_502_after_one_more_try(sidecar: SidecarFactory) -> None:
    """A connection that cannot be made is tried once more, then answered 502 ``connect_error`` in the app's
    dialect, ``x-sidecar-attempts: 2``."""
    running = await sidecar(policy_text(f"http://127.0.0.1:{free_port()}", None), env=KEYS)
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files") as answer:
        body = await answer.json()
        assert answer.headers["x-sidecar-attempts"] == "2"
    assert answer.status == 502 and body["error"]["code"] == "connect_error"


async def test_the_access_line_and_span_say_passthrough(stack: Stack) -> None:
    """The access line: ``operation: passthrough``, the path without its query, the provider, bytes both
    ways, the calling app; the request's SERVER span is named by the prefix."""
    running, _ = await stack()
    data = b"y" * 5000
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/files?purpose=batch", data=data, headers={"x-sidecar-app": "billing"}
        ) as answer,
    ):
        out = len(await answer.read())
    await asyncio.sleep(0)
    line = running.access_lines()[-1]
    assert (line["operation"], line["path"], line["provider"], line["status"]) == (
        "passthrough",
        "/v1/files",
        "openai",
        200,
    )
    assert (line["bytes_in"], line["bytes_out"], line["app"]) == (len(data), out, "billing")
    spans = [span for span in running.spans.get_finished_spans() if span.name == "POST /v1/files"]
    assert spans and spans[0].attributes is not None and spans[0].attributes["http.response.status_code"] == 200


async def test_a_large_download_arrives_whole(stack: Stack) -> None:
    """A download of several MB is relayed as it arrives and arrives whole."""
    running, _ = await stack()
    size = 8 * 1024 * 1024 + 7
    digest, expected = hashlib.sha256(), hashlib.sha256((DOWNLOAD_BYTES * (size // len(DOWNLOAD_BYTES) + 1))[:size])
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.url}/v1/files/f-1/content?size={size}") as answer,
    ):
        async for chunk in answer.content.iter_any():
            digest.update(chunk)
    assert digest.digest() == expected.digest()


async def test_a_provider_passing_the_apps_key_gets_the_apps_key(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """``api_key: {passthrough: true}``: the app's own key goes on, as for chat; without one, a 401
    ``missing_api_key`` and nothing is sent."""
    recorder = Recorder()
    base = str((await aiohttp_server(recorder.app())).make_url("")).rstrip("/")
    text = policy_text(base).replace("api_key: {env: OPENAI_KEY}", "api_key: {passthrough: true}")
    running = await sidecar(text, env=KEYS)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{running.url}/v1/files", headers={"authorization": "Bearer sk-app"}) as answer:
            assert answer.status == 200
        async with session.get(f"{running.url}/v1/files") as answer:
            body = await answer.json()
    assert answer.status == 401 and body["error"]["code"] == "missing_api_key"
    assert [each.headers["authorization"] for each in recorder.received] == ["Bearer sk-app"]


async def test_a_gemini_apps_query_key_is_not_forwarded(stack: Stack) -> None:
    """A Gemini app's ``?key=`` is its credential: left out of the URL, the provider's key in its header."""
    running, recorder = await stack()
    url = f"{running.url}/v1beta/files/f-1?key=app-key&pageSize=2"
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 200
    (received,) = recorder.received
    assert (received.query, received.headers["x-goog-api-key"]) == ("pageSize=2", "g-sidecar")


async def test_a_body_that_stops_coming_ends_the_call_after_idle_s(stack: Stack) -> None:
    """An upload that stalls longer than the provider's ``idle_s``: 504 ``timeout_idle`` in the app's dialect,
    and the provider's connection is closed."""
    running, recorder = await stack()
    policy = running.policy_path.read_text().replace(
        "api_key: {env: OPENAI_KEY}", "api_key: {env: OPENAI_KEY}, timeouts: {idle_s: 0.3}"
    )
    await running.reload(policy)
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /v1/files HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n" + b"x" * 10)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    body = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert head.startswith(b"HTTP/1.1 504") and b'"code":"timeout_idle"' in body
    await asyncio.wait_for(recorder.cut.wait(), 30)
