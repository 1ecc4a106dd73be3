"""Features combined on one route (select cheapest, cache, budgets, hedge, quality gate, shadow, stale
last resort), driven by the official SDKs of the three dialects: for each request the five places
(headers, access line, /metrics, spans, budget counters) tell one story (tests/server/one_story.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..waiting import until
from .cache_helpers import written
from .one_story import EPSILON, PRICES, Options, check_one_story, fakes, snapshot, story_policy, told
from .story_calls import asker

DIALECTS = ("openai", "anthropic", "gemini")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_hit_after_a_miss_tells_one_story(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, dialect: str, stream: bool
) -> None:
    """A miss served by the cheapest model (translated for the Anthropic and Gemini apps), then its
    hit: each request's places agree; the hit charges the budgets nothing, and the saved-cost and
    saved-tokens metrics move by what the miss cost and generated."""
    ask = asker(dialect, gemini_client)
    running = await sidecar(story_policy(await fakes(fake)))
    before = await snapshot(running)
    live, headers = await ask(running, "please extract the date", stream, {})
    miss = await told(running, before, headers)
    check_one_story(miss, cache="miss")
    assert (miss.headers["x-sidecar-model"], miss.access["task"]) == ("cheap", "extraction")
    assert miss.access["cost_usd"] > 0
    await written(running)
    before = await snapshot(running)
    again, headers = await ask(running, "please extract the date", stream, {})
    hit = await told(running, before, headers)
    check_one_story(hit, cache="hit")
    assert again == live
    assert hit.headers["x-sidecar-model"] == "cheap" and hit.access["attempts"] == 0
    assert hit.budgets == {}
    saved = hit.metric("llm_sidecar_cache_saved_cost_usd_total")
    assert abs(saved - miss.access["cost_usd"]) < EPSILON
    assert hit.metric("llm_sidecar_cache_saved_output_tokens_total") == miss.access["output_tokens"]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_fallback_after_a_529_tells_one_story(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, dialect: str
) -> None:
    """The cheapest target answers 529 and the next one (Anthropic) serves: the places agree on the
    served model, the attempts and the cost of the one answer."""
    running = await sidecar(story_policy(await fakes(fake)))
    before = await snapshot(running)
    _, headers = await asker(dialect, gemini_client)(running, "hello there", False, {"x-fake-fault": "fo:status=529"})
    story = await told(running, before, headers)
    check_one_story(story, cache="miss")
    assert story.headers["x-sidecar-model"] == "mid"
    assert story.headers["x-sidecar-fallback-reason"] == story.access["fallback_reason"]
    assert story.access["outcome"] == "fallback"


async def test_a_hedge_that_wins_tells_one_story(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The cheapest target stalls past hedge.after_s; the hedge to ``mid`` wins and the stalled call is
    cut: two calls in every place, the cut call's prompt in the cost everywhere."""
    running = await sidecar(story_policy(await fakes(fake)))
    before = await snapshot(running)
    _, headers = await asker("openai", None)(running, "hedge this", True, {"x-fake-fault": "fo:stall=20"})
    story = await told(running, before, headers)
    check_one_story(story, cache="miss")
    assert (story.headers["x-sidecar-model"], story.headers["x-sidecar-fallback-reason"]) == ("mid", "hedged")
    assert story.access["hedge_cut"] == "cheap" and story.access["tokens_estimated"] is True
    [served] = [call for call in story.calls if (call.attributes or {}).get("sidecar.target") == "p-mid/up-mid"]
    usage = dict(served.attributes or {})
    mid_in, mid_out = PRICES["mid"]
    answer_cost = (usage["gen_ai.usage.input_tokens"] * mid_in + usage["gen_ai.usage.output_tokens"] * mid_out) / 1e6
    cut_prompt = story.access["input_tokens"] - usage["gen_ai.usage.input_tokens"]  # the cut call's prompt, estimated
    assert story.access["output_tokens"] == usage["gen_ai.usage.output_tokens"]
    assert cut_prompt > 0
    assert abs(story.access["cost_usd"] - answer_cost - cut_prompt * PRICES["cheap"][0] / 1e6) < EPSILON


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_gate_that_re_asks_tells_one_story(fake: FakeFactory, sidecar: SidecarFactory, stream: bool) -> None:
    """The first answer fails the regex gate and the re-ask passes: two calls of ``cheap``, both paid,
    in every place."""
    running = await sidecar(story_policy(await fakes(fake)))
    before = await snapshot(running)
    text, headers = await asker("anthropic", None)(running, "gate-me now", stream, {})
    story = await told(running, before, headers)
    check_one_story(story, cache="miss")
    assert text.startswith("Again please")
    assert story.headers["x-sidecar-gates"] == "passed; rejected=cheap:regex"
    assert story.metric("llm_sidecar_gate_failures_total", action="reask") == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_re_asked_answer_describes_the_apps_request(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """A re-asked request's ``features``, ``estimated_cost_usd`` and ``x-sidecar-estimated-cost`` are
    its app's request's, as a request of the same shape that was not re-asked says (before wave 28
    they described the re-ask: three turns, the first answer and the re-ask prompt in its tokens)."""
    running = await sidecar(story_policy(await fakes(fake)))
    said = []
    for text in ("gate-me now", "gate+me now"):  # the same shape; the first is re-asked
        before = await snapshot(running)
        _, headers = await asker("openai", None)(running, text, stream, {})
        said.append(await told(running, before, headers))
    reasked, plain = said
    check_one_story(reasked, cache="miss")
    assert reasked.access["gate_rejections"] == ["cheap:regex"] and "gate_rejections" not in plain.access
    assert reasked.access["features"] == plain.access["features"]
    assert reasked.access["features"]["turns"] == 1
    assert reasked.access["estimated_cost_usd"] == plain.access["estimated_cost_usd"]
    assert reasked.headers["x-sidecar-estimated-cost"] == plain.headers["x-sidecar-estimated-cost"]


async def test_a_stale_answer_as_the_last_resort_tells_one_story(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Past ttl_s, every target failing, the expired entry answers: the failed calls are counted and
    cost nothing, the places say stale."""
    running = await sidecar(story_policy(await fakes(fake), Options(ttl_s=0.05)))
    ask = asker("gemini", gemini_client)
    await ask(running, "stale story", False, {})
    await written(running)
    await asyncio.sleep(0.1)  # past ttl_s (until 2026-12-08 the next client's CA bundle load stood for it)
    before = await snapshot(running)
    _, headers = await ask(running, "stale story", False, {"x-fake-fault": "status=503"})
    story = await told(running, before, headers)
    check_one_story(story, cache="stale")
    assert story.headers["x-sidecar-degraded"] == "cache" and story.access["outcome"] == "degraded"


@pytest.mark.parametrize("store", ["local", "redis"])
async def test_a_budget_that_refuses_one_target_tells_one_story(
    fake: FakeFactory, sidecar: SidecarFactory, request: pytest.FixtureRequest, store: str
) -> None:
    """A deny quota of one request on ``cheap``: the second request skips it and ``mid`` serves; the
    places agree, in the local store and in Redis."""
    redis_url = request.getfixturevalue("redis_server").url if store == "redis" else ""
    running = await sidecar(story_policy(await fakes(fake), Options(quota=1, redis_url=redis_url)))
    ask = asker("openai", None)
    before = await snapshot(running)
    _, headers = await ask(running, "first one", False, {})
    first = await told(running, before, headers)
    check_one_story(first, cache="miss")
    assert first.headers["x-sidecar-model"] == "cheap" and first.budgets["cheap-quota/cheap"] == 1
    before = await snapshot(running)
    _, headers = await ask(running, "second one", True, {})
    second = await told(running, before, headers)
    check_one_story(second, cache="miss")
    assert second.headers["x-sidecar-model"] == "mid"
    assert "cheap:budget" in second.access["attempt_log"]


async def test_a_shadowed_request_tells_one_story(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request mirrored to a shadow candidate: the served request's places count its own call only;
    the shadow's cost is apart."""
    running = await sidecar(story_policy(await fakes(fake), Options(shadow=True)))
    before = await snapshot(running)
    _, headers = await asker("openai", None)(running, "shadow me", False, {})
    story = await told(running, before, headers, shadows=1)
    check_one_story(story, cache="miss")
    assert story.headers["x-sidecar-shadow"] == "sampled" == story.access["shadow"]
    assert story.metric("llm_sidecar_shadow_cost_usd_total", side="served") == story.access["cost_usd"]
    [shadow] = story.shadow_calls
    usage = dict(shadow.attributes or {})
    price_in, price_out = PRICES["dear"]
    priced = (usage["gen_ai.usage.input_tokens"] * price_in + usage["gen_ai.usage.output_tokens"] * price_out) / 1e6
    assert abs(story.metric("llm_sidecar_shadow_cost_usd_total", side="candidate") - priced) < EPSILON


@pytest.mark.parametrize(("stream", "store"), [(False, "local"), (True, "local"), (False, "redis")])
async def test_a_request_in_flight_across_a_reload_settles_by_its_policy(
    fake: FakeFactory, sidecar: SidecarFactory, request: pytest.FixtureRequest, stream: bool, store: str
) -> None:
    """A reload turns the route's cache off, lowers its dollar limit below what was spent and makes
    ``cheap`` ten times dearer while a call of ``cheap`` is in flight: that request is told and charged
    by the policy it started with (its version, a miss stored, the old price in every place); the next
    request by the new one (not cached, refused by the lowered limit). In the local store and in Redis."""
    urls = await fakes(fake)
    redis_url = request.getfixturevalue("redis_server").url if store == "redis" else ""
    running = await sidecar(story_policy(urls, Options(hedge_s=30, redis_url=redis_url)))
    started_with = running.state.holder.policy.version
    before = await snapshot(running)
    ask = asker("openai", None)
    in_flight = asyncio.create_task(ask(running, "reload story", stream, {"x-fake-fault": "fo:stall=1.5"}))
    await until(lambda: running.fake_requests(urls["cheap"]), lambda calls: len(calls) == 1)
    dearer = {**PRICES, "cheap": (10.0, 20.0)}
    changed = Options(hedge_s=30, prices=dearer, cache=False, route_usd=1e-6, redis_url=redis_url)
    await running.reload(story_policy(urls, changed))
    _, headers = await in_flight
    story = await told(running, before, headers)
    check_one_story(story, cache="miss")
    assert story.headers["x-sidecar-policy-version"] == story.access["policy_version"] == started_with
    [call] = story.calls
    usage = dict(call.attributes or {})
    price_in, price_out = PRICES["cheap"]
    old_price = (usage["gen_ai.usage.input_tokens"] * price_in + usage["gen_ai.usage.output_tokens"] * price_out) / 1e6
    assert abs(story.access["cost_usd"] - old_price) < EPSILON
    assert story.metric("llm_sidecar_cache_stores_total", result="stored") == 1
    before = await snapshot(running)
    with pytest.raises(openai.RateLimitError) as refused:
        await ask(running, "reload story", stream, {})
    denied = await told(running, before, refused.value.response.headers)
    check_one_story(denied, cache=None)
    assert denied.access["budget"] == "deny:route-usd" and denied.access["policy_version"] != started_with


async def test_a_hit_is_served_and_free_past_a_spent_budget(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The cache answers before the budgets are asked (docs/budgets.md): once the route's dollar limit
    is spent, a stored answer is still served, charging nothing, and a new question is refused."""
    urls = await fakes(fake)
    running = await sidecar(story_policy(urls))
    ask = asker("openai", None)
    await ask(running, "a stored answer", False, {})
    await written(running)
    await running.reload(story_policy(urls, Options(route_usd=1e-6)))
    before = await snapshot(running)
    _, headers = await ask(running, "a stored answer", True, {})
    hit = await told(running, before, headers)
    check_one_story(hit, cache="hit")
    assert hit.budgets == {} and "budget" not in hit.access
    with pytest.raises(openai.RateLimitError):
        await ask(running, "a new question", False, {})
