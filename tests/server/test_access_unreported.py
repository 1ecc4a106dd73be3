"""An answer whose provider reported no usage: the access line, ``llm_sidecar_tokens_total`` and
``llm_sidecar_cost_usd_total`` count what the budgets charge it, its estimate (the prompt estimate and the
output maximum), marked ``tokens_estimated`` (docs/logs.md). Until wave 31 they counted nothing while
the budgets charged the estimate. A real sidecar, an OpenAI-dialect upstream on loopback whose answers
carry no usage, the official SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client
from .budget_policies import BIG, LIMITS, PRICES, SMALL, access_line, budget_rows, chat, metrics, openai_sdk, policy
from .budget_walks import CHAT, client, two_provider_policy, use
from .provider_quotas import usage_less


async def answered(running: RunningSidecar) -> dict[str, Any]:
    """A whole chat (max_tokens 20) through the OpenAI SDK, answered without usage; its access line."""
    client = await openai_sdk(running)
    reply = await client.chat.completions.create(**chat(max_tokens=20))
    await client.close()
    assert reply.choices[0].message.content == "billing" and reply.usage is None
    return access_line(running)


async def settled(running: RunningSidecar, tokens: int) -> float:
    """The tokens-month counter, polled until it is ``tokens`` (or 2 s have passed)."""
    used = 0.0
    for _ in range(100):
        used = (await budget_rows(running))["tokens-month/*"]["used"]
        if used == tokens:
            break
        await asyncio.sleep(0.02)
    return used


async def test_an_answer_without_usage_is_counted_as_its_budget_charge_marked_estimated(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The line counts the prompt estimate and the request's max_tokens (20), priced, ``tokens_estimated``;
    the budgets' tokens counter is charged the same, and the cost and tokens metrics count it too."""
    running = await sidecar(policy(await usage_less(aiohttp_server), await fake("two"), LIMITS))
    line = await answered(running)
    assert (line["served_model"], line["output_tokens"], line.get("tokens_estimated")) == ("big", 20, True)
    charged = line["input_tokens"] + line["output_tokens"]
    assert line["input_tokens"] > 0
    assert abs(line["cost_usd"] - charged * BIG) < 1e-9
    assert await settled(running, charged) == charged
    seen = await metrics(running)
    assert (seen["input"], seen["output"]) == (line["input_tokens"], 20)
    assert abs(seen["cost"] - line["cost_usd"]) < 1e-9


async def test_an_answer_without_usage_costs_on_the_line_what_the_budget_settles_at_its_dearer_prices(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A model whose audio output is dearer than its output: the budgets charge an answer without usage its
    reservation at the dearer (every output token at 4000 $/Mtok), and the line's ``cost_usd`` is the same
    dollars (until wave 40 it priced the same tokens at the standard prices)."""
    dearer = "{input_per_mtok: 1000, output_per_mtok: 1000, audio_output_per_mtok: 4000}"
    text = policy(await usage_less(aiohttp_server), await fake("two"), LIMITS)
    running = await sidecar(text.replace(f"model: big-1, price: {PRICES}", f"model: big-1, price: {dearer}"))
    line = await answered(running)
    expected = line["input_tokens"] * BIG + 20 * 0.004  # the output at the audio output's price
    assert abs(line["cost_usd"] - expected) < 1e-8
    used = 0.0
    for _ in range(100):
        used = (await budget_rows(running))["usd-month/*"]["used"]
        if used:
            break
        await asyncio.sleep(0.02)
    assert abs(used - line["cost_usd"]) < 1e-8


async def test_without_budgets_an_answer_without_usage_is_counted_as_its_estimate(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """On a route without budgets the line and the metrics count the same estimate, marked so."""
    with_budgets = policy(await usage_less(aiohttp_server), await fake("two"), LIMITS)
    running = await sidecar(with_budgets.split("budgets:")[0])
    line = await answered(running)
    assert (line["output_tokens"], line.get("tokens_estimated")) == (20, True)
    assert abs(line["cost_usd"] - (line["input_tokens"] + 20) * BIG) < 1e-9
    assert (await metrics(running))["output"] == 20


async def test_an_ensembles_answer_without_usage_is_counted_as_its_budget_charge_marked_estimated(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An ensemble whose member on provider one answers without usage: the line counts that call's estimate
    (the prompt estimate and max_tokens 20) with the other member's reported usage, ``tokens_estimated``;
    the budgets' tokens counter is charged the same sum and the metrics count it (until wave 32 the line
    and the metrics counted the other member's call alone, while the budgets charged the estimate too)."""
    route = "{name: chat, ensemble: {members: [small, alt], early_quorum: false}}"
    limit = "{name: all, measure: tokens, amount: 1000000, window: month}"
    second = await fake("two", reply="billing")
    running = await sidecar(two_provider_policy(await usage_less(aiohttp_server), second, route, limit))
    async with client(running) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**CHAT)
    assert raw.headers["x-sidecar-ensemble"].endswith("members=small:1,alt:1")
    line = access_line(running)
    counted = line["input_tokens"] + line["output_tokens"]
    assert line.get("tokens_estimated") is True and line["output_tokens"] > 20
    assert abs(line["cost_usd"] - counted * SMALL) < 1e-12
    assert await use(running, counted) == counted
    seen = await metrics(running)
    assert (seen["input"], seen["output"]) == (line["input_tokens"], line["output_tokens"])
    assert abs(seen["cost"] - line["cost_usd"]) < 1e-12


