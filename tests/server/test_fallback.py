"""Resilience end to end: each injected fault falls back, retries, or fails as the policy says."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from .chain import breaker_series, calls, chain_policy, chat, fakes, metrics_of, set_fault


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("status=503", "overloaded"),
        ("status=500", "http_500"),
        ("status=529", "overloaded"),
        ("status=502", "http_502"),
        ("reset", "reset"),
        ("reset-body", "reset"),
        ("malformed", "malformed_response"),
        ("quota", "insufficient_quota"),
    ],
)
async def test_fault_on_primary_falls_back_to_secondary(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str, reason: str
) -> None:
    """Each immediate upstream failure on the first target is answered by the second one."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    status, headers, body = await chat(running, {"x-fake-fault": f"f0:{fault}"})
    assert status == 200, body
    assert headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-fallback-reason"] == reason
    assert await calls(urls[0]) == 1  # fell back at once, no retry on the failed target


async def test_after_two_failed_targets_the_fallback_reason_is_the_second_ones(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, a chain of three: the first answers 500, the second 503, the third answers. The header
    and the access line's ``fallback_reason`` say the last failed call's error type (``overloaded``), as
    docs/headers.md says; ``attempt_log`` lists both failures in order."""
    urls = await fakes(fake, 3)
    running = await sidecar(chain_policy(urls))
    async with openai_client(running, **{"x-fake-fault": "f0:status=500,f1:status=503"}) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="chain", messages=[{"role": "user", "content": "hello"}]
        )
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-fallback-reason"]) == ("m2", "overloaded")
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    assert (line["outcome"], line["fallback_reason"]) == ("fallback", "overloaded")
    assert line["attempt_log"] == ["m0:http_500", "m1:overloaded", "m2:ok"]


async def test_a_retry_that_the_first_target_answers_is_logged_as_a_fallback(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, a 429 the first target asks to wait 50 ms for, then its answer: the answer is the first
    target's, and the header and the line still say why its first call failed (``rate_limited``, outcome
    ``fallback``), as docs/headers.md and docs/logs.md say."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    fault = "f0:status=429;hint=retry-after-ms;after=0.05;times=1"
    async with openai_client(running, **{"x-fake-fault": fault}) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="chain", messages=[{"role": "user", "content": "hello"}]
        )
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-fallback-reason"]) == ("m0", "rate_limited")
    [line] = [line for line in running.log_lines() if line.get("event") == "access"]
    assert (line["outcome"], line["fallback_reason"], line["attempt_log"]) == (
        "fallback",
        "rate_limited",
        ["m0:rate_limited", "m0:ok"],
    )


async def test_stall_before_first_byte_costs_one_timeout(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stalled target costs one first-byte timeout, then the next target answers."""
    urls = await fakes(fake, 2)
    policy = chain_policy(urls, route_extra="    resilience: {timeouts: {first_byte_s: 0.3}}\n")
    running = await sidecar(policy)
    started = time.monotonic()
    status, headers, _ = await chat(running, {"x-fake-fault": "f0:stall=5"})
    elapsed = time.monotonic() - started
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "timeout_first_byte"
    assert elapsed < 1.5


async def test_rate_limit_with_short_hint_retries_the_same_target(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A 429 whose reset hint is under the cap is waited out on the same target."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    status, headers, _ = await chat(running, {"x-fake-fault": "f0:status=429;hint=retry-after-ms;after=0.05;times=1"})
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert headers["x-sidecar-attempts"] == "2"
    assert await calls(urls[1]) == 0


async def test_rate_limit_with_long_hint_falls_back(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A 429 asking for longer than rate_limit_max_wait_s moves to the next target instead of waiting."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    started = time.monotonic()
    status, headers, _ = await chat(running, {"x-fake-fault": "f0:status=429;hint=retry-after;after=60"})
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-fallback-reason"] == "rate_limited"
    assert time.monotonic() - started < 1.0


async def test_context_overflow_moves_to_a_larger_window(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A context-overflow error skips targets with no larger window and lands on one that has it."""
    urls = await fakes(fake, 3)
    running = await sidecar(chain_policy(urls, windows=[8000, 8000, 128000]))
    status, headers, _ = await chat(running, {"x-fake-fault": "f0:context"})
    assert status == 200 and headers["x-sidecar-model"] == "m2"
    assert await calls(urls[1]) == 0


async def test_request_errors_fail_fast_without_fallback(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A 400 caused by the request goes back to the caller as is; the next target is not called."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    status, _, _ = await chat(running, {"x-fake-fault": "f0:status=400"})
    assert status == 400
    assert await calls(urls[1]) == 0


async def test_every_target_failing_gives_503_listing_attempts(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """When the whole chain fails: 503, Retry-After, and each attempt with target, outcome and latency."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls))
    status, headers, body = await chat(running, {"x-fake-fault": "status=503"})
    assert status == 503 and int(headers["retry-after"]) >= 1
    import orjson

    attempts = orjson.loads(body)["error"]["attempts"]
    assert [a["target"] for a in attempts][:2] == ["m0", "m1"]
    assert all(a["outcome"] == "overloaded" and a["status"] == 503 and a["latency_ms"] >= 0 for a in attempts)


async def test_static_last_resort_answers_as_a_completion(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With last_resort static, the SDK gets the canned text as a normal completion, marked degraded."""
    urls = await fakes(fake, 1)
    extra = "    resilience: {last_resort: {kind: static, static: {text: 'try later'}}}\n"
    running = await sidecar(chain_policy(urls, route_extra=extra))
    client = openai_client(running)
    raw = await client.chat.completions.with_raw_response.create(
        model="chain",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-fake-fault": "status=503"},
    )
    assert raw.parse().choices[0].message.content == "try later"
    assert raw.headers["x-sidecar-degraded"] == "static"
    await client.close()


BREAKER = "  breaker: {window_size: 10, minimum_calls: 3, failure_rate: 0.5, open_s: 0.5, half_open_probes: 1}\n"


async def test_breaker_opens_skips_half_opens_and_closes(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A failing target opens its breaker, is skipped with no call, is probed after open_s, and closes."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls, extra_defaults=BREAKER))
    await set_fault(urls[0], {"fault": "status=503"})
    for _ in range(3):
        assert (await chat(running))[0] == 200
    assert await calls(urls[0]) == 3
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-fallback-reason"] == "breaker_open"
    assert await calls(urls[0]) == 3  # skipped without a network call
    state = running.state.targets.snapshot()["p0/up0"]["breaker"]
    assert state["state"] == "open"
    transitions = [line for line in running.log_lines() if line.get("event") == "breaker_transition"]
    assert transitions[-1]["target"] == "p0/up0" and transitions[-1]["to_state"] == "open"
    await set_fault(urls[0], {"fault": None, "fault_rate": 0})
    await asyncio.sleep(0.6)
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0"  # the half-open probe succeeded
    assert running.state.targets.snapshot()["p0/up0"]["breaker"]["state"] == "closed"


async def test_retry_budget_caps_amplification(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With one dead target and many attempts allowed, retries stay within the budget."""
    urls = await fakes(fake, 1)
    defaults = (
        "  retry_budget: {ratio: 0.2, min_retries: 2, window_s: 60}\n"
        "  breaker: {minimum_calls: 1000, window_size: 1000}\n"
    )
    policy = chain_policy(urls, extra_defaults=defaults, route_extra="    resilience: {max_attempts_per_target: 5}\n")
    running = await sidecar(policy)
    for _ in range(20):
        await chat(running, {"x-fake-fault": "status=503"})
    assert await calls(urls[0]) <= 20 + 2 + int(0.2 * 20) + 1


async def test_deadline_covers_all_attempts(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A chain of stalling targets gives up at the route's deadline, not after every timeout."""
    urls = await fakes(fake, 3)
    extra = "    resilience: {deadline_s: 0.6, timeouts: {first_byte_s: 5}}\n"
    running = await sidecar(chain_policy(urls, route_extra=extra))
    started = time.monotonic()
    status, _, _ = await chat(running, {"x-fake-fault": "stall=5"})
    assert status in (503, 504)
    assert time.monotonic() - started < 1.5


async def test_all_breakers_open_still_calls_in_panic_mode(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """When every target's breaker is open, the targets are called anyway (once each) rather than refusing."""
    urls = await fakes(fake, 2)
    breaker = "  breaker: {window_size: 10, minimum_calls: 3, failure_rate: 0.5, open_s: 30}\n"
    running = await sidecar(chain_policy(urls, extra_defaults=breaker))
    for _ in range(3):
        await chat(running, {"x-fake-fault": "status=503"})
    snapshot = running.state.targets.snapshot()
    assert snapshot["p0/up0"]["breaker"]["state"] == snapshot["p1/up1"]["breaker"]["state"] == "open"
    status, headers, _ = await chat(running, {"x-fake-fault": "f0:status=503"})  # f1 has recovered
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert running.state.targets.snapshot()["p1/up1"]["breaker"]["state"] == "open"  # panic calls do not report


async def test_streamed_response_has_one_content_type(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A relayed stream carries exactly one Content-Type and one Cache-Control header."""
    urls = await fakes(fake, 1)
    running = await sidecar(chain_policy(urls))
    body = {"model": "chain", "messages": [{"role": "user", "content": "x"}], "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        await response.read()
        assert response.headers.getall("content-type") == ["text/event-stream; charset=utf-8"]
        assert response.headers.getall("cache-control") == ["no-cache"]


async def first_breaker_open(fake: FakeFactory, sidecar: SidecarFactory) -> tuple[list[str], RunningSidecar]:
    """Two fakes behind a chain, the first answering 503 until its breaker opens (state gauge 2)."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls, extra_defaults=BREAKER))
    await set_fault(urls[0], {"fault": "status=503"})
    for _ in range(4):
        await chat(running)
    assert breaker_series(await metrics_of(running), "p0/up0")["state"] == 2.0
    return urls, running


async def test_breaker_series_exist_from_a_targets_first_call(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Once a target is called, its breaker state gauge is 0 (closed) and its transition counters are 0,
    so the dashboard's *Breaker state per target* lists it and Prometheus's rate() of
    llm_sidecar_breaker_transitions_total{to="open"} sees its first trip (a series born at 1 has no
    increase)."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls, extra_defaults=BREAKER))
    assert (await chat(running))[0] == 200
    assert breaker_series(await metrics_of(running), "p0/up0") == {
        "state": 0.0, "open": 0.0, "half_open": 0.0, "closed": 0.0
    }  # fmt: skip


async def test_a_reload_restarting_a_breaker_sets_its_gauge_to_closed(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A reload that changes the breaker settings starts each target's breaker afresh, closed (as /status
    says): llm_sidecar_breaker_state follows at the target's next call instead of staying at open,
    which would keep LLMSidecarBreakerOpen firing on a healthy target that never transitions again."""
    urls, running = await first_breaker_open(fake, sidecar)
    await set_fault(urls[0], {"fault": None, "fault_rate": 0})
    running.policy_path.write_text(chain_policy(urls, extra_defaults=BREAKER.replace("open_s: 0.5", "open_s: 30")))
    for _ in range(40):
        await asyncio.sleep(0.05)
        if running.state.holder.policy.breaker.open_s == 30:
            break
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert running.state.targets.snapshot()["p0/up0"]["breaker"]["state"] == "closed"
    assert breaker_series(await metrics_of(running), "p0/up0")["state"] == 0.0


async def test_a_target_removed_by_a_reload_leaves_the_breaker_gauge(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The runbook's act for an open breaker may be to take its target out of the policy: after that
    reload the target's llm_sidecar_breaker_state series is gone (an 'open' left behind would keep
    LLMSidecarBreakerOpen firing for a target nothing calls) and /status no longer lists it."""
    urls, running = await first_breaker_open(fake, sidecar)
    running.policy_path.write_text(
        chain_policy(urls[1:], extra_defaults=BREAKER).replace("p0", "p1").replace("m0", "m1")
    )
    for _ in range(40):
        await asyncio.sleep(0.05)
        if "p0/up0" not in running.state.targets.snapshot():
            break
    assert "p0/up0" not in running.state.targets.snapshot()
    assert "state" not in breaker_series(await metrics_of(running), "p0/up0")
