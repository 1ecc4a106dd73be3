"""What the official SDKs do, with their default retries (two, after ``retry-after``), with the errors the
sidecar writes itself (docs/api.md, "Errors": "What the SDK does next"): the count of requests reaching
the sidecar (its access lines) and the provider, never a time. Node's openai and @anthropic-ai/sdk were
the second judge (same rules: ``x-should-retry`` first, then 408, 409, 429 and 5xx).

The sidecar is the one layer that retries: once it has called its targets (retries, fallback, within
its retry budget and deadline), its error says ``x-should-retry: false`` so that the app's SDK does not
run the whole chain twice more; a rate limit (429) keeps the provider's wait, which the SDK may wait out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from .chain import chain_policy
from .ensemble_policies import ensemble_route, models_policy

QUICK = "    resilience: {last_resort: {retry_after_s: 0}}\n"  # Retry-After: 1, the shortest the SDKs wait


async def fakes(fake: FakeFactory, n: int) -> list[str]:
    return [await fake(f"f{i}") for i in range(n)]


def sidecar_requests(running: RunningSidecar) -> int:
    return sum(1 for line in running.log_lines() if line.get("event") == "access")


async def upstream_calls(running: RunningSidecar, urls: list[str]) -> int:
    return sum([len(await running.fake_requests(url)) for url in urls])


async def ask(running: RunningSidecar, sdk: str, fault: str) -> Any:
    """One chat call through ``sdk`` with its default retries; the error it raised."""
    headers = {"x-fake-fault": fault}
    messages: Any = [{"role": "user", "content": "hello"}]
    if sdk == "openai":
        async with sdk_client(
            openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x", max_retries=openai.DEFAULT_MAX_RETRIES
        ) as client:
            with pytest.raises(openai.APIStatusError) as info:
                await client.chat.completions.create(model="chain", messages=messages, extra_headers=headers)
    else:
        async with sdk_client(
            anthropic.AsyncAnthropic, base_url=running.url, api_key="x", max_retries=anthropic.DEFAULT_MAX_RETRIES
        ) as claude:
            with pytest.raises(anthropic.APIStatusError) as raised:
                await claude.messages.create(model="chain", max_tokens=20, messages=messages, extra_headers=headers)
        return raised.value
    return info.value


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("chain", "fault", "statuses", "calls"),
    [
        (2, "status=503", (503, 503), 3),  # all_targets_failed: the first once, the last retried
        # the provider's own 503 ("overloaded") passed through, after the sidecar's retry: Anthropic's 529
        (1, "status=503", (503, 529), 2),
        (1, "reset", (502, 502), 2),  # a connection failure: 502 reset
        (1, "status=500;should-retry=true", (500, 500), 2),  # the provider's "retry me" was honoured already
    ],
)
async def test_an_error_after_the_sidecar_tried_its_targets_is_not_retried_by_the_sdk(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    sdk: str,
    chain: int,
    fault: str,
    statuses: tuple[int, int],
    calls: int,
) -> None:
    """Every target failed (the chain's 503, a one-target route's upstream error or 502): the SDK, with
    its default two retries, sends the request once, because the answer says ``x-should-retry: false``
    (with ``Retry-After`` still there); the providers saw only the sidecar's own calls. ``statuses``: the
    OpenAI app's, the Anthropic app's (an OpenAI overload is Anthropic's 529 ``overloaded_error``)."""
    urls = await fakes(fake, chain)
    running = await sidecar(chain_policy(urls, route_extra=QUICK))
    error = await ask(running, sdk, fault)
    assert error.status_code == statuses[sdk == "anthropic"]
    assert error.response.headers["x-should-retry"] == "false"
    assert error.response.headers["retry-after"] == "1"
    assert sidecar_requests(running) == 1
    assert await upstream_calls(running, urls) == calls


@pytest.mark.parametrize(("sdk", "status"), [("openai", 429), ("anthropic", 402)])
async def test_a_quota_gone_is_not_retried_by_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: str, status: int
) -> None:
    """A one-target route's provider said its quota is gone (OpenAI's 429 ``insufficient_quota``): the
    sidecar did not retry it (a billing state stays) and the SDK sends the request once: openai-python
    because the 429 says ``x-should-retry: false``, the Anthropic SDK because the answer is Anthropic's
    402 ``billing_error``, a status it never retries."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls, route_extra=QUICK))
    error = await ask(running, sdk, "quota")
    assert error.status_code == status
    assert (sidecar_requests(running), await upstream_calls(running, urls)) == (1, 1)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
async def test_a_client_error_the_sidecar_retried_is_not_retried_by_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: str
) -> None:
    """A one-target route's upstream 400 marked ``x-should-retry: true``, which the sidecar retried: the
    answer says ``x-should-retry: false`` (and, a 400 not succeeding later, no ``Retry-After``), so the
    SDK sends the request once; before, the provider's ``true`` went on and the Python and Node SDKs sent
    it three times, the sidecar calling the provider twice for each."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls, route_extra=QUICK))
    error = await ask(running, sdk, "status=400;should-retry=true")
    assert error.status_code == 400
    assert error.response.headers["x-should-retry"] == "false"
    assert "retry-after" not in error.response.headers
    assert sidecar_requests(running) == 1
    assert await upstream_calls(running, urls) == 2


