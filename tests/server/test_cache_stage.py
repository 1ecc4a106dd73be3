"""The response cache on the request path, through the real sidecar and the official SDKs: hits and
misses, what is stored and what is not, the app's directives, the key, the headers and the log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import anthropic
import openai
import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client, sdk_client
from ..translate.responses import TEXT, openai_body
from ..upstream.raw import ServerConn, UpstreamFactory, response
from .cache_helpers import PROMPT, ask, cache_policy, metrics_text, upstream_calls
from .raw import read_response


async def test_a_repeated_request_is_answered_from_the_cache(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The second identical request gets the first one's answer without an upstream call, marked hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    first, first_raw = await ask(running)
    stored_by = time.monotonic()
    second, second_raw = await ask(running)
    waited = time.monotonic() - stored_by  # under load the hit may come a second or more later
    assert first_raw.headers["x-sidecar-cache"] == "miss" and "age" not in first_raw.headers
    assert second_raw.headers["x-sidecar-cache"] == "hit" and 0 <= int(second_raw.headers["age"]) <= waited + 1
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.usage.completion_tokens == first.usage.completion_tokens
    assert second.id != first.id
    assert second_raw.headers["x-sidecar-model"] == "m0" and second_raw.headers["x-sidecar-attempts"] == "0"
    assert await upstream_calls(running, url) == 1


async def test_a_hit_has_the_fields_apps_read_unguarded(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """usage.completion_tokens_details.reasoning_tokens and message.annotations, which OpenAI always sends,
    are there on a hit as on the live answer, whole and streamed (they were None: an error on a hit only)."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    live, _ = await ask(running)
    hit, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert live.usage.completion_tokens_details.reasoning_tokens == 0
    assert hit.usage.completion_tokens_details.reasoning_tokens == 0
    assert live.choices[0].message.annotations == hit.choices[0].message.annotations == []
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="cached", messages=PROMPT, temperature=0, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens_details.reasoning_tokens == 0


