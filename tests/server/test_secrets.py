"""A planted provider key never shows in logs, /status, /metrics, error bodies or spans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.web import StreamResponse

from sidecar.server.exchange import Exchange
from sidecar.server.pipeline import Handler

from ..configmap import configmap_write
from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory, chunked, response
from .raw import read_response

ENV_KEY = "sk-PLANTED-env-5f0c1d2e3a4b"
FILE_KEY = "sk-PLANTED-file-9a8b7c6d5e4f"
APP_KEY = "sk-PLANTED-app-1122334455"


@pytest.mark.parametrize("capture_content", [False, True])
async def test_planted_keys_never_leak(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path, capture_content: bool
) -> None:
    """Keys from env, file and the app stay out of every output, content capture on or off."""
    key_file = tmp_path / "key"
    key_file.write_text(FILE_KEY + "\n")
    url = await fake("f")
    policy = f"""version: 1
providers:
  a: {{dialect: fake, speaks: openai, base_url: "{url}", api_key: {{env: PLANTED}}}}
  b: {{dialect: fake, speaks: anthropic, base_url: "{url}", api_key: {{file: "{key_file}"}}}}
  c: {{dialect: fake, speaks: openai, base_url: "http://127.0.0.1:9", api_key: {{env: MISSING}}}}
models:
  ma: {{provider: a, model: x}}
  mb: {{provider: b, model: y}}
  mc: {{provider: c, model: z}}
routes:
  - {{match: {{model: chain}}, target: [mc, ma, mb]}}
"""
    running = await sidecar(policy, env={"PLANTED": ENV_KEY}, capture_content=capture_content)
    outputs: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        for model, fault in (("chain", ""), ("chain", "f:status=401"), ("mb", ""), ("chain", "status=503")):
            headers = {"authorization": f"Bearer {APP_KEY}", "x-api-key": APP_KEY}
            if fault:
                headers["x-fake-fault"] = fault
            body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as response:
                outputs.append(await response.read())
                outputs.append(str(dict(response.headers)).encode())
        for path in ("/status", "/metrics"):
            async with session.get(running.url + path) as response:
                outputs.append(await response.read())
    outputs.append(running.logs.getvalue())
    for span in running.spans.get_finished_spans():
        outputs.append(str(span.attributes).encode() + str([e.attributes for e in span.events]).encode())
    text = b"\n".join(outputs)
    for secret in (ENV_KEY, FILE_KEY, APP_KEY):
        assert secret.encode() not in text, f"{secret} leaked"
    assert b"MISSING is not set" in running.logs.getvalue() or b"credentials" in text


async def keys_sent_around(
    fake: FakeFactory, sidecar: SidecarFactory, key_file: Path, rotate: Callable[[], None]
) -> tuple[RunningSidecar, list[str | None]]:
    """A sidecar whose provider key is ``key_file``: one call, ``rotate()``, a few reload ticks (0.1 s
    here), another call; the Authorization headers the provider saw."""
    url = await fake("f")
    policy = f"""version: 1
providers:
  a: {{kind: fake, speaks: openai, base_url: "{url}", api_key: {{file: "{key_file}"}}}}
models:
  m: {{provider: a, model: x}}
"""
    running = await sidecar(policy)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200
        rotate()
        await asyncio.sleep(0.5)
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200
    return running, [r["headers"].get("authorization") for r in await running.fake_requests(url)]


async def test_key_file_rotation_is_picked_up(fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path) -> None:
    """Rewriting the key file changes the key sent upstream without a restart."""
    key_file = tmp_path / "key"
    key_file.write_text("first-key")
    _, seen = await keys_sent_around(fake, sidecar, key_file, lambda: key_file.write_text("second-key-longer"))
    assert seen[-2:] == ["Bearer first-key", "Bearer second-key-longer"]


FEATURE_ROUTES = """  - {name: vote, match: {model: vote}, ensemble: {members: [ma, mb], strategy: judge,
      judge: {target: ma}}}
  - {name: shadowed, match: {model: shadowed}, target: [mb], shadow: {candidates: [ma], sample: 1}}
  - {name: gated, match: {model: gated}, target: [ma, mb], gates: {regex: {pattern: nope}, on_fail: reask}}
  - {name: cached, match: {model: cached}, target: [ma], cache: {enabled: true, cacheable: always}}
"""


@pytest.mark.parametrize("capture_content", [False, True])
async def test_planted_keys_never_leak_from_the_features(
    fake: FakeFactory, sidecar: SidecarFactory, capture_content: bool
) -> None:
    """An ensemble with a judge, a shadow, a gate's re-ask, the cache and a budget scoped by caller key,
    over providers with an env key and a passthrough one: neither key shows in any answer, header,
    /status, /metrics, log line or span, content capture on or off."""
    url = await fake("f")
    policy = f"""version: 1
