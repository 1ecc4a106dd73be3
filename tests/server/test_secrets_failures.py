"""Every way an attempt can fail, with a secret planted in every place one can be: none comes back out.

Keys from the environment, a key file and the app (``authorization``, ``x-api-key``, ``x-goog-api-key``
and Gemini's ``?key=``, passed through), and a proxy URL's password; upstreams that answer 401 quoting
every credential header and the URL they got (OpenAI, Azure, Anthropic and Gemini kinds), redirect with
the key in ``Location``, refuse the connection, do not resolve, do not speak TLS, or sit behind a proxy
that refuses the tunnel quoting the request it was shown. Each is asked by the three dialects' callers,
and every answer body and header, ``/status``, ``/metrics``, ``/v1/models``, log line and span (attributes,
events, resource) is searched for every secret. The same for the Redis stores' passwords, refused or
unreachable."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ..conftest import FakeFactory, SidecarFactory
from ..listening import closed_port
from ..redis_server import RedisServer

ENV_KEY = "sk-PLANTED-fail-env-0a1b2c3d4e"
FILE_KEY = "sk-PLANTED-fail-file-5f6a7b8c9d"
APP_BEARER = "sk-PLANTED-fail-bearer-1e2f3a4b"
APP_X_KEY = "sk-PLANTED-fail-xkey-5c6d7e8f"
APP_GOOG = "AIzaPLANTEDfailGoog9a0b1c2d"
APP_QUERY = "AIzaPLANTEDfailQuery3e4f5a6b"
PROXY_PASSWORD = "PLANTED-fail-proxy-7c8d9e0f"
REDIS_PASSWORD = "PLANTED-redis-right-2b3c4d5e"
WRONG_PASSWORD = "PLANTED-redis-wrong-6f7a8b9c"
SECRETS = (ENV_KEY, FILE_KEY, APP_BEARER, APP_X_KEY, APP_GOOG, APP_QUERY, PROXY_PASSWORD)
_CREDENTIALS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization")


async def echo(request: web.Request) -> web.Response:
    """A provider that quotes what it was sent: every credential header and the whole URL."""
    quoted = " ".join(request.headers.get(name, "") for name in _CREDENTIALS) + f" at {request.url}"
    if "/redirect/" in request.path:
        return web.Response(status=302, headers={"location": f"https://elsewhere.invalid/?key={quoted}"})
    message = f"Incorrect API key provided: {quoted}"
    body = {"error": {"message": message, "type": "invalid_request_error", "code": 401, "status": "UNAUTHENTICATED"}}
    return web.json_response(body, status=401, headers={"x-echo": "yes"})


async def refusing_proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An egress proxy that refuses every tunnel, quoting the request head it was shown."""
    head = await reader.readuntil(b"\r\n\r\n")
    body = b"denied: " + head
    writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


def policy(echo_url: str, key_file: Path, closed: int) -> str:
    port = echo_url.rsplit(":", 1)[1]
    quick = "timeouts: {connect_s: 2, first_byte_s: 5, total_s: 10}"
    providers = {
        "openai": f"kind: openai, base_url: '{echo_url}/v1', api_key: {{env: PLANTED}}",
        "azure": f"kind: azure-openai, api_version: '2024-10-21', base_url: '{echo_url}', api_key: {{env: PLANTED}}",
        "anthropic": f"kind: anthropic, base_url: '{echo_url}', api_key: {{file: '{key_file}'}}",
        "gemini": f"kind: gemini, base_url: '{echo_url}', api_key: {{passthrough: true}}",
        "redirect": f"kind: openai, base_url: '{echo_url}/redirect/v1', api_key: {{env: PLANTED}}",
        "refused": f"kind: openai, base_url: 'http://127.0.0.1:{closed}/v1', api_key: {{env: PLANTED}}",
        "unresolved": f"kind: openai, base_url: 'http://no-such-host.invalid/v1', api_key: {{env: PLANTED}}, {quick}",
        "not_tls": f"kind: openai, base_url: 'https://127.0.0.1:{port}/v1', api_key: {{env: PLANTED}}, {quick}",
        "tunnel": f"kind: anthropic, base_url: 'https://localhost:{port}', api_key: {{file: '{key_file}'}}",
    }
    lines = ["version: 1", "providers:"]
    lines += [f"  {name}: {{{spec}}}" for name, spec in providers.items()]
    lines += ["models:"] + [f"  {name}: {{provider: {name}, model: up-{name}}}" for name in providers]
    chain = ", ".join(name for name in providers if name not in ("openai", "azure", "anthropic", "gemini"))
    lines += ["routes:", f"  - {{name: chain, match: {{model: chain}}, target: [{chain}, gemini]}}"]
    return "\n".join(lines) + "\n"


