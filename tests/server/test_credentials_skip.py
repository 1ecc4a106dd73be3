"""A target whose key cannot be read is skipped, not called: with a real sidecar and fake providers, it
is counted as a skip (``llm_sidecar_skips_total{reason="credentials"}``), never as an upstream attempt,
error or call (``x-sidecar-attempts``), nor against its breaker; its words stay in the error, the access
line and ``/status``."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client, sdk_client
from .budget_walks import access_line
from .chain import calls, chain_policy, chat, fakes, metrics_of
from .skip_counts import BREAKER, metric_lines


async def test_a_target_without_its_key_is_a_skip_not_a_call(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Route [m0, m1], m0's key variable not set: m1 answers, x-sidecar-attempts says 1 (m0 was never
    called: it said 2), the metrics count m0 as a skip `credentials`, not as an attempt and error; the
    access line still says why, and m0's breaker saw no call."""
    urls = await fakes(fake, 2)
    text = chain_policy(urls, extra_defaults=BREAKER).replace(
        provider_block("p0", urls[0], "openai"), provider_block("p0", urls[0], "openai", key_env="MISSING_KEY")
    )
    running = await sidecar(text)
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-attempts"] == "1" and headers["x-sidecar-fallback-reason"] == "credentials"
    assert metric_lines(await metrics_of(running), "p0/up0") == [
        'llm_sidecar_skips_total{reason="credentials",target="p0/up0"} 1.0'
    ]
    line = access_line(running)
    assert line["attempts"] == 1 and line["attempt_log"] == ["m0:credentials", "m1:ok"]
    assert line["attempt_errors"] == ["m0:credentials: environment variable MISSING_KEY is not set"]
    snapshot = running.state.targets.snapshot()["p0/up0"]
    assert snapshot["breaker"]["calls_in_window"] == 0
    assert snapshot["last_failure"]["error_type"] == "credentials"
    assert [await calls(url) for url in urls] == [0, 1]


async def test_apps_without_a_key_do_not_open_a_passthrough_targets_breaker(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """m0 passes the app's key through; three requests of an app that sends none are skipped there (and
    served by m1); the next app, which sends its key, is still served by m0: a missing app key is the
    request's, not the provider's failure (the three counted as breaker failures and opened m0's
    breaker for every app), and it is not m0's last_failure either."""
    urls = await fakes(fake, 2)
    passthrough = provider_block("p0", urls[0], "openai") + "    api_key: {passthrough: true}\n"
    running = await sidecar(
        chain_policy(urls, extra_defaults=BREAKER).replace(provider_block("p0", urls[0], "openai"), passthrough)
    )
    body = {"model": "chain", "messages": [{"role": "user", "content": "hello"}]}
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
                assert response.status == 200 and response.headers["x-sidecar-model"] == "m1"
        keyed = {"authorization": "Bearer sk-app"}
        async with session.post(f"{running.url}/v1/chat/completions", json=body, headers=keyed) as response:
            assert response.status == 200 and response.headers["x-sidecar-model"] == "m0"
    snapshot = running.state.targets.snapshot()["p0/up0"]
    assert snapshot["breaker"]["state"] == "closed" and snapshot["last_failure"] is None
    assert [await calls(url) for url in urls] == [1, 3]


async def _sdk_error_without_a_key(running: RunningSidecar, dialect: str, gemini_client: Any) -> Exception:
    """What the ``dialect``'s official SDK raises for a chat to model ``chain`` sent with an empty key
    header (the SDKs refuse to be built without a key; an empty one is no key to the sidecar)."""
    try:
        if dialect == "openai":
            async with openai_client(running, authorization="") as client:
                await client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "hi"}])
        elif dialect == "anthropic":
            async with sdk_client(
                anthropic.AsyncAnthropic, base_url=running.url, default_headers={"authorization": anthropic.Omit()}
            ) as messages:
                await messages.messages.create(
                    model="chain", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
                )
        else:
            config: dict[str, Any] = {"http_options": {"headers": {"x-goog-api-key": ""}}}
            await gemini_client(running.url).aio.models.generate_content(model="chain", contents="hi", config=config)
    except Exception as exc:  # the SDK's error, checked by the caller
        return exc
    raise AssertionError("the SDK raised nothing")


NO_KEY_ANSWERS = [
    pytest.param("openai", openai.AuthenticationError, 401, "invalid_request_error", id="openai"),
    pytest.param("anthropic", anthropic.AuthenticationError, 401, "authentication_error", id="anthropic"),
    pytest.param("gemini", genai_errors.ClientError, 403, "PERMISSION_DENIED", id="gemini"),
]


@pytest.mark.parametrize(("dialect", "raised", "status", "kind"), NO_KEY_ANSWERS)
async def test_an_app_that_sends_no_key_to_passthrough_targets_gets_its_providers_no_key_answer(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Any,
    dialect: str,
    raised: type[Exception],
    status: int,
    kind: str,
) -> None:
    """Route [m0, m1], both passing the app's key through, and an app that sends no key: the status and
    type its provider gives a request without a key (OpenAI 401 ``invalid_request_error``, Anthropic 401
    ``authentication_error``, Gemini 403 ``PERMISSION_DENIED``: before wave 37 OpenAI's said
    ``authentication_error`` and Gemini's 401 ``UNAUTHENTICATED``), which the official SDK raises as its
    error of that status, naming the route; not a 503 ``no_target_available`` that reads as the sidecar's
    outage; nothing is called, and x-should-retry is false."""
    urls = await fakes(fake, 2)
    text = chain_policy(urls)
    for i, url in enumerate(urls):
        block = provider_block(f"p{i}", url, "openai")
        text = text.replace(block, block + "    api_key: {passthrough: true}\n")
    running = await sidecar(text)
    error = await _sdk_error_without_a_key(running, dialect, gemini_client)
    assert type(error) is raised
    if isinstance(error, genai_errors.APIError):
        assert (error.code, error.status) == (status, kind)
        assert "route 'chain' passes the app's API key through" in (error.message or "")
    else:
        assert isinstance(error, (openai.APIStatusError, anthropic.APIStatusError))
        assert error.status_code == status and error.response.headers["x-should-retry"] == "false"
        body: Any = error.body  # openai-python gives the error object, the Anthropic SDK the whole body
        assert (body["error"] if isinstance(error, anthropic.APIStatusError) else body)["type"] == kind
        assert "route 'chain' passes the app's API key through" in error.message
    assert [await calls(url) for url in urls] == [0, 0]


async def test_a_missing_key_of_the_sidecars_own_is_still_a_503(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A one-target route whose key variable is not set (the sidecar's own key, not the app's): 503
    `no_target_available` naming the variable, with x-should-retry false: the operator's fault, not the
    app's, so not a 401."""
    urls = await fakes(fake, 1)
    block = provider_block("p0", urls[0], "openai")
    running = await sidecar(
        chain_policy(urls).replace(block, provider_block("p0", urls[0], "openai", key_env="MISSING_KEY"))
    )
    status, headers, raw = await chat(running)
    body = orjson.loads(raw)
    assert status == 503 and headers["x-should-retry"] == "false"
    assert body["error"]["code"] == "no_target_available" and "MISSING_KEY" in body["error"]["message"]