providers:
  a: {{dialect: fake, speaks: openai, base_url: "{url}", api_key: {{env: PLANTED}}}}
  b: {{dialect: fake, speaks: anthropic, base_url: "{url}", api_key: {{passthrough: true}}}}
models:
  ma: {{provider: a, model: x, price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
  mb: {{provider: b, model: y, price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
routes:
{FEATURE_ROUTES}budgets:
  headers: true
  limits:
    - {{name: per-key, measure: requests, amount: 100, window: minute, scope: {{by: key}}, action: warn}}
"""
    running = await sidecar(policy, env={"PLANTED": ENV_KEY}, capture_content=capture_content)
    outputs: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        for model in ("vote", "shadowed", "gated", "cached", "cached"):
            for stream in (False, True):
                headers = {"authorization": f"Bearer {APP_KEY}"}
                body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
                async with session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as answer:
                    outputs.append(await answer.read())
                    outputs.append(str(dict(answer.headers)).encode())
        await running.shadow_calls_ended()  # they end after the answers: their spans, logs and counts
        for path in ("/status", "/metrics"):
            async with session.get(running.url + path) as answer:
                outputs.append(await answer.read())
    assert len(await running.fake_requests(url)) > 10  # the features made their calls
    outputs.append(running.logs.getvalue())
    for span in running.spans.get_finished_spans():
        outputs.append(str(span.attributes).encode() + str([e.attributes for e in span.events]).encode())
    text = b"\n".join(outputs)
    for secret in (ENV_KEY, APP_KEY):
        assert secret.encode() not in text, f"{secret} leaked"


async def keyed_openai_sidecar(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, serve: Callable[[ServerConn], Any], routes: str = ""
) -> RunningSidecar:
    """A sidecar whose model ``m`` is an OpenAI provider served by ``serve`` (a raw upstream), its key
    ``ENV_KEY`` from the environment; ``routes``: the policy's routes block, if any."""
    upstream = await raw_upstream(serve)
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{kind: openai, base_url: '{upstream.base}/v1', api_key: {{env: PLANTED}}}}\n"
        "models:\n  m: {provider: p, model: m}\n" + routes
    )
    return await sidecar(policy, env={"PLANTED": ENV_KEY})


@pytest.mark.parametrize("status", ["401 Unauthorized", "400 Bad Request", "429 Too Many Requests"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_a_provider_echoing_the_key_in_its_error_does_not_hand_it_to_the_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, status: str, path: str
) -> None:
    """A provider whose error message quotes the key it was sent (some OpenAI-compatible servers do):
    the error the app gets, as is or translated, carries the rest of the message but not the sidecar's
    key."""

    async def echo(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            sent = next(line for line in request.head.split(b"\r\n") if line.lower().startswith(b"authorization:"))
            message = b"Incorrect API key provided: " + sent.split(b":", 1)[1].strip() + b". Check your key."
            body = b'{"error": {"message": "%s", "type": "invalid_request_error"}}' % message
            await conn.send(response(body, status, "content-type: application/json\r\n"))

    routes = "routes:\n  - {name: one, match: {model: one}, target: m}\n"
    running = await keyed_openai_sidecar(raw_upstream, sidecar, echo, routes)
    body = {"model": "one", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(running.url + path, json=body) as answer:
        text = await answer.read()
    assert answer.status == int(status.split()[0])
    assert b"Incorrect API key provided" in text and b"Check your key." in text
    assert ENV_KEY.encode() not in text


async def test_a_secret_volume_swap_rotates_the_key_once(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """The kubelet's ..data swap of a Secret volume (same path, same size, new file; Secrets update as
    ConfigMaps do) is picked up: the
    next call sends the new key, and key_file_reloaded is logged once with the path, never the key."""
    configmap_write(tmp_path, {"openai-api-key": b"key-AAAA"}, "2026_12_04_10_00_00.1")
    key_file = tmp_path / "openai-api-key"
    running, seen = await keys_sent_around(
        fake,
        sidecar,
        key_file,
        lambda: configmap_write(tmp_path, {"openai-api-key": b"key-BBBB"}, "2026_12_04_10_01_00.2"),
    )
    assert seen[-2:] == ["Bearer key-AAAA", "Bearer key-BBBB"]
    reloaded = [line for line in running.log_lines() if line.get("event") == "key_file_reloaded"]
    assert [line["path"] for line in reloaded] == [str(key_file)]
    assert b"key-BBBB" not in running.logs.getvalue()


async def test_a_passthrough_key_whose_bytes_are_not_utf8_is_redacted_from_an_error(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """On a passthrough provider, an app key with bytes that are not UTF-8 (a raw socket): it cannot be
    forwarded as sent (the HTTP client dropped those bytes, and looking for the key in the provider's
    error raised: a 500), so the target is skipped as ``credentials`` without calling the provider: a 401
    (the app's key is unusable) naming it, and nothing of the key in the answer."""

    async def echo(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            sent = next(line for line in request.head.split(b"\r\n") if line.lower().startswith(b"authorization:"))
            body = b'{"error": {"message": "bad key %s", "type": "invalid_request_error"}}' % sent.split(b" ")[-1]
            await conn.send(response(body, "401 Unauthorized", "content-type: application/json\r\n"))

    upstream = await raw_upstream(echo)
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{passthrough: true}}}}\n"
        "models:\n  m: {provider: p, model: m}\n"
    )
    running = await sidecar(policy)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    host, port = running.url.removeprefix("http://").split(":")
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(body)}\r\nconnection: close\r\nauthorization: Bearer sk-\xff\xfe-secret\r\n\r\n"
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode("latin-1") + body)
        status, _, text = await read_response(reader)
    finally:
        writer.close()
    assert status == 401 and b"credentials" in text and b"not UTF-8" in text and b"secret" not in text
    assert upstream.requests == []


async def test_an_upstream_error_escaping_as_a_bug_logs_no_key_from_its_request(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A bug that lets aiohttp's ``ClientResponseError`` escape to the handler (here a stage that calls a
    provider with the key and raises for its 401): the ``internal_error`` line names the error and its
    message, not its repr, which holds the request's headers and so the key (``RequestInfo(...,
    headers=<CIMultiDictProxy('authorization': 'Bearer sk-...')>)``)."""
    url = await fake("f")

    async def escaping(exchange: Exchange, call_next: Handler) -> StreamResponse:
        async with aiohttp.ClientSession() as session:
            headers = {"authorization": f"Bearer {ENV_KEY}", "x-fake-fault": "status=401"}
            async with session.post(f"{url}/v1/chat/completions", json={}, headers=headers) as answer:
                answer.raise_for_status()
        return await call_next(exchange)

    running = await sidecar(
        f"version: 1\nproviders:\n  a: {{kind: fake, base_url: '{url}'}}\nmodels:\n  m: {{provider: a, model: x}}\n",
        stages=[escaping],
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    chat = f"{running.url}/v1/chat/completions"
    async with aiohttp.ClientSession() as session, session.post(chat, json=body) as answer:
        assert answer.status == 500
        text = await answer.read()
    [line] = [line for line in running.log_lines() if line["event"] == "internal_error"]
    assert line["error"].startswith("ClientResponseError: 401, message=")
    assert ENV_KEY.encode() not in running.logs.getvalue() + text


_ANSWERS = {
    "error": (b'{"error": {"message": "bad key", "type": "invalid_request_error"}}', "401 Unauthorized"),
    "answer": (
        b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, '
        b'"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}',
        "200 OK",
    ),
    "stream": (
        b'data: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": '
        b'[{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n',
        "",
    ),
}


@pytest.mark.parametrize("kind", list(_ANSWERS))
async def test_a_provider_echoing_the_key_in_a_response_header_does_not_hand_it_to_the_app(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, kind: str
) -> None:
    """A provider that quotes the key it was sent in its response headers (``WWW-Authenticate``'s
    ``error_description``, a debugging echo), on an error, an answer or a stream: the headers the app
    gets keep the rest of each value, with the key redacted as in bodies."""
    body, status = _ANSWERS[kind]

    async def echo(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            sent = next(line for line in request.head.split(b"\r\n") if line.lower().startswith(b"authorization:"))
            token = sent.split(b":", 1)[1].strip().decode()
            headers = f'www-authenticate: Bearer error="invalid_token", error_description="{token}"\r\n'
            headers += f"x-echo: you sent {token}\r\n"
            if kind == "stream":
                await conn.send(chunked(body, headers=headers + "content-type: text/event-stream\r\n"))
            else:
                await conn.send(response(body, status, headers + "content-type: application/json\r\n"))

    running = await keyed_openai_sidecar(raw_upstream, sidecar, echo)
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": kind == "stream"}
    chat = f"{running.url}/v1/chat/completions"
    async with aiohttp.ClientSession() as session, session.post(chat, json=request) as answer:
        await answer.read()
    assert answer.headers["x-echo"] == "you sent Bearer [key redacted by llm-sidecar]"
    assert ENV_KEY not in str(list(answer.headers.items()))
