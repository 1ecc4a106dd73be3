"""Log-probabilities across dialects, through the real sidecar: the official openai SDK
served by a Gemini fake and google-genai served by an OpenAI fake, whole and streamed, read through the
SDKs' own types; the values are the ones the fake sends its own dialect's callers. Also: the ensemble
confidence vote with a member reached by translation, and no caching of an answer asked with them."""

from __future__ import annotations

import math
from typing import Any

import openai
import pytest
from google.genai import types

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .cache_helpers import cache_policy, upstream_calls
from .ensemble_policies import ensemble_route, models_policy
from .graded_dialects import QUESTION, TOP, gemini_sends, openai_sends, start


def from_gemini(candidate: Any) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """The Gemini fake's tokens: (token, log-probability, runners-up)."""
    result = candidate["logprobsResult"]
    steps = [[(c["token"], c["logProbability"]) for c in step["candidates"]] for step in result["topCandidates"]]
    return [(c["token"], c["logProbability"], top) for c, top in zip(result["chosenCandidates"], steps, strict=True)]


def from_openai(choice: Any) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """The OpenAI fake's tokens: (token, log-probability, runners-up)."""
    return [
        (e["token"], e["logprob"], [(t["token"], t["logprob"]) for t in e["top_logprobs"]])
        for e in choice["logprobs"]["content"]
    ]


def is_graded(tokens: list[tuple[str, float, list[tuple[str, float]]]]) -> None:
    """The sample means something: several tokens, one unsure with runners-up (so values are compared,
    not only near-certain -0.0001s)."""
    assert len(tokens) > 2 and any(lp < math.log(0.99) and len(top) == TOP for _, lp, top in tokens)


