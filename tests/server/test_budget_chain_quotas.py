"""A ``requests`` quota by provider on a chain that ends without an answer (docs/budgets.md, "one
request"): the request counts once on each provider one of its calls billed on, and on no provider whose
calls were all refused, the chain's last target included. On the pod's own counters and on a real
redis-server's, through the official OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from .budget_walks import access_line, client, store, two_provider_policy
from .provider_quotas import CHAT, COUNTING, ONCE, failed_chat, request_counts

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

CHAIN = "{name: chat, target: [small, alt], resilience: {max_attempts_per_target: 2, backoff: {base_s: 0.01}}}"


async def test_a_failed_chains_last_provider_that_refused_every_call_counts_no_request(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider one accepts the call and sends a body that is not JSON (billed); the chain falls back to
    provider two, which answers 503 to both its tries (refused: nothing billed): the caller gets the
    error. The request counts on provider one and once over every provider, never on provider two (the
    seeded soak found it, docs/benchmarks.md wave 30: the end of a failed request charged what the
    billed call cost on the reservation held on the last target, a request on its counters with it)."""
    first = await fake("one", fault="malformed", fault_rate=1)
    second = await fake("two", fault="status=503", fault_rate=1)
    running = await sidecar(two_provider_policy(first, second, CHAIN, COUNTING, store))
    line = await failed_chat(running)
    assert line["billed_failures"] == ["small:malformed_response"]
    assert line["attempt_log"][-1] == "alt:overloaded"
    counted = {"one": 1.0, "two": 0.0}
    assert await request_counts(running, counted) == (counted, ONCE)


async def test_a_panic_call_counts_the_request_on_its_own_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Both targets' breakers are open (three 503s each: refused, nothing counted); the next request is
    called in panic mode on ``small`` (provider one), which answers: the request counts on provider one,
    never on provider two (the seeded soak found it, docs/benchmarks.md wave 30: the panic call was made
    without the budgets' say, so the reservation stayed on the last target the walk had reserved for,
    ``alt``, and the answer was counted there)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="billing")
    breaker = "  breaker: {window_size: 10, minimum_calls: 3, failure_rate: 0.5, open_s: 30}\n"
    text = two_provider_policy(first, second, "{name: chat, target: [small, alt]}", COUNTING, store)
    running = await sidecar(text.replace("defaults:\n", "defaults:\n" + breaker, 1))
    async with client(running) as sdk:
        for _ in range(3):
            with pytest.raises(openai.APIStatusError):
                await sdk.chat.completions.create(**CHAT, extra_headers={"x-fake-fault": "status=503"})
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content == "billing"
    assert access_line(running)["attempt_log"] == ["small:breaker_open", "alt:breaker_open", "small:ok"]
    counted = {"one": 1.0, "two": 0.0}
    assert await request_counts(running, counted) == (counted, ONCE)