def requests_for(model: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    messages = [{"role": "user", "content": "hi"}]
    app = {"authorization": f"Bearer {APP_BEARER}", "x-api-key": APP_X_KEY}
    return [
        ("/v1/chat/completions", {"model": model, "messages": messages}, app),
        ("/v1/chat/completions", {"model": model, "messages": messages, "stream": True}, app),
        ("/v1/messages", {"model": model, "max_tokens": 5, "messages": messages}, app),
        (
            f"/v1beta/models/{model}:streamGenerateContent?alt=sse&key={APP_QUERY}",
            {"contents": [{"parts": [{"text": "hi"}]}]},
            {"x-goog-api-key": APP_GOOG},
        ),
        (f"/v1beta/models/{model}:generateContent?key={APP_QUERY}", {"contents": [{"parts": [{"text": "hi"}]}]}, {}),
    ]


async def test_no_failure_of_any_kind_lets_a_planted_secret_out(
    aiohttp_server: Any, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """Every failure kind (a 401 quoting the credentials, a redirect, a refused connection, a name that
    does not resolve, a TLS handshake with a plain HTTP server, a proxy refusing the tunnel) for every
    dialect's caller, content capture on: no planted secret in any answer, /status, /metrics, log or span."""
    upstream = await aiohttp_server(_echo_app())
    echo_url = str(upstream.make_url("")).rstrip("/")
    key_file = tmp_path / "key"
    key_file.write_text(FILE_KEY + "\n")
    proxy = await asyncio.start_server(refusing_proxy, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    env = {
        "PLANTED": ENV_KEY,
        "HTTPS_PROXY": f"http://egress:{PROXY_PASSWORD}@127.0.0.1:{proxy_port}",
        "NO_PROXY": "127.0.0.1",
    }
    outputs: list[bytes] = []
    try:
        with closed_port() as closed:
            running = await sidecar(policy(echo_url, key_file, closed), env=env, capture_content=True)
            statuses = set()
            async with aiohttp.ClientSession() as session:
                for model in (*running.state.holder.policy.models, "chain"):
                    for path, body, headers in requests_for(model):
                        async with session.post(running.url + path, json=body, headers=headers) as answer:
                            outputs.append(await answer.read())
                            outputs.append(str(list(answer.headers.items())).encode())
                            statuses.add(answer.status)
                for path in ("/status", "/metrics", "/v1/models"):
                    async with session.get(running.url + path) as answer:
                        outputs.append(await answer.read())
    finally:
        proxy.close()
        await proxy.wait_closed()
    running.state.access.flush()
    outputs.append(running.logs.getvalue())
    outputs.extend(span.to_json().encode() for span in running.spans.get_finished_spans())
    text = b"\n".join(outputs)
    assert {401, 502} <= statuses and b"Incorrect API key provided" in text  # the echoes reached the app
    log = running.logs.getvalue().decode()
    for outcome in ("http_401", "http_302", "connect_error", "tls_error", "proxy_error"):
        assert outcome in log, f"no attempt failed as {outcome}"
    basic = base64.b64encode(f"egress:{PROXY_PASSWORD}".encode()).decode()
    for secret in (*SECRETS, basic):
        assert secret.encode() not in text, f"{secret} leaked"


def _echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_redis_down_or_refusing_the_password_lets_no_password_out(
    fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """The cache's Redis given a wrong password from a file, the budgets' Redis from the environment and
    then killed: the store failures are logged and counted, and neither the password sent nor the one
    Redis wants shows in an answer, /status, /metrics or the log."""
    server = start_redis("--requirepass", REDIS_PASSWORD)
    password_file = tmp_path / "redis-password"
    password_file.write_text(WRONG_PASSWORD + "\n")
    url = await fake()
    policy = f"""version: 1
providers:
  p: {{kind: fake, speaks: openai, base_url: "{url}"}}
models:
  m: {{provider: p, model: x, price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
routes:
  - {{name: cached, match: {{model: m}}, target: m, cache: {{enabled: true, cacheable: always}}}}
cache:
  redis: {{url: "{server.url}", password: {{file: "{password_file}"}}, timeout_s: 1}}
budgets:
  store: {{url: "{server.url}", password: {{env: BUDGETS_REDIS_PASSWORD}}}}
  limits:
    - {{name: daily, measure: usd, amount: 10, window: day}}
"""
    running = await sidecar(policy, env={"BUDGETS_REDIS_PASSWORD": REDIS_PASSWORD})
    outputs: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        for turn in range(4):
            if turn == 2:
                server.kill()
            body = {"model": "m", "messages": [{"role": "user", "content": f"hi {turn}"}]}
            async with session.post(running.url + "/v1/chat/completions", json=body) as answer:
                assert answer.status == 200
                outputs.append(await answer.read())
        for path in ("/status", "/metrics"):
            async with session.get(running.url + path) as answer:
                outputs.append(await answer.read())
    log = running.logs.getvalue()
    assert b"cache_store_failing" in log and b"AuthenticationError" in log  # the wrong password was tried
    assert b"budget_store_failing" in log  # and the budgets' store went away
    text = b"\n".join([*outputs, log, *(span.to_json().encode() for span in running.spans.get_finished_spans())])
    for secret in (REDIS_PASSWORD, WRONG_PASSWORD):
        assert secret.encode() not in text, f"{secret} leaked"
