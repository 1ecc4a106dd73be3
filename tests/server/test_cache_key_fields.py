"""The cache key through the real sidecar and the official SDKs: what an app sends that changes the
answer makes another entry; what does not (request ids, ``user``...) finds the same one."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .cache_helpers import PROMPT, ask, cache_policy, upstream_calls


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
