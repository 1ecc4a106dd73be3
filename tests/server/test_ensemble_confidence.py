"""``strategy: confidence`` under an Anthropic caller, through the real sidecar and fake providers, driven
by the official anthropic SDK: its request cannot ask for log-probabilities, so the sidecar asks the
members it translates to OpenAI or Gemini for them itself, and an Anthropic member votes with its weight."""

from __future__ import annotations

from typing import Any

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client
from .ensemble_policies import ensemble_route, models_policy

MESSAGES: Any = [{"role": "user", "content": "Which queue does this ticket go to?"}]
TRUTH = {"x-fake-truth": "answer=bug;choices=bug|billing|feature;id=7"}
UNSURE_THEN_SURE: Any = {"up0": {"right": 0.05, "spread": 0}, "up1": {"right": 0.95, "spread": 0}}


async def ask(running: RunningSidecar, truth: dict[str, str] = TRUTH) -> tuple[str, str]:
    """The answer's text and ``x-sidecar-ensemble``, asked through the anthropic SDK."""
    async with anthropic_client(running) as client:
        raw = await client.messages.with_raw_response.create(
            model="vote", max_tokens=64, messages=MESSAGES, extra_headers=truth
        )
        answer = await raw.parse()
        assert b"ogprob" not in await raw.read()  # nothing of the log-probabilities reaches the caller
    text = answer.content[0].text if answer.content and answer.content[0].type == "text" else ""
    return text, raw.headers["x-sidecar-ensemble"]


async def test_openai_members_vote_with_their_confidence_under_an_anthropic_caller(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Two OpenAI members split 1-1: the sure one, listed second, wins with its log-probabilities, which the
    sidecar asked for in the translated request (before 2026-12-05 each voted with its weight, and the
    first listed won the tie)."""
    urls = [await fake("f0", quality=UNSURE_THEN_SURE), await fake("f1", quality=UNSURE_THEN_SURE)]
    policy = models_policy(urls, ensemble_route("m0, m1", "strategy: confidence"), speaks=("openai",))
    running = await sidecar(policy)
    assert await ask(running) == ("bug", "strategy=confidence; winner=m1; votes=0.95/1; decided=all; members=m0:2,m1:1")
    sent = await running.fake_requests(urls[0])
    assert sent[0]["json"]["logprobs"] is True


async def test_gemini_members_vote_with_their_confidence_under_an_anthropic_caller(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The same split with Gemini members: each is asked ``responseLogprobs`` and votes its answer's
    probability."""
    urls = [await fake("f0", quality=UNSURE_THEN_SURE), await fake("f1", quality=UNSURE_THEN_SURE)]
    policy = models_policy(urls, ensemble_route("m0, m1", "strategy: confidence"), speaks=("gemini",))
    running = await sidecar(policy)
    assert await ask(running) == ("bug", "strategy=confidence; winner=m1; votes=0.95/1; decided=all; members=m0:2,m1:1")
    sent = await running.fake_requests(urls[1])
    assert sent[0]["json"]["generationConfig"]["responseLogprobs"] is True


async def test_an_anthropic_member_votes_with_its_weight_beside_a_members_confidence(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic member (no log-probabilities) votes its ``weight`` 0.9, asked once and without them; an
    OpenAI member half sure of another answer votes 0.5: the Anthropic member wins (with weights alone the
    OpenAI member's 1 would have)."""
    quality: Any = {"up0": {"right": 0.05, "spread": 0}, "up1": {"right": 0.5, "spread": 0}}
    urls = [await fake("f0", quality=quality), await fake("f1", quality=quality)]
    members = "{target: m0, weight: 0.9}, m1"
    policy = models_policy(urls, ensemble_route(members, "strategy: confidence"), speaks=("anthropic", "openai"))
    running = await sidecar(policy)
    text, header = await ask(running, {"x-fake-truth": "answer=bug;choices=bug|billing|feature;id=10"})
    assert text == "feature"
    assert header == "strategy=confidence; winner=m0; votes=0.90/1.40; decided=all; members=m0:1,m1:2"
    sent = await running.fake_requests(urls[0])
    assert len(sent) == 1 and "logprobs" not in sent[0]["json"]
