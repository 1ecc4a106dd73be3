"""The cache key through the real sidecar and the official SDKs: what an app sends that changes the
answer makes another entry; what does not (request ids, ``user``...) finds the same one."""

from __future__ import annotations

import openai
import orjson
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory, answering, chunked, response
from .cache_helpers import PROMPT, ask, cache_policy, upstream_calls
from .openai_streams import CHUNK


async def test_an_anthropic_beta_is_not_served_an_answer_made_without_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The Anthropic SDK's ``betas`` (the ``anthropic-beta`` header, forwarded to the provider, where it
    changes the answer): a request with a beta is a miss after the same request without it, and the
    same betas again (in another order) are a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks="anthropic"))
    request = {"model": "cached", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    states = []
    async with anthropic_client(running) as client:
        for betas in (
            [],
            ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
            ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"],
        ):
            raw = await client.beta.messages.with_raw_response.create(
                **request, betas=betas, extra_body={"temperature": 0}
            )
            states.append(raw.headers["x-sidecar-cache"])
    assert states == ["miss", "miss", "hit"]
    calls = await running.fake_requests(url)
    assert [c["headers"].get("anthropic-beta") or None for c in calls] == [
        None,
        "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
    ]
    assert await upstream_calls(running, url) == 2


async def test_a_reload_that_changes_what_a_provider_is_sent_starts_new_entries(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The policy adds a header to the provider (an ``anthropic-beta`` the provider answers differently
    with), then changes its value: each reload's first request is a miss, not the old policy's answer;
    a reload that changes nothing keeps the entries."""
    url = await fake("f0")
    policy = cache_policy([url], speaks="anthropic")
    running = await sidecar(policy)
    states = [(await ask(running))[1].headers["x-sidecar-cache"]]
    for beta in ("interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "context-1m-2025-08-07"):
        await running.reload(
            policy.replace(
                "    speaks: anthropic\n", f"    speaks: anthropic\n    headers: {{anthropic-beta: {beta}}}\n"
            )
            + f"# {len(states)}\n",
        )
        states.append((await ask(running))[1].headers["x-sidecar-cache"])
    assert states == ["miss", "miss", "miss", "hit"]
    assert await upstream_calls(running, url) == 3


async def test_a_reload_that_adds_a_gate_is_not_passed_by_the_answers_stored_before(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route's answers are cached; the policy then adds a gate that they fail (a regex the fake's echo
    does not match): the next request is checked by the gate (502 quality_gate_failed), not served the
    stored answer that never passed it; the policy back as it was finds its entry again."""
    url = await fake("f0")
    policy = cache_policy([url])
    running = await sidecar(policy)
    assert (await ask(running))[1].headers["x-sidecar-cache"] == "miss"
    gated = policy.replace("cache: {enabled: true}}", "cache: {enabled: true}, gates: {regex: {pattern: '^NEVER'}}}")
    assert gated != policy
    await running.reload(gated)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as failure:
            await client.chat.completions.create(model="cached", messages=PROMPT, temperature=0)
    assert failure.value.status_code == 502 and failure.value.response.headers["x-sidecar-cache"] == "miss"
    await running.reload(policy + "# back\n")
    assert (await ask(running))[1].headers["x-sidecar-cache"] == "hit"


async def test_a_split_route_never_serves_one_arms_answer_to_another_arm(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route split 50/50 between two models, sticky by a user header: the same request from users of
    both arms is answered by each user's own arm (a miss per arm, then hits within it), never by the
    arm that happened to answer first."""
    urls = [await fake("f0"), await fake("f1")]
    policy = "version: 1\nproviders:\n" + "".join(provider_block(f"p{i}", u, "openai") for i, u in enumerate(urls))
    policy += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(2))
    policy += (
        "routes:\n  - name: cached\n    match: {model: cached}\n    cache: {enabled: true}\n"
        "    split:\n      sticky_by: header:x-user-id\n"
        "      arms: [{target: m0, weight: 50}, {target: m1, weight: 50}]\n"
    )
    running = await sidecar(policy)
    seen: dict[str, list[str]] = {"m0": [], "m1": []}
    for user in [f"user-{i}" for i in range(12)]:
        _, raw = await ask(running, headers={"x-user-id": user})
        seen[raw.headers["x-sidecar-model"]].append(raw.headers["x-sidecar-cache"])
    assert seen["m0"] and seen["m1"]  # 12 users, two arms: both drawn (all on one: a 1 in 2,048 chance)
    assert [states.count("miss") for states in seen.values()] == [1, 1]
    assert await upstream_calls(running, urls[0]) == await upstream_calls(running, urls[1]) == 1


async def test_a_reload_that_changes_the_chain_starts_new_entries(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The route's model moves to another upstream model by a reload: the next request is a miss answered
    by the new model, not the old model's stored answer."""
    url = await fake("f0")
    policy = cache_policy([url])
    running = await sidecar(policy)
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-upstream-model"] == "up0"
    await running.reload(policy.replace("model: up0", "model: up0-next"))
    answer, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss" and answer.model == "up0-next"


async def test_a_hit_after_a_reload_that_renamed_its_model_names_the_model_by_its_new_name(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A reload renames the route's two logical models (their providers and upstream models, the key, as
    they were): the answers stored before are hits, each named by its model's new name, provider and
    upstream model (headers and access line), not left without them."""
    urls = [await fake("f0"), await fake("f1")]
    policy = cache_policy(urls)
    running = await sidecar(policy)
    await ask(running)
    first_fails = {"x-fake-fault": "f0:status=503"}
    _, raw = await ask(running, messages=[{"role": "user", "content": "the second model answers"}], headers=first_fails)
    assert raw.headers["x-sidecar-model"] == "m1"
    renamed = policy.replace("  m0:", "  first:").replace("  m1:", "  second:")
    await running.reload(renamed.replace("target: [m0, m1]", "target: [first, second]"))
    served = []
    for messages in (PROMPT, [{"role": "user", "content": "the second model answers"}]):
        _, raw = await ask(running, messages=messages)
        access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
        served.append(
            (
                raw.headers["x-sidecar-cache"],
                raw.headers.get("x-sidecar-model"),
                raw.headers.get("x-sidecar-provider"),
                raw.headers.get("x-sidecar-upstream-model"),
                access["served_model"],
            )
        )
    assert served == [("hit", "first", "p0", "up0", "first"), ("hit", "second", "p1", "up1", "second")]


async def test_a_renamed_model_of_a_two_target_provider_is_named_on_a_hit_of_a_dated_stream(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A route over two models of one provider (``up`` and ``up-mini``); the first answers a stream naming
    its dated id (``up-2024-07-18``, as OpenAI names ``gpt-4o-mini``'s). After a reload renaming both
    models, the streamed hit names the model that made it by its new name and its upstream model
    (``x-sidecar-model``, ``x-sidecar-upstream-model``), and its chunks the dated id, as the live stream did."""
    chunk = {**CHUNK, "model": "up-2024-07-18"}
    events = [
        b"data: "
        + orjson.dumps({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        + b"\n\n"
        for delta, finish in (
            ({"role": "assistant", "content": "sunny "}, None),
            ({"content": "today"}, None),
            ({}, "stop"),
        )
    ]
    upstream = await raw_upstream(
        answering(chunked(*events, b"data: [DONE]\n\n", headers="content-type: text/event-stream\r\n"))
    )
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p, model: up}\n  m1: {provider: p, model: up-mini}\n"
        "routes:\n  - {name: cached, match: {model: cached}, target: [m0, m1], cache: {enabled: true}}\n"
    )
    running = await sidecar(policy, env={"KEY": "sk-x"})
    served = []
    for reload in (False, True):
        if reload:
            await running.reload(policy.replace("m0", "first").replace("m1", "second"))
        async with openai_client(running) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="cached", messages=PROMPT, temperature=0, stream=True
            )
            models = {chunk.model async for chunk in raw.parse()}
        headers = raw.headers
        served.append(
            (
                headers["x-sidecar-cache"],
                headers.get("x-sidecar-model"),
                headers.get("x-sidecar-upstream-model"),
                models,
            )
        )
    assert served == [("miss", "m0", "up", {"up-2024-07-18"}), ("hit", "first", "up", {"up-2024-07-18"})]
    assert len(upstream.requests) == 1


async def test_a_renamed_alias_answered_under_a_dated_name_is_named_on_a_hit(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A route over two models of one Anthropic provider, the first an alias (``claude-3-5-haiku-latest``)
    that the provider answers under another name (``claude-3-5-haiku-20241022``). After a reload renaming
    both models, a hit through the Anthropic SDK names the model that made it by its new name and the
    upstream model the sidecar asked for (``x-sidecar-model``, ``x-sidecar-upstream-model``, the access
    line's ``served_model``), the body the dated name, as the live answer did."""
    message = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "sunny today"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }  # fmt: skip
    upstream = await raw_upstream(
        answering(response(orjson.dumps(message), headers="content-type: application/json\r\n"))
    )
    policy = (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: anthropic, base_url: '{upstream.base}', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p, model: claude-3-5-haiku-latest}\n"
        "  m1: {provider: p, model: claude-3-5-sonnet-latest}\n"
        "routes:\n  - {name: cached, match: {model: cached}, target: [m0, m1], cache: {enabled: true}}\n"
    )
    running = await sidecar(policy, env={"KEY": "sk-x"})
    served = []
    for reload in (False, True, False):
        if reload:
            await running.reload(policy.replace("m0", "first").replace("m1", "second"))
        async with anthropic_client(running) as client:
            raw = await client.messages.with_raw_response.create(
                model="cached", max_tokens=100, messages=PROMPT, extra_body={"temperature": 0}
            )
        access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
        headers = raw.headers
        served.append(
            (
                headers["x-sidecar-cache"],
                headers.get("x-sidecar-model"),
                headers.get("x-sidecar-upstream-model"),
                access.get("served_model"),
                (await raw.parse()).model,
            )
        )
    dated = "claude-3-5-haiku-20241022"
    assert served == [
        ("miss", "m0", "claude-3-5-haiku-latest", "m0", dated),
        ("hit", "first", "claude-3-5-haiku-latest", "first", dated),
        ("hit", "first", "claude-3-5-haiku-latest", "first", dated),
    ]
    assert len(upstream.requests) == 1
