"""Routes that judge one answer (ensembles, quality gates) refuse a request for several choices, through
the official SDKs: a 400 ``unsupported_parameter`` naming the field, in the caller's dialect, and no
upstream call; one choice asked is served as before."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from google.genai import errors as genai_errors

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from ..upstream.raw import UpstreamFactory, response, serve_forever
from .ensemble_policies import ensemble_route, models_policy

MESSAGES: Any = [{"role": "user", "content": "Which queue does this ticket go to?"}]
JSON = "content-type: application/json\r\n"
TWO_CHOICES = (
    b'{"id": "c", "object": "chat.completion", "created": 1, "model": "l", "choices": ['
    b'{"index": 0, "message": {"role": "assistant", "content": "bug"}, "finish_reason": "stop"},'
    b'{"index": 1, "message": {"role": "assistant", "content": "I cannot say"}, "finish_reason": "stop"}],'
    b' "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}'
)


def gated(chain: str, gates: str) -> str:
    return f"  - name: gated\n    match: {{model: gated}}\n    target: [{chain}]\n    gates: {gates}\n"


async def test_an_ensemble_refuses_n_above_one(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """OpenAI ``n: 2`` on an ensemble route: a 400 ``unsupported_parameter`` with ``param: n`` saying the
    route returns one answer, before any member is called (the vote would silently answer one choice)."""
    urls = [await fake(f"f{i}", reply="billing") for i in range(3)]
    running = await sidecar(models_policy(urls, ensemble_route("m0, m1, m2"), speaks=("openai",)))
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x") as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="vote", messages=MESSAGES, n=2)
    error: Any = raised.value.body
    assert error["code"] == "unsupported_parameter" and error["param"] == "n"
    assert "ensemble" in error["message"] and "one answer" in error["message"]
    line = running.log_lines()[-1]
    assert line["status"] == 400 and line.get("attempts", 0) == 0


async def test_a_gated_route_refuses_n_above_one_rather_than_pass_unchecked_choices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A gate checks one answer: a provider answering two choices, the second of which the gate would
    refuse, must not reach the app unchecked, so ``n: 2`` on a gated route is a 400 naming ``n``, and
    the provider is not called."""
    upstream = await raw_upstream(lambda conn: serve_forever(conn, response(TWO_CHOICES, headers=JSON)))
    policy = (
        "version: 1\nproviders:\n"
        f"  p0: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m0: {provider: p0, model: l}\nroutes:\n" + gated("m0", "{regex: {pattern: '^bug$'}}")
    )
    running = await sidecar(policy, env={"KEY": "k"})
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="x") as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="gated", messages=MESSAGES, n=2)
        one = await client.chat.completions.create(model="gated", messages=MESSAGES, n=1)
    error: Any = raised.value.body
    assert error["code"] == "unsupported_parameter" and error["param"] == "n"
    assert "quality gates" in error["message"]
    assert one.choices[0].message.content == "bug"
    assert len(upstream.requests) == 1  # only the n=1 request was sent


async def test_a_gemini_candidate_count_above_one_on_a_gated_route_is_a_gemini_400(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Gemini ``candidateCount: 2`` on a gated route: a Gemini-shaped 400 the SDK raises as a ClientError
    whose message names candidateCount."""
    url = await fake("f0", reply="bug")
    running = await sidecar(
        "version: 1\nproviders:\n"
        + provider_block("p0", url, "gemini")
        + "models:\n  m0: {provider: p0, model: g}\nroutes:\n"
        + gated("m0", "{regex: {pattern: 'bug'}}")
    )
    client = gemini_client(running.url)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model="gated", contents="label it", config={"candidate_count": 2})
    assert raised.value.code == 400 and "candidateCount" in str(raised.value.message)
