"""The proxy port's own refusals (``refusals.Refusals``) on a real sidecar: the 404 of a path it does not
serve, the 405 of a method a served path refuses, the 413 of a body announced with ``Expect:
100-continue`` over ``SIDECAR_MAX_BODY_BYTES``. Each answer carries ``x-sidecar-request-id`` and
``x-sidecar-policy-version``, writes one access line and counts in the request metrics as a request
refused before routing (until wave 58 none of the three did: docs/logs.md); the health port's 404 stays
unrecorded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest

from sidecar.server.answer_headers import OWN_REQUEST_ID_PREFIX
from sidecar.server.lifecycle import health_listener

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from .metric_samples import scraped
from .one_route import one_route_policy
from .raw import close, read_response

REFUSED = {"route": "", "served_model": "", "outcome": "rejected", "status_class": "4xx"}


async def counted(running: RunningSidecar) -> dict[str, float]:
    """From ``/metrics``: the requests counted with ``REFUSED``'s labels, the request durations observed
    for them, and the rejections by reason (``rejected:<reason>``)."""
    counts: dict[str, float] = {}
    for sample in await scraped(running):
        labels = sample.labels
        if sample.name == "llm_sidecar_requests_total" and labels == REFUSED:
            counts["requests"] = sample.value
        elif sample.name == "llm_sidecar_request_duration_seconds_count" and labels == {
            "route": "",
            "outcome": "rejected",
        }:
            counts["durations"] = sample.value
        elif sample.name == "llm_sidecar_rejections_total":
            counts[f"rejected:{labels['reason']}"] = sample.value
    return counts


def assert_seen(running: RunningSidecar, headers: Any, expected: dict[str, Any]) -> None:
    """The answer's sidecar headers and its one access line, whose fields include ``expected``."""
    [line] = running.access_lines()
    request_id = headers["x-sidecar-request-id"]
    assert (request_id, headers["x-sidecar-policy-version"]) == (
        line["request_id"],
        running.state.holder.policy.version,
    )
    assert headers["x-request-id"] == OWN_REQUEST_ID_PREFIX + request_id  # what the SDK reports as its id
    shown = {name: line[name] for name in expected}
    assert shown == expected
    assert line["outcome"] == "rejected" and line["bytes_in"] == 0 and line["bytes_out"] > 0
    assert line["policy_version"] == running.state.holder.policy.version and 0 <= line["latency_ms"] < 60_000
    assert (line["route"], line["requested_model"], line["served_model"], line["attempts"]) == (None, None, None, 0)


async def test_an_sdk_at_a_wrong_base_url_gets_a_404_with_the_headers_a_line_and_a_count(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python with ``/v1/v1`` as its base URL: its ``NotFoundError`` carries the sidecar's request
    id and policy version, the access line says the path and ``unknown_path``, and the request is
    counted (``requests_total`` as a refused request, its duration, ``rejections_total``)."""
    running = await sidecar(one_route_policy(await fake("f")), app_name="checkout")
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1/v1", api_key="x")
    async with client:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    headers = raised.value.response.headers
    assert raised.value.request_id == headers["x-request-id"]
    assert_seen(
        running,
        headers,
        {
            "status": 404,
            "error_type": "unknown_path",
            "method": "POST",
            "path": "/v1/v1/chat/completions",
            "dialect": "openai",
            "app": "checkout",
        },
    )
    counts = await counted(running)
    assert (counts["requests"], counts["durations"], counts["rejected:unknown_path"]) == (1, 1, 1)


async def test_a_get_where_a_post_belongs_gets_a_405_with_the_headers_a_line_and_a_count(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``GET /v1/messages``: the 405 with ``Allow`` in Anthropic's error shape, the sidecar's headers, an
    access line with ``method_not_allowed`` and the Anthropic dialect, one refused request counted."""
    running = await sidecar(one_route_policy(await fake("f")))
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.url}/v1/messages", headers={"x-sidecar-app": "billing"}) as response,
    ):
        body = await response.json()
    assert (response.status, response.headers["Allow"], body["type"]) == (405, "POST", "error")
    headers = {**response.headers, "x-request-id": response.headers["request-id"]}  # Anthropic's id header
    assert_seen(
        running,
        headers,
        {
            "status": 405,
            "error_type": "method_not_allowed",
            "method": "GET",
            "path": "/v1/messages",
            "dialect": "anthropic",
            "app": "billing",
        },
    )
    counts = await counted(running)
    assert (counts["requests"], counts["rejected:method_not_allowed"]) == (1, 1)


