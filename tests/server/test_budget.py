"""Budgets on the request path (server.budget): admission, the 429 in each dialect, downgrade, warn,
target quotas, settlement of answers and streams, and what shows (headers, access line, span, /status,
metrics). A real sidecar, real fake providers, the official SDKs; the local store (Redis: tests/budgets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from sidecar.routing.tokens import estimate_joined
from sidecar.server.budget_use import UsedTap
from sidecar.translate.deltas import Text

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from .budget_policies import budget_rows, chat, close_after_a_few_words, policy, two_fakes
from .raw import read_response


@pytest.fixture
async def sdk() -> AsyncIterator[Callable[[RunningSidecar], openai.AsyncOpenAI]]:
    """An OpenAI SDK client on a running sidecar (no retries), closed after the test."""
    made: list[openai.AsyncOpenAI] = []

    def make(running: RunningSidecar) -> openai.AsyncOpenAI:
        made.append(sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key"))
        return made[-1]

    yield make
    for client in made:
        await client.close()


OpenAIs = Callable[[RunningSidecar], openai.AsyncOpenAI]

DAY_DENY = "    - {name: team-day, measure: usd, amount: 0.01, window: day}\n"
MINUTE_DENY = "    - {name: team-minute, measure: usd, amount: 0.01, window: minute}\n"


async def test_deny_is_an_openai_rate_limit_error_naming_the_limit(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A request whose estimate passes a deny limit raises openai.RateLimitError; the message names the
    limit, Retry-After counts down to the window's end, and the SDK is told not to retry a day-long wait."""
    running = await sidecar(policy(*await two_fakes(fake), DAY_DENY))
    client = sdk(running)
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(**chat())
    response = raised.value.response
    assert "budget limit 'team-day' reached" in raised.value.message
    wait_s = int(response.headers["retry-after"])
    assert 0 < wait_s <= 86_400
    # The day's window ends at 00:00 UTC: in its last minute the wait is short, and the header is left out.
    assert response.headers.get("x-should-retry") == ("false" if wait_s > 60 else None)
    assert response.headers["x-sidecar-budget-action"] == "deny:team-day"


