"""A passthrough's telemetry (sidecar/server/forward.py): its call's CLIENT span (docs/observability.md)
and its access line's sampling (docs/logs.md)."""

from __future__ import annotations

import aiohttp
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from ..conftest import RunningSidecar, SidecarFactory
from ..listening import free_port
from ..waiting import until
from .forward_upstream import KEYS, Stack, policy_text
from .metric_samples import sampled_out


async def span_of(running: RunningSidecar, name: str, kind: SpanKind) -> ReadableSpan:
    """The first finished span of ``name`` and ``kind``, once there is one."""

    def found() -> list[ReadableSpan]:
        return [span for span in running.spans.get_finished_spans() if (span.name, span.kind) == (name, kind)]

    return (await until(found))[0]


async def test_the_forwarded_call_is_a_client_span_under_the_requests(stack: Stack) -> None:
    """The call to the provider is a CLIENT span named as the request's SERVER span, its child, with the
    provider's address and port, the method and the provider's status."""
    running, recorder = await stack()
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files?limit=1") as answer:
        await answer.read()
    server = await span_of(running, "GET /v1/files", SpanKind.SERVER)
    client = await span_of(running, "GET /v1/files", SpanKind.CLIENT)
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    attributes = dict(client.attributes or {})
    port = int(recorder.base.rsplit(":", 1)[1])
    assert (attributes["server.address"], attributes["server.port"]) == ("127.0.0.1", port)
    assert (attributes["http.request.method"], attributes["http.response.status_code"]) == ("GET", 200)
    assert attributes["gen_ai.provider.name"] == "openai" and "error.type" not in attributes


async def test_a_call_that_failed_has_its_error_type_on_the_client_span(sidecar: SidecarFactory) -> None:
    """A provider that refuses connections: the CLIENT span has ``error.type`` ``connect_error``, status
    ERROR, the one more try as ``http.request.resend_count``, and no HTTP status."""
    running = await sidecar(policy_text(f"http://127.0.0.1:{free_port()}", None), env=KEYS)
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files") as answer:
        assert answer.status == 502
    client = await span_of(running, "GET /v1/files", SpanKind.CLIENT)
    attributes = dict(client.attributes or {})
    assert (attributes["error.type"], attributes["http.request.resend_count"]) == ("connect_error", 1)
    assert client.status.status_code is StatusCode.ERROR and "http.response.status_code" not in attributes


async def test_the_access_line_follows_the_policys_sampling(stack: Stack) -> None:
    """``access_log: {sample: 0}``: a forwarded success writes no line and is counted sampled out (route
    ""); a provider's 404 is kept by ``always``'s ``error``, written whole."""
    running, _ = await stack(extra="access_log: {sample: 0}\n")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{running.url}/v1/files") as answer:
            assert answer.status == 200
        async with session.get(f"{running.url}/v1/files/file-9") as answer:
            assert answer.status == 404
    assert await until(lambda: sampled_out(running)) == {"": 1.0}
    lines = await until(running.access_lines)
    assert [(line["path"], line["status"]) for line in lines] == [("/v1/files/file-9", 404)]
    assert "sample_rate" not in lines[0]


async def test_a_providers_error_status_is_the_client_spans_error_type(stack: Stack) -> None:
    """A provider's 404 (an unknown file) relayed: the CLIENT span has ``error.type`` ``http_404``, status
    ERROR, as an upstream call's."""
    running, _ = await stack()
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files/file-9") as answer:
        assert answer.status == 404
    client = await span_of(running, "GET /v1/files", SpanKind.CLIENT)
    attributes = dict(client.attributes or {})
    assert (attributes["error.type"], attributes["http.response.status_code"]) == ("http_404", 404)
    assert client.status.status_code is StatusCode.ERROR


async def test_the_provider_gets_the_client_spans_traceparent_in_place_of_the_apps(stack: Stack) -> None:
    """An app in a sampled trace: the provider gets the trace context of the call's CLIENT span (the app's
    trace id, the CLIENT span's id, sampled) and the app's ``tracestate``, not the app's ``traceparent``."""
    running, recorder = await stack()
    app_trace, app_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    sent = {"Traceparent": f"00-{app_trace}-{app_span}-01", "tracestate": "vendor=app"}
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/v1/files", headers=sent) as answer:
        assert answer.status == 200
    client = await span_of(running, "GET /v1/files", SpanKind.CLIENT)
    server = await span_of(running, "GET /v1/files", SpanKind.SERVER)
    assert server.parent is not None and server.parent.span_id == int(app_span, 16)
    headers = recorder.received[-1].headers
    assert headers["traceparent"] == f"00-{app_trace}-{client.context.span_id:016x}-01"
    assert headers["tracestate"] == "vendor=app"