async def test_an_openai_app_reads_a_gemini_answers_log_probabilities(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, logprobs=True and top_logprobs=2 to a Gemini target: choices[0].logprobs.content holds
    the tokens, log-probabilities and runners-up the Gemini fake sends."""
    running, urls = await start(fake, sidecar)
    expected = from_gemini(await gemini_sends(urls["gemini"]))
    is_graded(expected)
    async with openai_client(running) as client:
        answer = await client.chat.completions.create(
            model="to-gemini", messages=[{"role": "user", "content": QUESTION}], logprobs=True, top_logprobs=TOP
        )
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert [(e.token, e.logprob, [(t.token, t.logprob) for t in e.top_logprobs]) for e in content] == expected
    sent = (await running.fake_requests(urls["gemini"]))[-1]["json"]
    assert sent["generationConfig"] == {"responseLogprobs": True, "logprobs": TOP}


async def test_an_openai_app_streams_a_gemini_answers_log_probabilities(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Streamed: each chunk with text carries its tokens' logprobs; together they are the fake's."""
    running, urls = await start(fake, sidecar)
    expected = from_gemini(await gemini_sends(urls["gemini"]))
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="to-gemini",
            messages=[{"role": "user", "content": QUESTION}],
            logprobs=True,
            top_logprobs=TOP,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    got = []
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.logprobs is not None:
                assert choice.delta.content == "".join(e.token for e in choice.logprobs.content or ())
                got += [
                    (e.token, e.logprob, [(t.token, t.logprob) for t in e.top_logprobs])
                    for e in choice.logprobs.content or ()
                ]
    assert got == expected


async def test_a_gemini_app_reads_an_openai_answers_log_probabilities(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai, response_logprobs and logprobs=2 to an OpenAI target: logprobs_result holds the tokens
    the OpenAI fake sends, avg_logprobs their mean."""
    running, urls = await start(fake, sidecar)
    expected = from_openai(await openai_sends(urls["openai"]))
    is_graded(expected)
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(response_logprobs=True, logprobs=TOP)
    answer = await client.aio.models.generate_content(model="to-openai", contents=QUESTION, config=config)
    candidate = answer.candidates[0]  # type: ignore[index]
    result = candidate.logprobs_result
    assert result is not None and result.chosen_candidates is not None and result.top_candidates is not None
    got = [
        (c.token, c.log_probability, [(t.token, t.log_probability) for t in step.candidates or ()])
        for c, step in zip(result.chosen_candidates, result.top_candidates, strict=True)
    ]
    assert got == expected
    assert candidate.avg_logprobs == pytest.approx(sum(lp for _, lp, _ in expected) / len(expected))
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, TOP)


async def test_a_gemini_app_streams_an_openai_answers_log_probabilities(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Streamed: each fragment with text carries its tokens' logprobs_result; together they are the fake's."""
    running, urls = await start(fake, sidecar)
    expected = from_openai(await openai_sends(urls["openai"]))
    client = gemini_client(running.url)
    config = types.GenerateContentConfig(response_logprobs=True, logprobs=TOP)
    got = []
    async for fragment in await client.aio.models.generate_content_stream(
        model="to-openai", contents=QUESTION, config=config
    ):
        candidate = (fragment.candidates or [None])[0]
        result = candidate.logprobs_result if candidate is not None else None
        if result is not None:
            assert fragment.text == "".join(c.token or "" for c in result.chosen_candidates or ())
            got += [
                (c.token, c.log_probability, [(t.token, t.log_probability) for t in step.candidates or ()])
                for c, step in zip(result.chosen_candidates or (), result.top_candidates or (), strict=True)
            ]
    assert got == expected


async def test_anthropic_still_refuses_log_probabilities_by_name(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Towards Anthropic, logprobs is a 400 naming it (Anthropic has none)."""
    url = await fake("fake-anthropic")
    policy = "version: 1\nproviders:\n" + provider_block("p-a", url, "anthropic")
    policy += "models:\n  to-anthropic: {provider: p-a, model: claude-3-5-haiku-latest}\nroutes: []\n"
    running = await sidecar(policy)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError, match="logprobs"):
            await client.chat.completions.create(
                model="to-anthropic", messages=[{"role": "user", "content": "x"}], logprobs=True
            )
    assert await upstream_calls(running, url) == 0


# ---------------------------------------------------------------------------------------------------------
# The ensemble's confidence vote and the cache


async def confidence_vote(
    fake: FakeFactory, sidecar: SidecarFactory, speaks: tuple[str, str]
) -> tuple[RunningSidecar, list[str]]:
    """A ``vote`` route, strategy confidence, over an unsure member m0 and a sure m1 (graded fakes speaking
    ``speaks``), and the fakes' URLs."""
    quality: Any = {"up0": {"right": 0.05, "spread": 0}, "up1": {"right": 0.95, "spread": 0}}
    urls = [await fake("f0", quality=quality), await fake("f1", quality=quality)]
    routes = ensemble_route("m0, m1", "strategy: confidence")
    return await sidecar(models_policy(urls, routes, speaks=speaks)), urls


async def test_the_confidence_vote_reads_a_member_reached_by_translation(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """strategy confidence, an OpenAI app: the sure member m1 is a Gemini provider. Its log-probabilities
    are asked in Gemini's words and read back in OpenAI's, so it outweighs the unsure OpenAI member."""
    running, urls = await confidence_vote(fake, sidecar, ("openai", "gemini"))
    truth = {"x-fake-truth": "answer=bug;choices=bug|billing|feature;id=7"}
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="vote", messages=[{"role": "user", "content": "Which queue?"}], extra_headers=truth
        )
    answer = raw.parse()
    assert answer.choices[0].message.content == "bug" and answer.choices[0].logprobs is None
    assert raw.headers["x-sidecar-ensemble"] == (
        "strategy=confidence; winner=m1; votes=0.95/1; decided=all; members=m0:2,m1:1"
    )
    assert (await running.fake_requests(urls[1]))[0]["json"]["generationConfig"]["responseLogprobs"] is True


async def test_an_answer_asked_with_log_probabilities_is_not_cached_across_dialects(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app's logprobs request to a Gemini provider, twice: both reach the provider (never stored),
    and each answer has its log-probabilities."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], speaks="gemini"))
    async with openai_client(running) as client:
        for _ in range(2):
            raw = await client.chat.completions.with_raw_response.create(
                model="cached", messages=[{"role": "user", "content": "sure thing"}], temperature=0, logprobs=True
            )
            assert raw.headers.get("x-sidecar-cache") != "hit"
            assert raw.parse().choices[0].logprobs.content  # type: ignore[union-attr]
    assert await upstream_calls(running, url) == 2


async def test_a_gemini_apps_confidence_vote_reads_a_member_reached_by_translation(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """strategy confidence, a google-genai app: the sure member m1 is an OpenAI provider, asked for
    logprobs in OpenAI's words and read back as logprobsResult, so it outweighs the unsure Gemini member;
    the log-probabilities the sidecar asked for are stripped from the app's answer."""
    running, urls = await confidence_vote(fake, sidecar, ("gemini", "openai"))
    question = "Which queue? [truth:answer=bug;choices=bug|billing|feature;id=7]"
    answer = await gemini_client(running.url).aio.models.generate_content(model="vote", contents=question)
    assert answer.text == "bug" and answer.candidates[0].logprobs_result is None  # type: ignore[index]
    headers = answer.sdk_http_response.headers  # type: ignore[union-attr]
    assert headers["x-sidecar-ensemble"] == (
        "strategy=confidence; winner=m1; votes=0.95/1; decided=all; members=m0:2,m1:1"
    )
    assert (await running.fake_requests(urls[1]))[0]["json"]["logprobs"] is True


async def test_an_anthropic_member_of_a_confidence_vote_votes_with_its_weight(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """strategy confidence, an OpenAI app, an Anthropic member: the log-probabilities the vote adds cannot
    reach Anthropic, so that member is asked without them (not failed as untranslatable) and votes with its
    weight, as docs/ensembles.md says; the OpenAI member votes with its confidence."""
    running, urls = await confidence_vote(fake, sidecar, ("openai", "anthropic"))
    truth = {"x-fake-truth": "answer=bug;choices=bug|billing|feature;id=7"}
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="vote", messages=[{"role": "user", "content": "Which queue?"}], extra_headers=truth
        )
    assert raw.parse().choices[0].message.content == "bug"
    assert raw.headers["x-sidecar-ensemble"] == (
        "strategy=confidence; winner=m1; votes=1/1.05; decided=all; members=m0:2,m1:1"
    )
    (sent,) = await running.fake_requests(urls[1])
    assert "logprobs" not in sent["json"]