async def test_a_request_past_its_deadline_is_not_sent_again_by_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A chain that used its whole ``deadline_s`` (a stalled provider) answers 503 that the SDK does not
    retry: three times the deadline would be the app's wait otherwise."""
    urls = await fakes(fake, 2)
    running = await sidecar(
        chain_policy(urls, route_extra="    resilience: {deadline_s: 0.3, last_resort: {retry_after_s: 0}}\n")
    )
    error = await ask(running, "openai", "stall=2")
    assert error.status_code == 503
    assert error.response.headers["x-should-retry"] == "false"
    assert sidecar_requests(running) == 1


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
async def test_a_rate_limit_passed_through_is_left_to_the_sdk_to_wait_out(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: str
) -> None:
    """The provider's 429 with its own wait (here 1 s) reaches the app with that wait and no
    ``x-should-retry``: the SDK waits it out and asks again (its two retries), as it would the provider."""
    urls = await fakes(fake, 1)
    policy = chain_policy(
        urls, route_extra="    resilience: {rate_limit_max_wait_s: 0, last_resort: {retry_after_s: 0}}\n"
    )
    running = await sidecar(policy)
    error = await ask(running, sdk, "status=429;hint=retry-after;after=1")
    assert error.status_code == 429
    assert "x-should-retry" not in error.response.headers
    assert error.response.headers["retry-after"] == "1"
    assert sidecar_requests(running) == 3


