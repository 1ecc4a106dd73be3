"""The request id each official SDK reports (openai's and anthropic's ``_request_id``, an error's
``request_id``): the provider's on its own answer relayed in the app's dialect, else the sidecar's,
``llm-sidecar-`` and ``x-sidecar-request-id`` (docs/api.md, "Request ids"); an ensemble lists its
providers' ids in ``x-sidecar-upstream-request-ids``."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, answering
from .cache_helpers import ask, cache_policy
from .ensemble_policies import ensemble_route, models_policy

PROVIDERS_OPENAI_ID = re.compile(r"req_[0-9a-f]{32}")  # the fake provider's, as OpenAI's
PROVIDERS_ANTHROPIC_ID = re.compile(r"req_011C\w{22}")
MESSAGES: Any = [{"role": "user", "content": "hi"}]
STATIC = "{backoff: {base_s: 0.01, cap_s: 0.02}, last_resort: {kind: static, static: {text: 'try later'}}}"


def sidecars(headers: Any) -> str:
    return "llm-sidecar-" + headers["x-sidecar-request-id"]


async def test_a_cache_hit_carries_the_sidecars_id_and_a_miss_the_providers(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python: the live answer's ``_request_id`` is the provider's; the hit's is the sidecar's own
    (it made no call), never the provider's id of the answer it was stored from."""
    running = await sidecar(cache_policy([await fake("f0")]))
    live, live_raw = await ask(running)
    hit, hit_raw = await ask(running)
    assert hit_raw.headers["x-sidecar-cache"] == "hit"
    assert PROVIDERS_OPENAI_ID.fullmatch(live._request_id)
    assert live_raw.request_id == live._request_id
    assert hit._request_id == hit_raw.request_id == sidecars(hit_raw.headers)


async def test_the_sidecars_own_error_carries_its_id_in_each_sdk(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A model no route serves: the 404 the SDKs raise has the sidecar's id as ``request_id``."""
    running = await sidecar(cache_policy([await fake("f0")]))
    async with openai_client(running) as client:
        with pytest.raises(openai.NotFoundError) as raised_openai:
            await client.chat.completions.create(model="nothing", messages=MESSAGES)
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.NotFoundError) as raised_anthropic:
            await client.messages.create(model="nothing", max_tokens=10, messages=MESSAGES)
    for error in (raised_openai.value, raised_anthropic.value):
        assert error.request_id == sidecars(error.response.headers)


