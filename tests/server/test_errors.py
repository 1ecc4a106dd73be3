"""Bad input and upstream failures get clear errors in the caller's dialect; nothing crashes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..listening import closed_port
from ..sdk_clients import anthropic_client, openai_client
from .raw import read_response


def one_target(url: str, *, timeouts: str = "") -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("up", url)
        + (f"    timeouts: {timeouts}\n" if timeouts else "")
        + "models:\n  m: {provider: up, model: upstream-m}\n"
        + "routes:\n  - {name: old, match: {model: 'old-*'},"
        + " deny: {message: 'old models are retired', status: 410}}\n"
    )


async def post(url: str, path: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + path, data=data, headers={"content-type": "application/json", **(headers or {})}
        ) as response,
    ):
        return response.status, await response.json()


async def test_malformed_json_is_400_in_openai_shape(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Invalid JSON to an OpenAI path gets 400 with an OpenAI error object."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1/chat/completions", b"{not json")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and "not valid JSON" in body["error"]["message"]


async def test_malformed_json_is_400_in_anthropic_shape(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Invalid JSON to /v1/messages gets Anthropic's error envelope."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1/messages", b"[1,")
    assert status == 400 and body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


async def test_malformed_json_is_400_in_gemini_shape(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Invalid JSON to a Gemini path gets a google.rpc.Status error."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1beta/models/m:generateContent", b"{")
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400


async def test_wrong_type_for_model_is_400_naming_the_field(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A non-string model is refused with param=model, before any upstream call."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1/chat/completions", b'{"model": 42, "messages": []}')
    assert status == 400 and body["error"]["param"] == "model"


async def test_oversized_body_is_413(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A body over the configured limit gets 413 in the caller's dialect."""
    running = await sidecar(one_target(await fake()), max_body_bytes=4096)
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 8000 + b'"}]}'
    status, body = await post(running.url, "/v1/chat/completions", big)
    assert status == 413 and "4096" in body["error"]["message"]


@pytest.mark.parametrize("size", [4096, 4097])
async def test_a_chunked_body_is_held_to_the_limit_whole(fake: FakeFactory, sidecar: SidecarFactory, size: int) -> None:
    """A chunked body (no length announced) that has all come with its head: over the limit it gets 413 in
    the caller's dialect, at the limit it is served."""
    running = await sidecar(one_target(await fake()), max_body_bytes=4096)
    prefix = b'{"model": "m", "messages": [{"role": "user", "content": "'
    body = prefix + b"x" * (size - len(prefix) - 4) + b'"}]}'
    reader, writer = await asyncio.open_connection("127.0.0.1", int(running.url.rsplit(":", 1)[1]))
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    writer.write(head + b"transfer-encoding: chunked\r\n\r\n" + chunks)  # one write: all of it comes at once
    status, _, answer = await read_response(reader)
    writer.close()
    if size > 4096:
        assert status == 413 and "4096" in orjson.loads(answer)["error"]["message"]
    else:
        assert status == 200


