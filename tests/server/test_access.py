"""The access line: what the request was (app, operation, the headers routes match on) and what it cost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .raw import read_response

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "up",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "cached hello"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 2,
        "total_tokens": 42,
        "prompt_tokens_details": {"cached_tokens": 32},
    },
}


def policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + "models:\n  m: {provider: p, model: up, price: {input_per_mtok: 1, output_per_mtok: 2, "
        + "cached_input_per_mtok: 0.5}}\n"
        + "routes:\n"
        + "  - {name: teams, match: {headers: {x-team: [ops, data], authorization: 'Bearer *'}}, target: m}\n"
        + "  - {name: rest, target: m}\n"
    )


async def completion_server(aiohttp_server: Any) -> str:
    """A provider on loopback answering every chat completion with ``COMPLETION``; its base URL."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(COMPLETION)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def access_line(running: RunningSidecar, headers: dict[str, str]) -> dict[str, Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def test_the_line_names_the_app_the_operation_and_the_matched_headers_values(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """app, operation, and the values of the headers the policy's routes match on (never a credential)."""
    running = await sidecar(policy(await fake("f")), app_name="deployment-app")
    line = await access_line(
        running,
        {"x-team": "ops", "authorization": "Bearer sk-secret", "x-other": "not logged", "x-sidecar-app": "billing"},
    )
    assert line["route"] == "teams"
    assert (line["app"], line["operation"], line["dialect"]) == ("billing", "chat", "openai")
    assert line["headers"] == {"x-team": "ops"}
    assert "sk-secret" not in orjson.dumps(line).decode()


async def test_the_line_names_the_deployment_app_when_the_request_names_none(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Without x-sidecar-app the app is SIDECAR_APP; a request without matched headers logs none."""
    running = await sidecar(policy(await fake("f")), app_name="deployment-app")
    line = await access_line(running, {})
    assert line["app"] == "deployment-app" and "headers" not in line and line["route"] == "rest"


async def test_a_megabyte_model_name_is_logged_and_traced_cut(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A model name of a million characters, served by a route that matches any model: the access line's
    ``requested_model`` and the span's ``sidecar.request.model`` are its first 253 characters and ``...``
    (``MODEL_SHOWN_CHARS``), not a megabyte in every line and span of the request."""
    running = await sidecar(policy(await fake("f")))
    async with openai_client(running) as client:
        await client.chat.completions.create(model="m" * 1_000_000, messages=[{"role": "user", "content": "hi"}])
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["route"], line["requested_model"]) == ("rest", "m" * 253 + "...")
    traced = [
        span.attributes["sidecar.request.model"]
        for span in running.spans.get_finished_spans()
        if span.attributes and "sidecar.request.model" in span.attributes
    ]
    assert traced == ["m" * 253 + "..."]