async def test_a_last_resort_answer_carries_the_sidecars_id(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every target failed and the static last resort answered: not the failed provider's id but the
    sidecar's, whole and streamed (anthropic's stream helper reads it from the stream's head)."""
    running = await sidecar(cache_policy([await fake("f0")], speaks="anthropic", resilience=STATIC))
    async with anthropic_client(running) as client:
        fail = {"x-fake-fault": "status=503", "x-sidecar-cache": "bypass"}
        params: Any = {"model": "cached", "max_tokens": 50, "messages": MESSAGES, "extra_headers": fail}
        raw = await client.messages.with_raw_response.create(**params)
        async with client.messages.stream(**params) as stream:
            await stream.get_final_message()
            streamed = stream.response.headers
    assert raw.headers["x-sidecar-degraded"] == "static"
    assert (await raw.parse())._request_id == raw.request_id == sidecars(raw.headers)
    assert streamed["request-id"] == sidecars(streamed)


async def test_an_answer_translated_from_another_dialect_carries_the_sidecars_id_and_the_providers(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app served by an Anthropic upstream: ``_request_id`` is the sidecar's (an OpenAI-shaped
    id naming an Anthropic request would mislead), the provider's own stays in its ``request-id``."""
    running = await sidecar(cache_policy([await fake("f0")], speaks="anthropic", cache="{enabled: false}"))
    answer, raw = await ask(running)
    assert answer._request_id == sidecars(raw.headers)
    assert PROVIDERS_ANTHROPIC_ID.fullmatch(raw.headers["request-id"])


async def test_a_proxied_answer_keeps_the_providers_id(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic app at an Anthropic upstream, whole and streamed: the provider's id, untouched."""
    running = await sidecar(cache_policy([await fake("f0")], speaks="anthropic", cache="{enabled: false}"))
    async with anthropic_client(running) as client:
        params: Any = {"model": "cached", "max_tokens": 50, "messages": MESSAGES}
        whole = await client.messages.create(**params)
        async with client.messages.stream(**params) as stream:
            await stream.get_final_message()
            streamed = stream.response.headers["request-id"]
    assert whole._request_id is not None and PROVIDERS_ANTHROPIC_ID.fullmatch(whole._request_id)
    assert PROVIDERS_ANTHROPIC_ID.fullmatch(streamed)


async def test_an_ensemble_answer_carries_the_sidecars_id_and_lists_its_members_ids(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The vote's answer is the sidecar's (its ``_request_id``); ``x-sidecar-upstream-request-ids`` names
    each member's provider id (an OpenAI and an Anthropic fake here), for their support."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug")]
    running = await sidecar(
        models_policy(urls, ensemble_route("m0, m1", "early_quorum: false"), speaks=("openai", "anthropic"))
    )
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="vote", messages=MESSAGES)
    assert raw.parse()._request_id == sidecars(raw.headers)
    ids = dict(item.split("=") for item in raw.headers["x-sidecar-upstream-request-ids"].split(", "))
    assert list(ids) == ["m0", "m1"]
    assert PROVIDERS_OPENAI_ID.fullmatch(ids["m0"]) and PROVIDERS_ANTHROPIC_ID.fullmatch(ids["m1"])


async def test_a_gemini_app_reads_the_sidecars_id_from_the_response_headers(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai has no request id: ``sdk_http_response.headers`` holds ``x-sidecar-request-id`` (the
    access line's), and no made-up provider id."""
    running = await sidecar(cache_policy([await fake("f0")], speaks="gemini"))
    answer = await gemini_client(running.url).aio.models.generate_content(model="cached", contents="hi")
    headers = answer.sdk_http_response.headers
    assert re.fullmatch(r"[0-9a-f]{16}", headers["x-sidecar-request-id"])
    assert "x-request-id" not in headers and "request-id" not in headers


async def test_the_members_ids_header_encodes_names_that_are_not_visible_ascii(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A member named ``modèle, un`` is listed percent-encoded (docs/headers.md): the head stays ASCII and
    the list still splits into one ``member=id`` per answering call."""
    urls = [await fake("f0", reply="bug"), await fake("f1", reply="bug")]
    policy = models_policy(urls, ensemble_route('"modèle, un", m1', "early_quorum: false"))
    running = await sidecar(policy.replace("  m0:", '  "modèle, un":'))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="vote", messages=MESSAGES)
    listed = raw.headers["x-sidecar-upstream-request-ids"]
    assert listed.isascii()
    assert [item.split("=")[0] for item in listed.split(", ")] == ["mod%C3%A8le%2C%20un", "m1"]


async def test_a_provider_request_id_that_is_not_utf8_never_reaches_the_app_cut_short(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A provider's ``x-request-id`` holding a Latin-1 byte (``req_caf\\xe9``) is left out, so openai-python
    reports the sidecar's id, never ``req_caf`` (the provider's id cut short: another request's, perhaps);
    its other headers, a UTF-8 one included, still arrive, and the access line is written."""
    answer = b'{"id": "x", "object": "chat.completion", "created": 1, "model": "up", "choices": [{"index": 0, '
    answer += b'"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_caf\xe9\r\n"
    head += b"x-note: caf\xc3\xa9\r\ncontent-length: %d\r\n\r\n" % len(answer)
    upstream = await raw_upstream(answering(head + answer))
    policy = (
        "version: 1\nproviders:\n"
        f"  p0: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p0, model: l}\n"
    )
    running = await sidecar(policy, env={"KEY": "provider-key"})
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="m0", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.request_id == "llm-sidecar-" + raw.headers["x-sidecar-request-id"]
    assert raw.headers["x-note"] == "café"
    assert [line["status"] for line in running.log_lines() if line.get("event") == "access"] == [200]