async def test_a_failed_ensemble_is_not_asked_again_by_the_sdk(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every member failed (502 ``ensemble_failed``, after each member's chain): openai-python with its
    default retries sends the request once, not three times (each one every member's calls again)."""
    urls = [await fake(f"f{i}", fault="status=503", fault_rate=1.0) for i in range(2)]
    running = await sidecar(models_policy(urls, ensemble_route("m0, m1")))
    async with sdk_client(
        openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x", max_retries=openai.DEFAULT_MAX_RETRIES
    ) as client:
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model="vote", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502
    assert info.value.response.headers["x-should-retry"] == "false"
    assert sidecar_requests(running) == 1


async def test_a_rate_limit_that_resets_in_an_hour_is_raised_at_once(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The provider's 429 says to come back in an hour: the answer keeps that ``Retry-After`` and adds
    ``x-should-retry: false``, so that the Anthropic SDK (which waits any ``retry-after``, twice) raises
    at once instead of holding the app for two hours; one request reaches the sidecar."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls, route_extra=QUICK))
    call = ask(running, "anthropic", "status=429;hint=retry-after;after=3600")
    error = await asyncio.wait_for(call, timeout=30)  # a guard: without the header the SDK sleeps an hour
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "3600"
    assert error.response.headers["x-should-retry"] == "false"
    assert sidecar_requests(running) == 1


async def test_a_request_no_target_could_take_is_left_to_the_sdk_to_retry(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Every target skipped without a call (here its bulkhead full with another request): 503
    ``no_target_available`` with ``Retry-After`` and no ``x-should-retry``: a later try may find room, and
    the sidecar made no call to retry; its message says no target could be called (none failed)."""
    urls = await fakes(fake, 1)
    bulkhead = "  bulkhead: {max_concurrent: 1, queue_timeout_s: 0}\n"
    policy = chain_policy(urls, route_extra=QUICK).replace("providers:\n", bulkhead + "providers:\n", 1)
    running = await sidecar(policy)
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x") as client:
        messages: Any = [{"role": "user", "content": "hello"}]
        busy = asyncio.ensure_future(
            client.chat.completions.create(model="chain", messages=messages, extra_headers={"x-fake-fault": "stall=2"})
        )
        for _ in range(250):  # until the provider holds the first request
            if await running.fake_requests(urls[0]):
                break
            await asyncio.sleep(0.02)
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="chain", messages=messages)
        await busy
    assert raised.value.status_code == 503 and raised.value.code == "no_target_available"
    assert raised.value.message.endswith("no target of route 'chain' could be called now (m0: bulkhead_full)")
    assert raised.value.response.headers["retry-after"] == "1"
    assert "x-should-retry" not in raised.value.response.headers


async def test_answers_no_gate_passed_are_not_asked_for_again_by_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Every target answered and no answer passed the route's quality gate (502 ``quality_gate_failed``):
    openai-python with its default retries sends the request once (not three times, each asking every
    target again)."""
    urls = [await fake("f0", reply="nope"), await fake("f1", reply="[1, 2]")]
    gated = "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {}\n"
    running = await sidecar(models_policy(urls, gated, speaks=("openai",)))
    schema: Any = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    answer_format: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": schema}}
    async with sdk_client(
        openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x", max_retries=openai.DEFAULT_MAX_RETRIES
    ) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(
                model="gated", messages=[{"role": "user", "content": "Label it."}], response_format=answer_format
            )
    assert raised.value.status_code == 502 and raised.value.code == "quality_gate_failed"
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert sidecar_requests(running) == 1
    assert await upstream_calls(running, urls) == 2


ONE_SHOT = "    resilience: {max_attempts_per_target: 1}\n"  # one target, one attempt: no retry of the sidecar's
# ... and the shortest Retry-After on the sidecar's own 502 (1 s, not 5): the SDK's two waits take 2 s, not 10
ONE_SHOT_QUICK = "    resilience: {max_attempts_per_target: 1, last_resort: {retry_after_s: 0}}\n"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("fault", "statuses"),
    [
        ("status=503", (503, 529)),
        ("overloaded", (503, 529)),
        ("status=500", (500, 500)),
        ("reset", (502, 502)),
        ("status=429;after=1", (429, 429)),
    ],
)
async def test_a_route_that_cannot_retry_leaves_the_retries_to_the_sdk(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: str, fault: str, statuses: tuple[int, int]
) -> None:
    """One target and ``max_attempts_per_target: 1``: the sidecar retries nothing, so its error does not
    say ``x-should-retry: false`` and the SDK retries as it would the provider (its two default retries:
    three requests, three provider calls); before, only a 429 was retried and a 5xx was tried once.
    ``statuses``: the OpenAI app's, the Anthropic app's (an OpenAI overload is Anthropic's 529)."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls, route_extra=ONE_SHOT_QUICK))
    error = await ask(running, sdk, fault)
    assert error.status_code == statuses[sdk == "anthropic"]
    assert "x-should-retry" not in error.response.headers
    assert (sidecar_requests(running), await upstream_calls(running, urls)) == (3, 3)


@pytest.mark.parametrize(("sdk", "status"), [("openai", 503), ("anthropic", 529)])
async def test_a_route_that_cannot_retry_passes_the_providers_retry_headers(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: str, status: int
) -> None:
    """One target, one attempt: the provider's ``x-should-retry: false`` reaches the SDK (one request), and
    so does its ``Retry-After`` (here 2 s), not the sidecar's own (the OpenAI provider's 503 "overloaded" is
    Anthropic's 529 for an Anthropic app)."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls, route_extra=ONE_SHOT))
    error = await ask(running, sdk, "status=503;hint=retry-after;after=2;should-retry=false")
    assert error.status_code == status
    assert (error.response.headers["x-should-retry"], error.response.headers["retry-after"]) == ("false", "2")
    assert (sidecar_requests(running), await upstream_calls(running, urls)) == (1, 1)