async def test_a_request_that_is_not_deterministic_is_not_cached(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Under cacheable: deterministic a request with temperature 1 and no seed passes uncached (bypass)."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    for _ in range(2):
        _, raw = await ask(running, temperature=1)
        assert raw.headers["x-sidecar-cache"] == "bypass"
    assert await upstream_calls(running, url) == 2


async def test_cacheable_always_caches_sampled_requests(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """cacheable: always caches a request without temperature 0 or a seed."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, cacheable: always}"))
    await ask(running, temperature=1)
    _, raw = await ask(running, temperature=1)
    assert raw.headers["x-sidecar-cache"] == "hit"


async def test_a_route_without_cache_has_no_cache_header(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A route that does not cache answers without x-sidecar-cache, and builds no store."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: false}"))
    _, raw = await ask(running)
    assert "x-sidecar-cache" not in raw.headers
    assert running.state.caches.cache is None


async def test_key_ignores_json_key_order_and_the_stream_flag(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A body with its keys in another order, 0.0 for 0 and stream on is the same key: a streamed hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    body = {"stream": True, "temperature": 0.0, "messages": PROMPT, "model": "cached", "user": "someone"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        text = await response.text()
        assert response.headers["x-sidecar-cache"] == "hit"
        assert response.headers["content-type"].startswith("text/event-stream")
    assert text.rstrip().endswith("data: [DONE]")
    assert await upstream_calls(running, url) == 1


async def test_apps_do_not_share_entries(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The same request from two apps (x-sidecar-app) makes two upstream calls; each app then hits its own."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    for app in ("billing", "support"):
        _, raw = await ask(running, headers={"x-sidecar-app": app})
        assert raw.headers["x-sidecar-cache"] == "miss"
    _, raw = await ask(running, headers={"x-sidecar-app": "support"})
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert await upstream_calls(running, url) == 2


async def test_share_across_apps_lets_apps_share_entries(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With share_across_apps, another app's identical request is a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, share_across_apps: true}"))
    await ask(running, headers={"x-sidecar-app": "billing"})
    _, raw = await ask(running, headers={"x-sidecar-app": "support"})
    assert raw.headers["x-sidecar-cache"] == "hit"


@pytest.mark.parametrize(
    ("headers", "state"),
    [({"x-sidecar-cache": "bypass"}, "bypass"), ({"cache-control": "no-store"}, "bypass")],
)
async def test_the_app_may_bypass_the_cache(
    fake: FakeFactory, sidecar: SidecarFactory, headers: dict[str, str], state: str
) -> None:
    """x-sidecar-cache: bypass or Cache-Control: no-store neither looks up nor stores."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    _, raw = await ask(running, headers=headers)
    assert raw.headers["x-sidecar-cache"] == state
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss"


@pytest.mark.parametrize("headers", [{"x-sidecar-cache": "refresh"}, {"cache-control": "no-cache"}])
async def test_the_app_may_refresh_an_entry(
    fake: FakeFactory, sidecar: SidecarFactory, headers: dict[str, str]
) -> None:
    """refresh / no-cache skips the lookup (an upstream call, a miss) and stores the new answer."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    _, raw = await ask(running, headers=headers)
    assert raw.headers["x-sidecar-cache"] == "miss"
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert await upstream_calls(running, url) == 2


async def test_client_control_off_ignores_the_apps_directives(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With client_control: false, Cache-Control: no-store from the app is not honoured: a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, client_control: false}"))
    await ask(running)
    _, raw = await ask(running, headers={"cache-control": "no-store"})
    assert raw.headers["x-sidecar-cache"] == "hit"


async def test_an_upstream_error_is_not_stored(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A 400 from the upstream reaches the app and is not stored: the next request calls again."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    with pytest.raises(openai.BadRequestError):
        await ask(running, headers={"x-fake-fault": "status=400"})
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss"


async def test_an_error_on_a_caching_route_carries_the_cache_header(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The upstream's own error, passed to the app, says x-sidecar-cache: miss (no Age)."""
    running = await sidecar(cache_policy([await fake("f0")]))
    with pytest.raises(openai.BadRequestError) as failure:
        await ask(running, headers={"x-fake-fault": "status=400"})
    headers = failure.value.response.headers
    assert headers["x-sidecar-cache"] == "miss" and "age" not in headers


async def test_a_truncated_answer_is_not_stored_by_default(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An answer cut by max_tokens (finish_reason length) is not stored unless store_truncated."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    first, _ = await ask(running, max_tokens=2)
    assert first.choices[0].finish_reason == "length"
    _, raw = await ask(running, max_tokens=2)
    assert raw.headers["x-sidecar-cache"] == "miss"


async def test_store_truncated_stores_a_truncated_answer(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With store_truncated: true, an answer cut by max_tokens is a hit the next time, still 'length'."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, store_truncated: true}"))
    await ask(running, max_tokens=2)
    second, raw = await ask(running, max_tokens=2)
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert second.choices[0].finish_reason == "length"


async def test_a_stream_cut_mid_answer_is_not_stored(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream the upstream cut after its commit point ends in an error for the app and is not stored."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    params = {
        "model": "cached",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "a rather long answer to cut in the middle of it"}],
        "extra_body": {"temperature": 0},
    }
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIError):
            async with client.messages.stream(**params, extra_headers={"x-fake-fault": "cut=4"}) as stream:
                async for _ in stream:
                    pass
        raw = await client.messages.with_raw_response.create(**params)
    assert raw.headers["x-sidecar-cache"] == "miss"