async def test_unknown_model_is_404_through_the_sdk(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An unrouted model raises the SDK's NotFoundError with the models served in the message."""
    running = await sidecar(one_target(await fake()))
    client = openai_client(running)
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "models served: m" in str(info.value)
    await client.close()


async def test_an_unrouted_megabyte_model_name_is_quoted_cut_in_the_404(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A model name of a million characters that no route serves: the 404 quotes its first 253 characters
    and ``...``; it quoted the whole megabyte back, in a message apps log."""
    running = await sidecar(one_target(await fake()))
    async with openai_client(running) as client:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.chat.completions.create(model="x" * 1_000_000, messages=[{"role": "user", "content": "hi"}])
    message = raised.value.body["message"]  # type: ignore[index]
    assert message.startswith("no route for model '" + "x" * 253 + "...'; models served: m")


async def test_denied_model_gets_the_policy_message(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A deny route answers with its status and message in the caller's dialect."""
    running = await sidecar(one_target(await fake()))
    client = anthropic_client(running)
    with pytest.raises(anthropic.APIStatusError) as info:
        await client.messages.create(model="old-1", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 410 and "retired" in str(info.value)
    await client.close()


async def test_unknown_path_is_404_in_the_guessed_dialect(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A path no provider serves gets 404; Gemini-looking paths in Gemini's shape."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1/nothing", b"{}")
    assert status == 404 and body["error"]["code"] == "unknown_path"
    status, body = await post(running.url, "/v1beta/models/m:launchRockets", b"{}")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"


async def test_a_gemini_method_not_served_is_a_404_naming_it_the_path_and_passthrough(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``models/m:predict`` (a Gemini method the sidecar does not interpret), over HTTP: Gemini's 404
    ``unknown_path`` whose message names the method, the path and the policy's ``passthrough``, as the
    404 of any path not served says (docs/api.md, "Errors"); it named the path alone."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1beta/models/m:predict", b'{"instances": []}')
    assert (status, body["error"]["status"], body["error"]["details"][0]["reason"]) == (
        404,
        "NOT_FOUND",
        "unknown_path",
    )
    message = body["error"]["message"]
    assert "'predict'" in message and "POST /v1beta/models/m:predict" in message and "passthrough" in message


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/chat/completions", lambda body: body["error"]["code"]),
        ("/v1/messages", lambda body: body["error"]["type"]),
        ("/v1beta/models/m:generateContent", lambda body: body["error"]["details"][0]["reason"]),
    ],
    ids=["openai", "anthropic", "gemini"],
)
async def test_a_compressed_request_body_is_a_415_naming_its_content_encoding(
    fake: FakeFactory, sidecar: SidecarFactory, path: str, shape: Callable[[dict[str, Any]], str]
) -> None:
    """A gzip body (``Content-Encoding: gzip``) is refused 415 in the caller's dialect, naming the coding
    and asking for ``identity``; nothing is called. It was a 400 saying ``str is not valid UTF-8:
    surrogates not allowed``, orjson's words for the compressed bytes."""
    url = await fake()
    running = await sidecar(one_target(url))
    body = gzip.compress(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(running.url + path, data=body, headers={"content-encoding": "gzip"}) as response,
    ):
        status, answer, accepted = response.status, await response.json(), response.headers.get("accept-encoding")
    assert (status, accepted) == (415, "identity")
    assert shape(answer) in ("unsupported_content_encoding", "invalid_request_error")
    message = answer["error"]["message"]
    assert "Content-Encoding: gzip" in message and "uncompressed JSON" in message
    assert await running.fake_requests(url) == []


async def test_a_body_that_is_not_utf8_is_a_400_saying_so(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A body in Latin-1 (``é`` as the byte 0xe9) is a 400 ``invalid_json`` that says the body is not UTF-8
    and where, not orjson's ``str is not valid UTF-8: surrogates not allowed``."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(running.url, "/v1/chat/completions", '{"model": "m", "x": "caf\xe9"}'.encode("latin-1"))
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    assert body["error"]["message"] == "the request body is not UTF-8 (byte 24); JSON must be sent as UTF-8"


async def test_connect_is_a_405_saying_the_sidecar_is_no_proxy_and_the_connection_closes(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An app whose ``HTTPS_PROXY`` names the sidecar sends ``CONNECT api.openai.com:443``: a 405 that says
    to set the SDK's base URL instead, then the connection closes. It was a 404 ``unknown path CONNECT ``
    (an empty path), and the connection stayed open until the keep-alive timeout (75 s), ``Connection:
    close`` or not."""
    running = await sidecar(one_target(await fake()))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(running.url.rsplit(":", 1)[1]))
    writer.write(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nConnection: close\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, headers["allow"]) == (405, "GET, HEAD, POST")
    error = orjson.loads(body)["error"]
    assert error["code"] == "not_a_proxy" and "base URL" in error["message"]
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_connect_failure_is_502(sidecar: SidecarFactory) -> None:
    """An upstream that refuses connections gives 502 with the attempt listed."""
    with closed_port() as port:
        running = await sidecar(one_target(f"http://127.0.0.1:{port}"))
        status, body = await post(running.url, "/v1/chat/completions", b'{"model": "m", "messages": []}')
    assert status == 502
    assert body["error"]["attempts"][0]["outcome"] == "connect_error"


async def test_upstream_timeout_is_504(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An upstream that does not answer within first_byte_s gives 504."""
    url = await fake(latency_ms=3000)
    running = await sidecar(one_target(url, timeouts="{first_byte_s: 0.3}"))
    status, body = await post(running.url, "/v1/chat/completions", b'{"model": "m", "messages": []}')
    assert status == 504 and body["error"]["code"].startswith("timeout")


async def test_upstream_client_error_is_passed_through(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An upstream 4xx (the request's fault) reaches the caller with its status and body."""
    running = await sidecar(one_target(await fake()))
    status, body = await post(
        running.url, "/v1/chat/completions", b'{"model": "m", "messages": []}', {"x-fake-fault": "status=422"}
    )
    assert status == 422 and "error" in body


def test_every_error_code_the_sidecar_answers_is_in_the_api_docs_error_table() -> None:
    """Each ``code`` the package gives its own errors (``RequestFailed``, ``RequestProblem``) is named in
    docs/api.md's "Errors" table, so an app developer can look up any error the sidecar answers."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    codes = set()
    for module in (root / "sidecar").rglob("*.py"):
        if "fake_provider" in module.parts:  # the fake provider's errors imitate the providers'
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("RequestFailed", "RequestProblem"):
                for keyword in node.keywords:
                    if keyword.arg == "code":
                        values = (
                            [keyword.value.body, keyword.value.orelse]
                            if isinstance(keyword.value, ast.IfExp)
                            else [keyword.value]
                        )
                        codes |= {v.value for v in values if isinstance(v, ast.Constant)}
    text = (root / "docs" / "api.md").read_text()
    table = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    assert len(codes) > 15 and sorted(code for code in codes if f"`{code}`" not in table) == []


def test_every_code_the_api_docs_error_table_gives_is_one_the_sidecar_can_answer() -> None:
    """Each code opening a row's last cell of docs/api.md's "Errors" table (`invalid_json`, `invalid_model`,
    `invalid_type`, ...) is a string the package writes (the fake provider aside), or a timeout error type
    ``timeout_<phase>`` of a phase the resilience layer names: the table documents no code that is gone."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(
        module.read_text() for module in (root / "sidecar").rglob("*.py") if "fake_provider" not in module.parts
    )
    table = (root / "docs" / "api.md").read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    shown = [
        code
        for row in table.splitlines()
        if row.startswith("| ") and not row.startswith("| situation")
        for code in re.findall(r"`(\w+)`", re.match(r"(?:`\w+`(?:, )?)*", row.rstrip(" |").split(" | ")[-1]).group())
    ]

    def answered(code: str) -> bool:
        phase = code.removeprefix("timeout_")
        return f'"{code}"' in source or (phase != code and f'"{phase}"' in source)

    assert len(shown) > 20 and [code for code in shown if not answered(code)] == []


def test_the_status_the_api_docs_give_each_error_code_is_the_one_it_is_answered_with() -> None:
    """For each error the package answers with a fixed status and code (``RequestFailed(413, ...,
    code="body_too_large")``), a row of docs/api.md's "Errors" table naming that code gives that status
    (its status cell opens with it), so an app developer matching on status and code finds both."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    answered: set[tuple[int, str, str]] = set()
    for module in (root / "sidecar").rglob("*.py"):
        if "fake_provider" in module.parts:
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("RequestFailed", "RequestProblem"):
                status = node.args[0] if node.args else None
                code = next((k.value for k in node.keywords if k.arg == "code"), None)
                number = status.value if isinstance(status, ast.Constant) else None
                name = code.value if isinstance(code, ast.Constant) else None
                if isinstance(number, int) and isinstance(name, str):
                    answered.add((number, name, f"{module.relative_to(root)}:{node.lineno}"))
    table = (root / "docs" / "api.md").read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = [row.strip(" |").split(" | ") for row in table.splitlines() if row.startswith("| ") and "---" not in row]
    wrong = [
        f"{where}: {status} {code}"
        for status, code, where in sorted(answered)
        if not any(f"`{code}`" in row[-1] and re.match(rf"{status}\b", row[1]) for row in rows)
    ]
    assert len(answered) > 15
    assert wrong == []