async def test_an_ensembles_judge_without_usage_is_counted_as_its_own_requests_estimate(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The members answer apart (with usage) and the judge's provider reports none: the line counts the
    judge's estimate besides the members' calls, its output the judge's ``max_tokens`` (200), marked
    ``tokens_estimated``, and the metrics count the same (until wave 32 the members' calls alone)."""
    one, two = await fake("one", reply="alpha"), await fake("two", reply="beta")
    judge = await usage_less(aiohttp_server)
    policy_text = (
        "version: 1\nproviders:\n"
        + "".join(provider_block(name, url) for name, url in (("one", one), ("two", two), ("judge", judge)))
        + "models:\n"
        + "".join(f"  {name}: {{provider: {name}, model: {name}-1, price: {PRICES}}}\n" for name in ("one", "two"))
        + f"  judge: {{provider: judge, model: judge-1, price: {PRICES}}}\n"
        + "routes:\n  - {name: chat, ensemble: {members: [one, two], strategy: judge, judge: {target: judge}}}\n"
    )
    running = await sidecar(policy_text)
    async with client(running) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**CHAT)
    line = access_line(running)
    assert sorted(line["attempt_log"]) == ["judge:ok", "one:ok", "two:ok"], raw.headers["x-sidecar-ensemble"]
    assert line.get("tokens_estimated") is True and line["output_tokens"] > 200
    assert raw.parse().usage.completion_tokens < 200  # the winner's own, reported
    seen = await metrics(running)
    assert (seen["input"], seen["output"]) == (line["input_tokens"], line["output_tokens"])


async def test_a_token_count_is_free_and_counts_no_estimate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic token count answers without usage, and no provider bills it (the budgets do not count
    it): its line has no tokens and no cost."""
    policy_text = (
        "version: 1\nproviders:\n"
        + provider_block("ant", await fake("f"), "anthropic")
        + f"models:\n  c: {{provider: ant, model: up-c, price: {PRICES}}}\n"
    )
    running = await sidecar(policy_text)
    async with anthropic_client(running) as client:
        counted = await client.messages.count_tokens(model="c", messages=[{"role": "user", "content": "count these"}])
    assert counted.input_tokens > 0
    line = access_line(running)
    assert (line["operation"], line["status"]) == ("count_tokens", 200)
    assert not {"input_tokens", "output_tokens", "cost_usd", "tokens_estimated"} & set(line)


async def test_a_failed_ensembles_answer_without_usage_is_counted_as_its_budget_charge_marked_estimated(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An ensemble that fails (502 ``ensemble_failed``: ``min_members: 2``, provider two answers 503) after
    the member on provider one answered without usage: the line counts that call's estimate (the prompt
    estimate and max_tokens 20) marked ``tokens_estimated``, the budgets' tokens counter is charged the same,
    and the metrics count it (the failure path, which the answered ones above do not take)."""
    route = "{name: chat, ensemble: {members: [small, alt], min_members: 2, early_quorum: false}}"
    limit = "{name: all, measure: tokens, amount: 1000000, window: month}"
    second = await fake("two", fault="status=503;times=99", fault_rate=1)
    running = await sidecar(two_provider_policy(await usage_less(aiohttp_server), second, route, limit))
    async with client(running) as sdk:
        with pytest.raises(openai.APIStatusError) as failed:
            await sdk.chat.completions.create(**CHAT)
    assert failed.value.status_code == 502
    line = access_line(running)
    assert line["status"] == 502 and line.get("tokens_estimated") is True
    assert line["output_tokens"] == 20 and line["input_tokens"] > 0
    counted = line["input_tokens"] + line["output_tokens"]
    assert abs(line["cost_usd"] - counted * SMALL) < 1e-12
    assert await use(running, counted) == counted
    seen = await metrics(running)
    assert (seen["input"], seen["output"]) == (line["input_tokens"], 20)