async def test_fifty_identical_concurrent_requests_make_one_upstream_call(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Single flight: 50 identical requests, all in the sidecar while the upstream holds its answer, make
    one upstream call; all get its answer (one miss, 49 coalesced hits). The upstream answers once the
    50 are in, however slow the machine: one SDK client, as an app has (50 clients, each loading its TLS
    context on the event loop the sidecar shares, once outlasted the SDK's 5 s connect timeout)."""
    release = asyncio.Event()

    async def held(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await release.wait()
            await conn.send(response(orjson.dumps(openai_body("text")), headers="content-type: application/json\r\n"))

    upstream = await raw_upstream(held)
    running = await sidecar(cache_policy([upstream.base]))
    async with openai_client(running) as client:
        asking = asyncio.gather(
            *(
                client.chat.completions.with_raw_response.create(model="cached", messages=PROMPT, temperature=0)
                for _ in range(50)
            )
        )
        for _ in range(6000):  # the test's timeout (60 s) ends it first
            if await gauge(running, "llm_sidecar_requests_in_flight") == 50:
                break
            await asyncio.sleep(0.01)
        release.set()
        answers = await asking
    assert len(upstream.requests) == 1
    assert {raw.parse().choices[0].message.content for raw in answers} == {TEXT}
    assert sorted(raw.headers["x-sidecar-cache"] for raw in answers) == ["hit"] * 49 + ["miss"]
    assert await gauge(running, "llm_sidecar_cache_coalesced_total") == 49


async def gauge(running: RunningSidecar, name: str) -> float:
    """The value of the sample ``name`` (without labels) on /metrics."""
    line = next(line for line in (await metrics_text(running)).splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_the_access_line_and_metrics_say_what_the_cache_did(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The access line carries cache: miss then hit (a hit is outcome ok, not degraded); /metrics counts
    the results, the stored entry, its bytes and the cost the hit saved."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    await ask(running)
    lines = [line for line in running.log_lines() if line.get("event") == "access"]
    assert [(line["cache"], line["outcome"]) for line in lines] == [("miss", "ok"), ("hit", "ok")]
    text = await metrics_text(running)
    assert 'llm_sidecar_cache_results_total{result="hit"} 1.0' in text
    assert 'llm_sidecar_cache_stores_total{result="stored"} 1.0' in text
    assert "llm_sidecar_cache_entries 1.0" in text
    saved = next(line for line in text.splitlines() if line.startswith("llm_sidecar_cache_saved_cost_usd_total"))
    assert float(saved.split()[1]) > 0


async def test_a_hit_adds_a_span_event(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The request's span has a sidecar.cache event naming the result, and sidecar.cache.hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    await ask(running)
    server = [s for s in running.spans.get_finished_spans() if s.kind.name == "SERVER"]
    last = server[-1]
    assert last.attributes is not None and last.attributes["sidecar.cache.hit"] is True
    events = [e for e in last.events if e.name == "sidecar.cache"]
    assert events and events[0].attributes is not None and events[0].attributes["sidecar.cache.result"] == "hit"


async def test_a_reload_with_the_same_store_keeps_the_entries(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A policy reload that leaves the cache: block as it was keeps the store and its entries."""
    url = await fake("f0")
    policy = cache_policy([url], store="{memory: {max_entries: 100}}")
    running = await sidecar(policy)
    await ask(running)
    store, version = running.state.caches.cache, running.state.holder.policy.version
    running.policy_path.write_text(policy + "# touched\n")
    for _ in range(100):
        await asyncio.sleep(0.05)
        if running.state.holder.policy.version != version:
            break
    assert running.state.holder.policy.version != version
    assert running.state.caches.cache is store
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit"


async def test_callers_with_different_passthrough_keys_do_not_share_entries(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """On a route that forwards the caller's own API key, two keys never share an entry, even with
    share_across_apps; the same key hits."""
    url = await fake("f0")
    policy = cache_policy([url], cache="{enabled: true, share_across_apps: true}").replace(
        "    speaks: openai\n", "    speaks: openai\n    api_key: {passthrough: true}\n"
    )
    running = await sidecar(policy)

    async def with_key(key: str) -> str:
        async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key=key) as client:
            raw = await client.chat.completions.with_raw_response.create(model="cached", temperature=0, messages=PROMPT)
        return raw.headers["x-sidecar-cache"]

    assert [await with_key("sk-alice"), await with_key("sk-bob"), await with_key("sk-alice")] == [
        "miss",
        "miss",
        "hit",
    ]


async def test_a_miss_leaves_no_exchange_to_the_garbage_collector(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The state a miss keeps for the last resort holds no reference back to the request's exchange: it
    is freed when the request ends, not left in a reference cycle for the cyclic collector."""
    import gc

    from sidecar.server.exchange import Exchange

    running = await sidecar(cache_policy([await fake("f0")]))
    await ask(running, messages=[{"role": "user", "content": "warm up"}])
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for i in range(5):
            await ask(running, messages=[{"role": "user", "content": f"question {i}"}])
        await asyncio.sleep(0.05)
        gc.collect()
        assert not [obj for obj in gc.garbage if isinstance(obj, Exchange)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def _raw_ask(url: str, head_lines: list[str], status: int = 200) -> dict[str, str]:
    """The cached route's request over a raw socket with ``head_lines`` among its header lines (repeated
    names kept as sent, each character one byte): the answer's headers, once its status is checked."""
    host, port = url.removeprefix("http://").split(":")
    body = orjson.dumps({"model": "cached", "messages": PROMPT, "temperature": 0})
    lines = ["POST /v1/chat/completions HTTP/1.1", f"host: {host}", "content-type: application/json"]
    lines += [*head_lines, f"content-length: {len(body)}", "connection: close"]
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        answered, headers, _ = await read_response(reader)
    finally:
        writer.close()
    assert answered == status, headers
    return headers


@pytest.mark.parametrize(
    ("head_lines", "state"),
    [
        (["cache-control: max-age=60", "cache-control: no-store"], "bypass"),
        (["x-sidecar-cache: refresh", "x-sidecar-cache: bypass"], "bypass"),
        (['cache-control: no-cache="x", max-age=60'], "miss"),
        (['cache-control: max-age="0"'], "miss"),
    ],
)
async def test_every_cache_directive_the_app_sent_counts(
    fake: FakeFactory, sidecar: SidecarFactory, head_lines: list[str], state: str
) -> None:
    """Repeated header lines are one list (RFC 9110 5.3): a no-store on the second line is honoured; a
    directive with an argument (``no-cache="x"``, a quoted ``max-age="0"``) is still that directive.
    Each follows a stored entry, so a hit would mean the directive was lost."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    headers = await _raw_ask(running.url, head_lines)
    assert headers["x-sidecar-cache"] == state
    assert await upstream_calls(running, url) == 2


@pytest.mark.parametrize("app", [b"caf\xc3\xa9", b"\xff\xfe", b"a" * 8000])
async def test_an_odd_app_name_is_a_scope_like_any_other(
    fake: FakeFactory, sidecar: SidecarFactory, app: bytes
) -> None:
    """An ``x-sidecar-app`` of UTF-8, of bytes that are not UTF-8, or of 8,000 characters: the request is
    cached under its own scope (a miss, then a hit), never a 500."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    line = "x-sidecar-app: " + app.decode("latin-1")
    assert (await _raw_ask(running.url, [line]))["x-sidecar-cache"] == "miss"
    assert (await _raw_ask(running.url, [line]))["x-sidecar-cache"] == "hit"


async def test_a_passthrough_key_whose_bytes_are_not_utf8_is_refused_cleanly(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """On a caching passthrough route, an ``authorization`` key with bytes that are not UTF-8 (a raw
    socket): the cache's scope is built from it (hashing it raised on the listener's lone surrogates: a
    500), and the target is skipped as ``credentials`` (such a key cannot be forwarded): a 401, the
    app's key being unusable, nothing stored."""
    url = await fake("f0")
    passthrough = "    speaks: openai\n    api_key: {passthrough: true}\n"
    running = await sidecar(cache_policy([url]).replace("    speaks: openai\n", passthrough))
    for _ in range(2):
        headers = await _raw_ask(running.url, ["authorization: Bearer sk-\xff\xfe"], status=401)
        assert headers["x-sidecar-cache"] == "miss"
    assert await upstream_calls(running, url) == 0


async def test_an_answer_citing_sources_is_stored_with_them(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A whole answer that carries citations (an OpenAI url_citation) is stored with them: the repeated
    request is a hit whose annotations are the provider's, one upstream call."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    citing = [{"role": "user", "content": "where is this from? fake:cite"}]
    first, first_raw = await ask(running, messages=citing)
    second, second_raw = await ask(running, messages=citing)
    assert (first_raw.headers["x-sidecar-cache"], second_raw.headers["x-sidecar-cache"]) == ("miss", "hit")
    assert second.choices[0].message.annotations == first.choices[0].message.annotations
    assert len(second.choices[0].message.annotations or []) == 1
    assert await upstream_calls(running, url) == 1
