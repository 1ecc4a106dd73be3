"""The cache key through the real sidecar and the official SDKs: what an app sends that changes the
answer makes another entry; what does not (request ids, ``user``...) finds the same one."""

from __future__ import annotations

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client
from .cache_helpers import cache_policy, upstream_calls


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
