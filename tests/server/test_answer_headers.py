"""The sidecar's headers, from one builder, on every kind of answer; x-sidecar-attempts means one thing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from .chain import CONNECT


def policy(urls: list[str], extra: str = "") -> str:
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, " + CONNECT + "}\nproviders:\n"
    text += "".join(provider_block(f"p{i}", url, "openai") for i, url in enumerate(urls))
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(urls)))
    text += "routes:\n  - {name: chain, match: {model: chain}, target: [m0, m1]}\n"
    text += "  - {name: closed, match: {model: closed}, deny: {message: not here, status: 403}}\n"
    text += "  - name: canned\n    match: {model: canned}\n    target: [m0]\n"
    text += "    resilience: {last_resort: {kind: static, static: {text: sorry}}}\n"
    return text + extra


async def post(
    running: RunningSidecar, body: Any, fault: str = "", stream: bool = False
) -> tuple[int, dict[str, str], bytes]:
    if isinstance(body, dict):
        body = {**body, "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{running.url}/v1/chat/completions",
            data=body if isinstance(body, bytes) else None,
            json=None if isinstance(body, bytes) else body,
            headers={"x-fake-fault": fault, "content-type": "application/json"},
        ) as response,
    ):
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "headers please"}]}


def last_access(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_answer_names_the_route_the_model_and_the_calls_made(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """A proxied answer, streamed or not, after a fallback: route, model, upstream model, provider,
    why the first target did not serve, and 2 calls, the count the access line gives."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, chat("chain"), fault="f0:status=503", stream=stream)
    assert status == 200
    assert headers["x-sidecar-route"] == "chain" and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-upstream-model"] == "up1" and headers["x-sidecar-provider"] == "p1"
    assert headers["x-sidecar-fallback-reason"] == "overloaded"
    assert headers["x-sidecar-attempts"] == "2" == str(last_access(running)["attempts"])
    assert headers["x-sidecar-request-id"] == last_access(running)["request_id"]
    assert headers["x-sidecar-policy-version"] == running.state.holder.policy.version


async def test_a_hedged_stream_counts_both_calls_made(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream the hedge won reports the two calls made when its head was sent, as the access line does."""
    urls = [await fake("f0", latency_ms=3000), await fake("f1")]
    running = await sidecar(
        policy(urls).replace("target: [m0, m1]}", "target: [m0, m1], resilience: {hedge: {after_s: 0.1}}}")
    )
    status, headers, _ = await post(running, chat("chain"), stream=True)
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-attempts"] == "2" == str(last_access(running)["attempts"])


async def test_an_error_before_routing_carries_the_request_id_and_policy_version(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A body that is not JSON gets the request id and policy version, and no route (none was taken)."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, b"{not json")
    assert status == 400
    assert headers["x-sidecar-request-id"] and headers["x-sidecar-policy-version"]
    assert "x-sidecar-route" not in headers and "x-sidecar-attempts" not in headers


async def test_a_denied_request_names_its_route_and_no_call(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A route's deny answers with its status, the route's name and 0 calls."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, chat("closed"))
    assert status == 403
    assert headers["x-sidecar-route"] == "closed" and headers["x-sidecar-attempts"] == "0"


async def test_every_target_failed_names_the_route_the_calls_and_when_to_retry(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The 503 after a chain failed carries the route, the calls made, the first reason and Retry-After."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, chat("chain"), fault="status=503;times=99")
    assert status == 503
    assert headers["x-sidecar-route"] == "chain" and headers["x-sidecar-fallback-reason"] == "overloaded"
    assert headers["x-sidecar-attempts"] == str(last_access(running)["attempts"])
    assert "x-sidecar-model" not in headers and int(headers["retry-after"]) >= 1


async def test_the_upstreams_own_error_names_the_target_that_sent_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A request the upstream refuses (400) passes through with that target's model and one call."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, chat("chain"), fault="f0:status=400")
    assert status == 400
    assert headers["x-sidecar-model"] == "m0" and headers["x-sidecar-attempts"] == "1"


@pytest.mark.parametrize("stream", [False, True])
async def test_the_last_resort_answer_says_it_is_degraded(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """A canned answer after its target failed is marked degraded static, with the call made."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")]))
    status, headers, _ = await post(running, chat("canned"), fault="f0:status=503;times=9", stream=stream)
    assert status == 200
    assert headers["x-sidecar-degraded"] == "static" and headers["x-sidecar-route"] == "canned"
    assert headers["x-sidecar-attempts"] == str(last_access(running)["attempts"])
    assert "x-sidecar-model" not in headers
    assert last_access(running)["outcome"] == "degraded"


def test_every_sidecar_header_is_documented_and_every_documented_one_exists() -> None:
    """docs/headers.md has a row for every ``x-sidecar-*`` header name the package writes or reads, and
    every header it has a row for (``x-sidecar-*``, ``retry-after``, ``ratelimit``, ``age``, ...) is one
    the package names (the fake provider aside)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names = {
        name.lower()
        for module in (root / "sidecar").rglob("*.py")
        if "fake_provider" not in module.parts
        for name in re.findall(r"[\"']([A-Za-z]+(?:-[A-Za-z]+)*)[\"']", module.read_text())
    }
    in_code = {name for name in names if name.startswith("x-sidecar-")}
    rows = re.findall(r"^\| ([^|]+) \|", (root / "docs" / "headers.md").read_text(), re.M)
    documented = {name for row in rows for name in re.findall(r"`([a-z]+(?:-[a-z]+)*)`", row)}
    assert len(documented - in_code) >= 7  # retry-after, x-should-retry, ratelimit, ratelimit-policy, age, ...
    assert {"undocumented": in_code - documented, "not in the code": documented - names} == {
        "undocumented": set(),
        "not in the code": set(),
    }


SINGLE = "  - {name: single, match: {model: single}, target: m0}\n"


@pytest.mark.parametrize("code", [400, 401, 404, 422])
@pytest.mark.parametrize("should_retry", ["", ";should-retry=true"])
async def test_a_passed_through_client_error_gets_no_retry_after(
    fake: FakeFactory, sidecar: SidecarFactory, code: int, should_retry: str
) -> None:
    """A one-target route's upstream 400 passes through without a Retry-After the sidecar made up (the
    request will not succeed later; only 408, 409, 429 and 5xx carry the last resort's), also when the
    upstream's ``x-should-retry: true`` made the sidecar try it again first."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")], SINGLE))
    status, headers, _ = await post(running, chat("single"), fault=f"f0:status={code}{should_retry}")
    assert status == code and "retry-after" not in headers


@pytest.mark.parametrize("fault", ["status=503;times=99", "status=429;hint=retry-after-ms;after=0.05;times=99"])
async def test_a_passed_through_retryable_error_says_one_wait_in_both_headers(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """A one-target route's upstream 503 or 429 passes through with the last resort's Retry-After (5 s by
    default, over the upstream's 0.05 s hint), and an upstream retry-after-ms, which the SDKs read first,
    says the same wait."""
    running = await sidecar(policy([await fake("f0"), await fake("f1")], SINGLE))
    status, headers, _ = await post(running, chat("single"), fault=f"f0:{fault}")
    assert status == int(fault[7:10]) and headers["retry-after"] == "5"
    assert headers.get("retry-after-ms", "5000") == "5000"