async def test_a_get_on_a_gemini_method_path_gets_its_405_with_the_headers_and_a_line(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``GET /v1beta/models/m:generateContent`` (a Gemini method path, not a model lookup): the model
    lookup's 405 ``Allow: POST`` has the sidecar's request id, its access line (Gemini's dialect) and its
    count, as the table's own 405s."""
    running = await sidecar(one_route_policy(await fake("f")))
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.url}/v1beta/models/m:generateContent") as response,
    ):
        assert (response.status, response.headers["Allow"]) == (405, "POST")
    [line] = running.access_lines()
    assert (line["request_id"], line["dialect"], line["error_type"], line["path"]) == (
        response.headers["x-sidecar-request-id"],
        "gemini",
        "method_not_allowed",
        "/v1beta/models/m:generateContent",
    )
    assert (await counted(running))["rejected:method_not_allowed"] == 1


async def test_an_expect_continue_body_over_the_limit_gets_a_413_with_the_headers_a_line_and_a_count(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A body announced with ``Expect: 100-continue`` over ``SIDECAR_MAX_BODY_BYTES`` (curl's way for a
    body over 1 KiB): the 413 comes at once, never the ``100``, the connection closes, and the answer has
    the sidecar's headers, its access line (``body_too_large``, ``bytes_in`` 0: the body never sent) and
    its count, as the same body sent without ``Expect`` has."""
    running = await sidecar(one_route_policy(await fake("f")), max_body_bytes=1000)
    port = int(running.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 5000\r\nexpect: 100-continue\r\n\r\n"
        )
        status, headers, body = await read_response(reader)
    finally:
        await close(writer)
    assert (status, headers["connection"]) == (413, "close") and b"body_too_large" in body
    assert_seen(
        running,
        headers,
        {
            "status": 413,
            "error_type": "body_too_large",
            "method": "POST",
            "path": "/v1/chat/completions",
            "dialect": "openai",
            "bytes_out": len(body),
        },
    )
    counts = await counted(running)
    assert (counts["requests"], counts["rejected:body_too_large"]) == (1, 1)


async def test_a_refusals_line_is_sampled_by_the_access_log_block(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With ``access_log: {sample: 0, always: []}`` a 404's line is left out and counted as sampled out
    (``route=""``, as a passthrough's), while its metrics still count it; with the default ``always`` its
    line is kept (an error)."""
    url = await fake("f")
    running = await sidecar(one_route_policy(url, "access_log: {sample: 0, always: []}\n"))
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/nothing") as response:
        assert response.status == 404 and "x-sidecar-request-id" in response.headers
    assert running.access_lines() == []
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as metrics:
        text = await metrics.text()
    assert 'llm_sidecar_access_lines_sampled_out_total{route=""} 1.0' in text
    assert (await counted(running))["requests"] == 1
    kept = await sidecar(one_route_policy(url, "access_log: {sample: 0}\n"))
    async with aiohttp.ClientSession() as session, session.get(f"{kept.url}/nothing") as response:
        assert response.status == 404
    assert [line["error_type"] for line in kept.access_lines()] == ["unknown_path"]


async def test_connect_gets_its_405_with_the_headers_and_a_line_and_the_connection_closes(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``CONNECT`` (an app whose ``HTTPS_PROXY`` names the sidecar): the 405 ``not_a_proxy`` with the
    sidecar's request id, its access line, and the connection closed after it."""
    running = await sidecar(one_route_policy(await fake("f")))
    port = int(running.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
        status, headers, body = await read_response(reader)
    finally:
        await close(writer)
    assert (status, headers["connection"]) == (405, "close") and b"not_a_proxy" in body
    [line] = running.access_lines()
    assert (line["request_id"], line["method"], line["error_type"]) == (
        headers["x-sidecar-request-id"],
        "CONNECT",
        "not_a_proxy",
    )
    assert (await counted(running))["rejected:not_a_proxy"] == 1


async def test_the_health_ports_404_stays_unrecorded(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The health port is not the proxy port: its 404 carries no request id, writes no access line and
    counts in no request metric."""
    running = await sidecar(one_route_policy(await fake("f")))
    health = health_listener(running.state)
    await health.start("127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{health.port}/v1/chat/completions", json={}) as response,
        ):
            assert response.status == 404 and "x-sidecar-request-id" not in response.headers
    finally:
        await health.shutdown(0)
    assert running.access_lines() == [] and "requests" not in await counted(running)


async def test_a_refusals_span_is_named_by_a_template_or_the_method_alone(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The SERVER span of a 405 on a served path is named by its template (``GET /v1/messages``); that of a
    path nothing serves by the method alone, without ``http.route`` and with the path in ``url.path``
    (OpenTelemetry's HTTP conventions: a scan of made-up paths would else make a span name per path)."""
    running = await sidecar(one_route_policy(await fake("f")))
    async with aiohttp.ClientSession() as session:
        for path in ("/v1/messages", "/wp-admin/setup-7f3a.php"):
            async with session.get(f"{running.url}{path}") as response:
                await response.read()
    spans = {span.name: span.attributes or {} for span in running.spans.get_finished_spans()}
    assert spans["GET /v1/messages"]["http.route"] == "/v1/messages"
    assert "http.route" not in spans["GET"] and spans["GET"]["url.path"] == "/wp-admin/setup-7f3a.php"


@pytest.mark.parametrize("body", [b"", b"not json", b'{"contents": []}'])
async def test_a_gemini_method_the_sidecar_does_not_serve_is_a_404_whatever_the_body(
    fake: FakeFactory, sidecar: SidecarFactory, body: bytes
) -> None:
    """``POST /v1beta/models/x:unknownMethod`` (google-genai at a method the sidecar does not serve): the 404
    ``unknown_path`` in Gemini's shape naming the method, whether the body is empty, not JSON or a valid one:
    the path decides before the body is read; recorded as the table's refusals are."""
    running = await sidecar(one_route_policy(await fake("f")))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1beta/models/x:unknownMethod", data=body) as response,
    ):
        answer = await response.json()
    assert (response.status, answer["error"]["status"]) == (404, "NOT_FOUND")
    assert "unknown Gemini method 'unknownMethod'" in answer["error"]["message"]
    [line] = running.access_lines()
    assert (line["request_id"], line["dialect"], line["error_type"]) == (
        response.headers["x-sidecar-request-id"],
        "gemini",
        "unknown_path",
    )


async def test_every_dialects_unknown_operation_is_a_404_before_its_body(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An empty body to an operation no dialect serves (OpenAI's, Azure OpenAI's, Anthropic's, Gemini's under
    ``/v1`` with google-genai's key header) is the 404 ``unknown_path`` in the path's dialect, never the 400
    ``invalid_json`` of its body."""
    running = await sidecar(one_route_policy(await fake("f")))
    paths = {  # path: (headers, dialect)
        "/v1/chat/unknown": ({}, "openai"),
        "/openai/deployments/m/unknown": ({}, "openai"),
        "/v1/messages/unknown": ({}, "anthropic"),
        "/v1/models/m:unknownMethod": ({"x-goog-api-key": "k"}, "gemini"),
    }
    async with aiohttp.ClientSession() as session:
        for path, (headers, _) in paths.items():
            async with session.post(f"{running.url}{path}", data=b"", headers=headers) as response:
                assert response.status == 404, path
    lines = running.access_lines()
    assert {line["path"]: (line["dialect"], line["error_type"]) for line in lines} == {
        path: (dialect, "unknown_path") for path, (_, dialect) in paths.items()
    }