async def test_header_bytes_that_are_not_utf8_are_logged_as_escapes(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An x-team (a matched header) and an x-sidecar-app whose bytes are not UTF-8, over a raw socket:
    the request is answered (it was a 500 without an access line: the JSON writer refused the text) and
    the line writes each such byte as an escape."""
    running = await sidecar(policy(await fake("f")))
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    host, port = running.url.removeprefix("http://").split(":")
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(body)}\r\nconnection: close\r\n"
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode() + b"x-team: ops\xff\r\nx-sidecar-app: caf\xe9\r\n\r\n" + body)
        status, _, _ = await read_response(reader)
    finally:
        writer.close()
    assert status == 200
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["app"], line["headers"], line["route"]) == ("caf\\xe9", {"x-team": "ops\\xff"}, "rest")


async def test_cached_input_tokens_are_logged_and_priced_as_cached(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """The upstream's cached prompt tokens are in the line, and its cost prices them at the cached rate."""

    running = await sidecar(policy(await completion_server(aiohttp_server)))
    line = await access_line(running, {})
    assert (line["input_tokens"], line["cached_input_tokens"], line["output_tokens"]) == (40, 32, 2)
    assert line["cost_usd"] == round((8 * 1 + 32 * 0.5 + 2 * 2) / 1e6, 8)


async def test_the_line_writes_ts_to_the_microsecond_and_latency_to_the_microsecond_in_ms(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``ts`` has at most 6 decimals (now, in Unix seconds) and ``latency_ms`` at most 3, as written."""
    running = await sidecar(policy(await fake("f")))
    line = await access_line(running, {})
    raw = [text for text in running.logs.getvalue().decode().splitlines() if '"event":"access"' in text][-1]
    ts_text = raw.split('"ts":', 1)[1].split(",", 1)[0]
    latency_text = raw.split('"latency_ms":', 1)[1].split(",", 1)[0]
    assert len(ts_text.partition(".")[2]) <= 6 and len(latency_text.partition(".")[2]) <= 3
    assert abs(line["ts"] - time.time()) < 60 and 0 < line["latency_ms"] < 60_000


def access_fields_written() -> set[str]:
    """The access line's field names, read from the code that writes them: the ``fields`` dicts of
    server/access.py and of routing's part of the line (routing/report.py, routing/matrix.py)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "sidecar"
    names: set[str] = set()
    for module in ("server/access.py", "routing/report.py", "routing/matrix.py"):
        for node in ast.walk(ast.parse((package / module).read_text())):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == "fields" and isinstance(node.value, ast.Dict):
                        names |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "fields"
                        and isinstance(target.slice, ast.Constant)
                    ):
                        names.add(target.slice.value)
    return names


def access_line_section() -> str:
    """docs/logs.md's section on the access line."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "logs.md").read_text()
    return text.split("## The access line", 1)[1].split("\n## ", 1)[0]


def access_fields_documented() -> tuple[set[str], set[str]]:
    """docs/logs.md's access line: the fields of its example, and those its table describes."""
    import re

    section = access_line_section()
    example = orjson.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    rows = re.findall(r"^\| (`[^|]+`) \|", section, re.M)
    return set(example), {name for row in rows for name in re.findall(r"`([a-z][a-z0-9_]*)`", row)}


def test_every_access_field_is_documented_and_every_documented_one_is_written() -> None:
    """docs/logs.md shows (in its example) or describes (in its table) every field the access line can
    have, and its table describes no field the code does not write."""
    written = access_fields_written()
    shown, described = access_fields_documented()
    assert {
        "written but undocumented": written - shown - described,
        "described but not written": described - written,
    } == {
        "written but undocumented": set(),
        "described but not written": set(),
    }


async def test_an_error_the_sidecar_answers_counts_its_body_in_bytes_out(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A request the sidecar refuses itself (a body that is not JSON: a 400 in the caller's dialect) logs
    ``bytes_out`` as the length of the error body the app received, not 0."""
    running = await sidecar(policy(await fake("f")))
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/chat/completions", data=b"not json", headers={"content-type": "application/json"}
        ) as response,
    ):
        assert response.status == 400
        body = await response.read()
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["status"], line["outcome"]) == (400, "rejected")
    assert body and line["bytes_out"] == len(body)


BASE_FIELDS = [
    *("component", "event", "level", "ts", "request_id", "method", "path", "dialect", "operation", "app"),
    *("route", "requested_model", "served_model", "provider", "status", "outcome", "latency_ms", "stream"),
    *("bytes_in", "bytes_out", "attempts", "policy_version"),
]


def test_the_table_says_no_field_every_line_has_is_ever_absent() -> None:
    """docs/logs.md's table describes none of the fields every line has (``BASE_FIELDS``) as absent: they
    are ``null`` when not known (until 2026-12-08 it said ``served_model`` was absent on an error)."""
    import re

    rows = re.findall(r"^\| (`[^|]+`) \|([^\n]*)", access_line_section(), re.M)
    said_absent = [
        names
        for names, meaning in rows
        if set(re.findall(r"`([a-z_]+)`", names)) & set(BASE_FIELDS) and "absent" in meaning
    ]
    assert said_absent == []


async def test_an_errors_line_has_every_field_with_no_model_served_as_null(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, the one target answering 503: the line has every field every line has, in order,
    ``served_model`` and ``provider`` ``null`` (no model served the answer), as docs/logs.md says."""
    running = await sidecar(policy(await fake("f")))
    async with openai_client(running, **{"x-fake-fault": "f:status=503"}) as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    assert list(line)[: len(BASE_FIELDS)] == BASE_FIELDS
    assert (line["route"], line["served_model"], line["provider"], line["status"]) == ("rest", None, None, 503)


async def test_a_plain_success_writes_its_fields_in_the_documented_order(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """openai-python, a priced model answering with cached tokens on the first try: the line's fields, in
    docs/logs.md's order (the fixed ones, then the tokens and the cost), nothing more."""

    running = await sidecar(policy(await completion_server(aiohttp_server)))
    async with openai_client(running) as client:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    tokens = ["input_tokens", "output_tokens", "cached_input_tokens", "cost_usd"]
    assert list(line)[: len(BASE_FIELDS) + len(tokens)] == BASE_FIELDS + tokens
    assert list(line)[len(BASE_FIELDS) + len(tokens) :] in ([], ["trace_id", "span_id"])


async def test_a_fallback_writes_its_fields_in_the_documented_order(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """openai-python, a matched header, the first target answering 503 and the second answering: the
    line's fields in docs/logs.md's order (the fixed ones, the headers, the walk's, the tokens)."""
    first, second = await fake("one"), await fake("two")
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("one", first, "openai")
        + provider_block("two", second, "openai")
        + "models:\n  a: {provider: one, model: up-a}\n  b: {provider: two, model: up-b}\n"
        + "routes:\n  - {name: teams, match: {headers: {x-team: [ops]}}, target: [a, b]}\n"
    )
    async with openai_client(running, **{"x-team": "ops", "x-fake-fault": "one:status=503"}) as client:
        await client.chat.completions.create(model="a", messages=[{"role": "user", "content": "hi"}])
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    walk = ["headers", "fallback_reason", "attempt_log", "attempt_errors"]
    tokens = ["input_tokens", "output_tokens", "cached_input_tokens"]
    assert list(line)[: len(BASE_FIELDS) + len(walk) + len(tokens)] == BASE_FIELDS + walk + tokens
    assert list(line)[len(BASE_FIELDS) + len(walk) + len(tokens) :] in ([], ["trace_id", "span_id"])
    assert (line["outcome"], line["headers"]) == ("fallback", {"x-team": "ops"})
