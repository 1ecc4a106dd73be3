"""An ensemble route tells one story (tests/server/one_story.py): its access line's tokens count every
call the request paid for (each member's and the judge's), as its cost, ``llm_sidecar_tokens_total``,
the CLIENT spans and the budgets' token counter do (docs/logs.md; before 2026-12-05 the line counted the
winning member's answer alone), driven by the official OpenAI SDK."""

from __future__ import annotations

import pytest

from ..conftest import FakeFactory, SidecarFactory
from .one_story import FAKE_NAMES, PRICES, Options, check_attempts, check_cost, check_tokens, snapshot, story_policy
from .one_story import told as told_by
from .story_calls import asker

STRATEGIES = {
    # every member answers alike: the majority decides, three calls
    "majority": ("early_quorum: false", False),
    # every member answers differently: the judge is asked, four calls
    "judge": ("strategy: judge, judge: {target: dear}", True),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_an_ensembles_every_call_is_in_its_tokens_everywhere(
    fake: FakeFactory, sidecar: SidecarFactory, strategy: str, stream: bool
) -> None:
    """Three members (OpenAI, Anthropic and Gemini upstreams, translated for the OpenAI app) and, when
    their answers differ, a judge: the access line's input and output tokens are the sum of every call's
    reported usage, and equal ``llm_sidecar_tokens_total`` and the budgets' token counter; its cost equals
    the cost metric, the span's and the budgets' dollars."""
    extra, distinct = STRATEGIES[strategy]
    urls = {
        model: await fake(FAKE_NAMES[model], **({"reply": f"the answer of {model}"} if distinct else {}))
        for model in PRICES
    }
    running = await sidecar(story_policy(urls, Options(ensemble=extra, cache=False)))
    before = await snapshot(running)
    _, headers = await asker("openai", None)(running, "hello members", stream, {})
    story = await told_by(running, before, headers)
    assert story.access["route"] == "story" and "ensemble" in story.access
    calls = 4 if distinct else 3
    assert story.access["attempts"] == len(story.calls) == calls
    assert "tokens_estimated" not in story.access
    check_attempts(story)
    check_cost(story)
    check_tokens(story)
    winner = story.headers["x-sidecar-model"]
    [served] = [s for s in story.calls if (s.attributes or {}).get("sidecar.target") == f"p-{winner}/up-{winner}"][:1]
    assert story.access["input_tokens"] > (served.attributes or {})["gen_ai.usage.input_tokens"]