async def test_a_deny_whose_window_resets_within_a_minute_does_not_forbid_retries(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A denial by a minute-long window: Retry-After is at most 60 s and no ``x-should-retry: false``
    is sent, so the SDK's own retry rule (it honours a wait of up to a minute) decides."""
    running = await sidecar(policy(*await two_fakes(fake), MINUTE_DENY))
    client = sdk(running)
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(**chat())
    response = raised.value.response
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert "x-should-retry" not in response.headers


async def test_deny_is_an_anthropic_rate_limit_error(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """The same denial to /v1/messages raises anthropic.RateLimitError with the limit in the message."""
    running = await sidecar(policy(*await two_fakes(fake), DAY_DENY))
    client = sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key")
    with pytest.raises(anthropic.RateLimitError) as raised:
        await client.messages.create(model="chat", max_tokens=20, messages=[{"role": "user", "content": "hello there"}])
    assert "team-day" in raised.value.message
    await client.close()


async def test_deny_is_a_gemini_429(fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any) -> None:
    """The same denial to generateContent raises google-genai's ClientError with code 429 and
    RESOURCE_EXHAUSTED, the limit in the message."""
    from google.genai import errors, types

    running = await sidecar(policy(*await two_fakes(fake), DAY_DENY))
    client = gemini_client(running.url)
    with pytest.raises(errors.ClientError) as raised:
        await client.aio.models.generate_content(
            model="chat", contents="hello there", config=types.GenerateContentConfig(max_output_tokens=20)
        )
    assert raised.value.code == 429 and raised.value.status == "RESOURCE_EXHAUSTED"
    assert "team-day" in (raised.value.message or "")


async def test_downgrade_serves_the_cheaper_target(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """Past a downgrade limit the request is served by the limit's downgrade_to model, flagged."""
    limits = (
        "    - {name: route-day, measure: usd, amount: 0.01, window: day, action: downgrade, downgrade_to: [small]}\n"
    )
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert raw.headers["x-sidecar-model"] == "small"
    assert raw.headers["x-sidecar-budget-action"] == "downgrade:route-day"
    assert raw.parse().choices[0].message.content


async def test_soft_threshold_downgrades_before_the_hard_limit(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """Between soft.at x amount and the amount, a soft downgrade serves the cheaper list (flagged soft)."""
    limits = (
        "    - {name: team-day, measure: usd, amount: 1, window: day,"
        " soft: {at: 0.01, action: downgrade, downgrade_to: [small]}}\n"
    )
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert raw.headers["x-sidecar-model"] == "small"
    assert raw.headers["x-sidecar-budget-action"] == "downgrade:team-day:soft"


async def test_warn_serves_and_flags_in_header_access_line_and_span(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A warn limit passed serves the route's chain and flags it: header, access-line field, span event."""
    # a month window: a minute could turn between the two requests and count the second in a new window
    limits = "    - {name: app-requests, measure: requests, amount: 1, window: month, action: warn}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    await client.chat.completions.create(**chat())
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert raw.headers["x-sidecar-model"] == "big"
    assert raw.headers["x-sidecar-budget-action"] == "warn:app-requests"
    access = [line for line in running.log_lines() if line.get("event") == "access"]
    assert [line.get("budget") for line in access] == [None, "warn:app-requests"]
    events = [e for span in running.spans.get_finished_spans() for e in span.events if e.name == "sidecar.budget"]
    assert len(events) == 1 and events[0].attributes["sidecar.budget.limit"] == "app-requests"


async def test_provider_quota_skips_to_the_next_target(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A provider's token quota that the request would pass skips that provider's target without a
    call: the next target serves, and the attempt log says why."""
    limits = (
        "    - {name: one-tpm, measure: tokens, amount: 10, window: minute,"
        " scope: {by: provider, values: [one], others: exempt}}\n"
    )
    primary, secondary = await two_fakes(fake)
    running = await sidecar(policy(primary, secondary, limits))
    client = sdk(running)
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert raw.headers["x-sidecar-model"] == "alt"
    assert await running.fake_requests(primary) == []
    access = [line for line in running.log_lines() if line.get("event") == "access"]
    assert access[0]["attempt_log"] == ["big:budget", "alt:ok"]


async def test_every_target_over_its_quota_is_denied(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """When every target of the chain is over its quota, the request is a 429 saying so."""
    limits = "    - {name: tpm, measure: tokens, amount: 10, window: minute, scope: {by: provider}}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(**chat())
    assert "every target is over its quota" in raised.value.message


async def test_an_answer_settles_its_actual_cost(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """After an answer, the counter holds the cost of the usage the provider reported, not the estimate."""
    limits = "    - {name: team-month, measure: usd, amount: 100, window: month}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    answer = await client.chat.completions.create(**chat(max_tokens=500))
    assert answer.usage is not None
    expected = (answer.usage.prompt_tokens + answer.usage.completion_tokens) * 0.001
    row = (await budget_rows(running))["team-month/*"]
    assert row["used"] == pytest.approx(expected)


async def test_a_stream_settles_its_usage(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """A streamed answer settles the usage of its stream once it has ended (tokens counted exactly)."""
    limits = "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    stream = await client.chat.completions.create(
        **chat(max_tokens=500), stream=True, stream_options={"include_usage": True}
    )
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
    assert usage is not None
    row = (await budget_rows(running))["tokens-month/*"]
    assert row["used"] == usage.prompt_tokens + usage.completion_tokens


async def test_a_failed_request_releases_its_reservation(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A request every target fails (503s) bills nothing: its reservation is released, the counter stays 0."""
    limits = "    - {name: req-month, measure: requests, amount: 100, window: month}\n"
    broken_one, broken_two = (
        await fake("one", fault="status=503", fault_rate=1),
        await fake("two", fault="status=503", fault_rate=1),
    )
    running = await sidecar(policy(broken_one, broken_two, limits))
    client = sdk(running)
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(**chat())
    assert (await budget_rows(running))["req-month/*"]["used"] == 0


async def test_a_fallback_answer_is_charged_at_the_price_of_the_target_that_answered(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """The route's first target fails (503) and the second, cheaper one answers: the counter holds the
    answer's usage at the second target's prices, not the first's nor the reservation."""
    limits = "    - {name: team-month, measure: usd, amount: 100, window: month}\n"
    broken = await fake("one", fault="status=503", fault_rate=1)
    running = await sidecar(policy(broken, await fake("two"), limits, route="[big, small]"))
    answer = await sdk(running).chat.completions.create(**chat(max_tokens=500))
    assert answer.usage is not None
    expected = (answer.usage.prompt_tokens + answer.usage.completion_tokens) * 0.000001  # small: 1 $/Mtok
    assert (await budget_rows(running))["team-month/*"]["used"] == pytest.approx(expected)


async def test_a_stream_cut_before_its_usage_is_charged_what_it_sent(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A stream the provider cuts after a few events, before any usage: the caller got part of an answer
    and no count came, so its prompt estimate and the output it sent, estimated, are charged, neither
    released nor the reservation of its max_tokens (before 2026-12-04: the reservation)."""
    limits = "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
    cut = await fake("one", reply=LONG_REPLY, fault="cut=3", fault_rate=1)
    running = await sidecar(policy(cut, await fake("two"), limits, route="big"))
    stream = await sdk(running).chat.completions.create(**chat(max_tokens=RESERVED), stream=True)
    received = ""
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            received += chunk.choices[0].delta.content or "" if chunk.choices else ""
    used = (await budget_rows(running))["tokens-month/*"]["used"]
    assert received and len(received) / 4 < used < 50  # the prompt of "hello there", by the byte estimate, and the text


async def test_headers_show_the_tightest_limit_when_enabled(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """With budgets.headers, an answer carries the remaining budget, its reset and the RateLimit pair."""
    limits = "    - {name: req-min, measure: requests, amount: 10, window: minute}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits, headers=True))
    client = sdk(running)
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert raw.headers["x-sidecar-budget-limit"] == "req-min"
    assert raw.headers["x-sidecar-budget-remaining"] == "9"
    assert 0 < int(raw.headers["x-sidecar-budget-reset"]) <= 60
    assert raw.headers["ratelimit"].startswith('"req-min";r=9;t=')
    assert raw.headers["ratelimit-policy"] == '"req-min";q=10;w=60'


async def test_a_deny_carries_the_rate_limit_pair_of_the_limit_that_denied_it(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """With budgets.headers, the 429 of a denied request carries the denying limit's remaining budget and
    reset, and the RateLimit pair (nothing left, its reset), as the answers before it did."""
    limits = "    - {name: req-min, measure: requests, amount: 1, window: minute}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits, headers=True))
    client = sdk(running)
    await client.chat.completions.create(**chat())
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(**chat())
    headers = raised.value.response.headers
    assert headers["x-sidecar-budget-limit"] == "req-min"
    assert headers["x-sidecar-budget-remaining"] == "0"
    reset = int(headers["x-sidecar-budget-reset"])
    assert abs(reset - int(headers["retry-after"])) <= 1  # each read the clock once, maybe a second apart
    assert headers["ratelimit"] == f'"req-min";r=0;t={reset}'
    assert headers["ratelimit-policy"] == '"req-min";q=1;w=60'


async def test_headers_are_off_by_default(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """Without budgets.headers, an answer no limit acted on carries no budget header."""
    limits = "    - {name: req-min, measure: requests, amount: 10, window: minute}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    raw = await client.chat.completions.with_raw_response.create(**chat())
    assert not [name for name in raw.headers if "budget" in name or name.startswith("ratelimit")]


async def test_a_deny_without_the_opt_in_carries_only_the_action_header(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """Without budgets.headers, the 429 of a denied request names the limit in x-sidecar-budget-action (and
    its message) but carries no x-sidecar-budget-limit, -remaining, -reset nor RateLimit pair, as
    docs/headers.md says (only with headers: true). Before, a deny sent them whatever the policy said."""
    limits = "    - {name: req-min, measure: requests, amount: 1, window: minute}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    await client.chat.completions.create(**chat())
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(**chat())
    headers = raised.value.response.headers
    assert headers["x-sidecar-budget-action"] == "deny:req-min" and int(headers["retry-after"]) > 0
    assert not [
        name
        for name in headers
        if name.startswith(("x-sidecar-budget-", "ratelimit")) and name != "x-sidecar-budget-action"
    ]


async def test_metrics_export_use_per_limit_and_scope(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """/metrics has the used and remaining gauges per limit and named scope value (others as other)."""
    limits = (
        "    - {name: by-team, measure: requests, amount: 10, window: month,"
        " scope: {by: header, header: x-team, values: [search]}}\n"
    )
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    await client.chat.completions.create(**chat(), extra_headers={"x-team": "search"})
    await client.chat.completions.create(**chat(), extra_headers={"x-team": "ads"})
    await client.chat.completions.create(**chat(), extra_headers={"x-team": "ads"})
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    assert 'llm_sidecar_budget_used{limit="by-team",measure="requests",scope="search",window="month"} 1.0' in text
    assert 'llm_sidecar_budget_used{limit="by-team",measure="requests",scope="other",window="month"} 2.0' in text
    assert 'llm_sidecar_budget_remaining{limit="by-team",measure="requests",scope="other",window="month"} 8.0' in text


async def test_a_reload_keeps_the_counters(fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs) -> None:
    """A policy reload with the same store keeps what was counted (the limit keeps its name and window)."""
    import asyncio

    limits = "    - {name: req-month, measure: requests, amount: 100, window: month}\n"
    primary, secondary = await two_fakes(fake)
    running = await sidecar(policy(primary, secondary, limits))
    client = sdk(running)
    await client.chat.completions.create(**chat())
    version = running.state.holder.policy.version
    running.policy_path.write_text(policy(primary, secondary, limits.replace("100", "50")))
    for _ in range(100):
        if running.state.holder.policy.version != version:
            break
        await asyncio.sleep(0.05)
    row = (await budget_rows(running))["req-month/*"]
    assert row["amount"] == 50 and row["used"] == 1


async def test_an_ensemble_settles_the_cost_of_every_member(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """An ensemble route's request is charged what all its members' calls cost (the access line's
    cost_usd), not only the answer the caller got."""
    limits = "    - {name: team-month, measure: usd, amount: 100, window: month}\n"
    text = policy(*await two_fakes(fake), limits).replace(
        "target: [big, alt]}", "ensemble: {members: [big, alt], early_quorum: false}}"
    )
    running = await sidecar(text)
    answer = await sdk(running).chat.completions.create(**chat(max_tokens=500))
    assert answer.usage is not None
    one_call = (answer.usage.prompt_tokens + answer.usage.completion_tokens) * 0.001
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    row = (await budget_rows(running))["team-month/*"]
    assert row["used"] == pytest.approx(access["cost_usd"]) and row["used"] > one_call * 1.5


async def test_answers_a_gate_rejected_are_charged_when_the_caller_gets_an_error(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """Every target's answer fails the route's gate: the caller gets the gate's error, and the budget is
    charged what those rejected calls cost (the access line's cost_usd), not released."""
    limits = "    - {name: team-month, measure: usd, amount: 100, window: month}\n"
    text = policy(*await two_fakes(fake), limits).replace(
        "target: [big, alt]}", 'target: [big, alt], gates: {regex: {pattern: "^NEVER"}, on_fail: next_target}}'
    )
    running = await sidecar(text)
    with pytest.raises(openai.APIStatusError) as raised:
        await sdk(running).chat.completions.create(**chat(max_tokens=50))
    assert raised.value.status_code == 502
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    row = (await budget_rows(running))["team-month/*"]
    assert access["cost_usd"] > 0 and row["used"] == pytest.approx(access["cost_usd"])


LONG_REPLY = " ".join(f"word{i}" for i in range(400))
RESERVED = 1000  # max_tokens of the cancelled requests: their reservation is over 1,000 tokens


async def settled_tokens(running: RunningSidecar) -> float:
    """The tokens-month counter once the cancelled request's reservation is gone (settled or released)."""
    import asyncio

    for _ in range(200):
        used = (await budget_rows(running))["tokens-month/*"]["used"]
        if used < RESERVED:
            return float(used)
        await asyncio.sleep(0.05)
    return float(used)


async def test_a_stream_cancelled_midway_is_charged_what_was_streamed(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs
) -> None:
    """A caller that closes a stream after a few chunks is charged its prompt and the output streamed so
    far (the provider reported no usage yet), not the reservation of its max_tokens."""
    limits = "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
    slow = await fake("one", reply=LONG_REPLY, tokens_per_s=40)
    running = await sidecar(policy(slow, await fake("two"), limits, route="big"))
    received = await close_after_a_few_words(sdk(running))
    used = await settled_tokens(running)
    streamed_tokens = len(received) / 4
    assert streamed_tokens <= used < 100  # the prompt (a few dozen tokens at most) and what was streamed


async def test_an_unstreamed_request_cancelled_before_its_answer_is_charged_its_input(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A caller that gives up on an unstreamed request before the answer is charged the prompt estimate
    (the provider bills the input of a call it received), nothing for the output it never got."""
    import asyncio

    limits = "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
    slow = await fake("one", latency_ms=5000)
    running = await sidecar(policy(slow, await fake("two"), limits, route="big"))
    body = chat(max_tokens=RESERVED)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                running.url + "/v1/chat/completions", json=body, timeout=aiohttp.ClientTimeout(total=0.5)
            )
    used = await settled_tokens(running)
    assert 0 < used < 50  # the prompt of "hello there" in a chat body, by the byte estimate


async def cancelled_access_line(running: RunningSidecar, sdk: OpenAIs, stream: bool) -> dict[str, Any]:
    """Cancel a request after its call started (a stream after a few chunks, an unstreamed call after
    0.5 s, before its answer) and return its access line."""
    if stream:
        await close_after_a_few_words(sdk(running))
    else:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.post(
                    running.url + "/v1/chat/completions", json=chat(RESERVED), timeout=aiohttp.ClientTimeout(total=0.5)
                )
    for _ in range(200):
        lines = [line for line in running.log_lines() if line.get("event") == "access"]
        if lines:
            break
        await asyncio.sleep(0.05)
    (line,) = lines
    return line


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_a_cancelled_requests_access_line_costs_what_the_budget_charged(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs, stream: bool
) -> None:
    """A request the app cancels after its call started (a stream after a few chunks, an unstreamed call
    before its answer): the ``client_closed`` access line carries the tokens the budget charged and their
    cost, equal to the usd budget's charge (it had neither: spend summed from the lines missed them)."""
    limits = "    - {name: usd-month, measure: usd, amount: 1000, window: month}\n"
    slow = await fake("one", reply=LONG_REPLY, tokens_per_s=40) if stream else await fake("one", latency_ms=5000)
    running = await sidecar(policy(slow, await fake("two"), limits, route="big"))
    line = await cancelled_access_line(running, sdk, stream)
    charged = (await budget_rows(running))["usd-month/*"]["used"]
    assert line["outcome"] == "client_closed"
    assert line["input_tokens"] > 0 and (line["output_tokens"] > 0) is stream
    assert line["cost_usd"] == pytest.approx((line["input_tokens"] + line["output_tokens"]) * 0.001) == charged


async def test_a_request_for_several_answers_reserves_the_output_of_each(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs, gemini_client: Any
) -> None:
    """Three answers of at most 200 tokens each are billed up to 600 output tokens: a request with ``n=3``
    (OpenAI) or ``candidate_count=3`` (Gemini) is refused by a 500-token limit that one answer's
    reservation fits in (it reserved one answer's output and passed; the limit could be overshot by
    twice max_tokens), while the same request for one answer is served."""
    from google.genai import errors, types

    limits = "    - {name: tokens-month, measure: tokens, amount: 500, window: month}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    client = sdk(running)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(**chat(max_tokens=200), n=3)
    gemini = gemini_client(running.url)
    config = types.GenerateContentConfig(max_output_tokens=200, candidate_count=3)
    with pytest.raises(errors.ClientError) as raised:
        await gemini.aio.models.generate_content(model="chat", contents="hello there", config=config)
    assert raised.value.code == 429
    assert (await client.chat.completions.with_raw_response.create(**chat(max_tokens=200))).status_code == 200


async def test_a_caller_key_counts_the_same_whichever_header_carries_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The key limit's counter is the key's: the same key as a Bearer token (OpenAI SDK, twice) and as
    x-api-key (Anthropic SDK) counts three requests on one counter; another key has its own."""
    limits = "    - {name: key-rpm, measure: requests, amount: 100, window: month, scope: {by: key}}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    message = {"model": "chat", "max_tokens": 20, "messages": [{"role": "user", "content": "hello there"}]}
    async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="key-a") as client:
        await client.chat.completions.create(**chat())
        await client.chat.completions.create(**chat())
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="key-a") as claude:
        await claude.messages.create(**message)
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="key-b") as claude:
        await claude.messages.create(**message)
    uses = sorted(row["used"] for name, row in (await budget_rows(running)).items() if name.startswith("key-rpm/"))
    assert uses == [1.0, 3.0]


async def test_a_caller_key_in_the_query_counts_as_that_key(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A key sent as ``?key=`` (Gemini's convention) counts on the same counter as that key sent as a
    Bearer token; a request with neither counts under no key."""
    limits = "    - {name: key-rpm, measure: requests, amount: 100, window: month, scope: {by: key}}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="key-a") as client:
        await client.chat.completions.create(**chat())
    async with aiohttp.ClientSession() as session:
        for suffix in ("?key=key-a", ""):
            async with session.post(running.url + "/v1/chat/completions" + suffix, json=chat()) as answer:
                assert answer.status == 200
    rows = await budget_rows(running)
    uses = sorted(row["used"] for name, row in rows.items() if name.startswith("key-rpm/"))
    assert uses == [1.0, 2.0]


def test_a_long_stream_is_counted_without_being_held() -> None:
    """A stream of 8 MB of text (an upstream that streams without end): the tap used for a cancelled
    stream's charge holds at most ``FOLD_CHARS`` of it, and its estimate stays within 1 % of the whole
    text's."""
    tap = UsedTap()
    words = "the bug queue handles billing disputes, " * 25  # 1,000 characters
    for _ in range(8_000):
        tap.feed(Text(words))
        assert sum(len(text) for text in tap.texts) <= UsedTap.FOLD_CHARS + len(words)
    whole = estimate_joined([words] * 8_000)
    assert abs(tap.streamed_tokens() - whole) <= whole / 100


async def test_a_header_scope_value_that_is_not_utf8_is_counted_and_shown(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A limit by header whose value's bytes are not UTF-8 (a raw socket): the request is served and
    counted, and /status shows the value with ``\\xNN`` escapes (the raw value made /status a 500 for as
    long as the counter was tracked)."""
    limits = (
        "    - {name: per-team, measure: requests, amount: 5, window: month, scope: {by: header, header: x-team}}\n"
    )
    running = await sidecar(policy(*await two_fakes(fake), limits))
    assert await raw_chat(running, b"x-team: ops\xff") == 200
    row = (await budget_rows(running))["per-team/ops\\xff"]
    assert row["used"] == 1


async def test_a_caller_key_whose_bytes_are_not_utf8_counts_as_that_key(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A key limit and a Bearer key with bytes that are not UTF-8 (a raw socket): served and counted on
    that key's own counter, twice, and another such key on its own (hashing the key raised: a 500)."""
    limits = "    - {name: key-rpm, measure: requests, amount: 100, window: month, scope: {by: key}}\n"
    running = await sidecar(policy(*await two_fakes(fake), limits))
    for key in (b"sk-\xff", b"sk-\xff", b"sk-\xfe"):
        assert await raw_chat(running, b"authorization: Bearer " + key) == 200
    uses = sorted(row["used"] for name, row in (await budget_rows(running)).items() if name.startswith("key-rpm/"))
    assert uses == [1.0, 2.0]


async def raw_chat(running: RunningSidecar, line: bytes) -> int:
    """A chat request over a raw socket with ``line`` among its header lines, sent as bytes: the status."""
    body = orjson.dumps(chat())
    host, port = running.url.removeprefix("http://").split(":")
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(body)}\r\nconnection: close\r\n"
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode() + line + b"\r\n\r\n" + body)
        status, _, _ = await read_response(reader)
    finally:
        writer.close()
    return status


@pytest.mark.parametrize("first_wins", [False, True], ids=["hedge-wins", "first-wins"])
async def test_a_hedges_cut_call_is_charged_its_prompt(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs, first_wins: bool
) -> None:
    """A hedged race (the first call has no first byte after 0.2 s): the call that loses, cut after its
    prompt was sent, is charged that prompt at its own price (the provider bills it), in the budget and
    in the access line's cost, which names the cut call (``hedge_cut``)."""
    limits = (
        "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
        "    - {name: usd-month, measure: usd, amount: 1000, window: month}\n"
    )
    route = "[big, small], resilience: {hedge: {after_s: 0.2}}"
    first, second = (600, 3000) if first_wins else (3000, 0)
    running = await sidecar(
        policy(await fake("one", latency_ms=first), await fake("two", latency_ms=second), limits, route=route)
    )
    answer = await sdk(running).chat.completions.create(**chat())
    assert answer.usage is not None and answer.model == ("big-1" if first_wins else "small-1")
    served = answer.usage.prompt_tokens + answer.usage.completion_tokens
    rows = await budget_rows(running)
    cut_prompt = rows["tokens-month/*"]["used"] - served
    assert 0 < cut_prompt < 50  # the estimate of "hello there" in a chat body
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert line["hedge_cut"] == ("small" if first_wins else "big")
    big, small = (served, cut_prompt) if first_wins else (cut_prompt, served)
    expected = big * 0.001 + small * 0.000001  # big: 1000 $/Mtok; small: 1 $/Mtok
    assert line["cost_usd"] == pytest.approx(expected) == pytest.approx(rows["usd-month/*"]["used"])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_a_cancelled_requests_access_line_without_budgets_costs_what_it_used(
    fake: FakeFactory, sidecar: SidecarFactory, sdk: OpenAIs, stream: bool
) -> None:
    """On a route without budgets, a request the app cancels after its call started (a stream after a
    few chunks, an unstreamed call before its answer): the ``client_closed`` access line carries the
    prompt estimate the call sent, a stream's output sent so far, estimated (before 2026-12-04: 0), and
    their cost at the target's price."""
    slow = await fake("one", reply=LONG_REPLY, tokens_per_s=40) if stream else await fake("one", latency_ms=5000)
    running = await sidecar(policy(slow, await fake("two"), "", route="big").split("budgets:")[0])
    line = await cancelled_access_line(running, sdk, stream)
    assert line["outcome"] == "client_closed"
    assert 0 < line["input_tokens"] < 50 and (line["output_tokens"] > 0) is stream
    assert line["cost_usd"] == pytest.approx((line["input_tokens"] + line["output_tokens"]) * 0.001)
