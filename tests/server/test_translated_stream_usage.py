"""An Anthropic stream's usage is read as Anthropic documents it: a ``message_delta``'s counts are the
totals so far ("cumulative"), each one it gives replacing ``message_start``'s, a smaller one too, and one
it leaves out keeping ``message_start``'s, as the Anthropic SDKs' accumulators read them. Before 2026-12-06
the counts were merged by maximum: an answer whose ``message_delta`` reported fewer output tokens than
``message_start`` reached an OpenAI or Gemini app, and the access line, with ``message_start``'s.

The upstream is a raw Anthropic server (``anthropic_usage``): ``message_start`` says 100 input and 5
output tokens, ``message_delta`` only ``output_tokens: 3`` (as Anthropic's older streams and some
Anthropic-compatible servers send it).

A Gemini stream's ``usageMetadata``, which Gemini repeats on every fragment with the totals so far, is
counted once, as the last fragment gives it, by the decoder of a translated stream and by the relay of a
Gemini app's own (a raw Gemini server, ``GEMINI_FRAGMENTS``)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_stream_usages
from ..upstream.raw import UpstreamFactory, whole_or_streamed
from .anthropic_usage import anthropic_upstream
from .budget_policies import metrics

START = {"input_tokens": 100, "output_tokens": 5}
DELTA = {"output_tokens": 3}


async def serve(raw_upstream: UpstreamFactory, sidecar: SidecarFactory) -> RunningSidecar:
    upstream = await raw_upstream(anthropic_upstream(DELTA, start=START))
    return await sidecar(
        "version: 1\nproviders:\n"
        f"  p: {{dialect: anthropic, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
        "models:\n  m: {provider: p, model: m-1}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n",
        env={"P_KEY": "sk-x"},
    )


def access(running: RunningSidecar) -> tuple[int, int]:
    (line,) = [line for line in running.log_lines() if line.get("event") == "access"]
    return line["input_tokens"], line["output_tokens"]


async def test_an_openai_apps_usage_chunk_has_the_message_deltas_output_count(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """openai-python's stream with ``include_usage``: its usage chunk says 100 prompt and 3 completion
    tokens (not ``message_start``'s 5), and so does the access line."""
    running = await serve(raw_upstream, sidecar)
    usages = await openai_stream_usages(running, "m")
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(100, 3)]
    assert access(running) == (100, 3)


async def test_a_gemini_apps_usage_metadata_has_the_message_deltas_output_count(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """google-genai's ``generate_content_stream``: the last fragment's ``usageMetadata`` says 100 prompt and
    3 candidates tokens."""
    running = await serve(raw_upstream, sidecar)
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
    metas = [chunk.usage_metadata async for chunk in stream if chunk.usage_metadata is not None]
    assert (metas[-1].prompt_token_count, metas[-1].candidates_token_count) == (100, 3)
    assert access(running) == (100, 3)


async def test_an_anthropic_apps_relayed_stream_is_counted_with_the_message_deltas_output_count(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The Anthropic SDK's own stream (relayed as it came) reads 3 output tokens, and the access line, which
    counts cost and budgets, says the same; the input count ``message_delta`` left out stays 100."""
    running = await serve(raw_upstream, sidecar)
    ask: dict[str, Any] = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    async with anthropic_client(running) as client, client.messages.stream(**ask) as events:
        usage = (await events.get_final_message()).usage
    assert (usage.input_tokens, usage.output_tokens) == (100, 3)
    assert access(running) == (100, 3)


# A Gemini stream repeats its usage on every fragment, each the totals so far (50 prompt tokens, then 1,
# 2, 3 and 4 candidates tokens): counted once, the last fragment's, never summed (200 and 10 tokens).
GEMINI_FRAGMENTS = [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": n, "totalTokenCount": 50 + n},
        "modelVersion": "m-1",
        "responseId": "r1",
    }
    for n, text in enumerate(("wa", "ter", "fa", "ll"), start=1)
]
GEMINI_FRAGMENTS[-1]["candidates"][0]["finishReason"] = "STOP"


async def serve_gemini(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, fragments: list[dict[str, Any]] = GEMINI_FRAGMENTS
) -> RunningSidecar:
    sse = [b"data: " + orjson.dumps(fragment) + b"\r\n\r\n" for fragment in fragments]
    upstream = await raw_upstream(whole_or_streamed(orjson.dumps(fragments[-1]), sse, lambda _: True))
    return await sidecar(
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
        "models:\n  m: {provider: p, model: m-1}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n",
        env={"P_KEY": "g-key"},
    )


async def client_usage(caller: str, running: RunningSidecar, gemini_client: Any) -> tuple[int, int]:
    """The (input, output) usage ``caller``'s official SDK read from its stream of the answer."""
    if caller == "openai":
        [usage] = await openai_stream_usages(running, "m")
        return usage.prompt_tokens, usage.completion_tokens
    if caller == "anthropic":
        ask: dict[str, Any] = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        async with anthropic_client(running) as client, client.messages.stream(**ask) as events:
            message = await events.get_final_message()
        return message.usage.input_tokens, message.usage.output_tokens
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
    meta = [chunk async for chunk in stream][-1].usage_metadata
    return meta.prompt_token_count, meta.candidates_token_count


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
async def test_a_gemini_stream_repeating_its_usage_on_every_fragment_is_counted_once(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, caller: str
) -> None:
    """Translated to an OpenAI or Anthropic app, or relayed to a Gemini app: the SDK's usage, the access
    line and ``llm_sidecar_tokens_total`` say 50 input and 4 output tokens, the last fragment's totals (not
    the 200 and 10 the four fragments sum to)."""
    running = await serve_gemini(raw_upstream, sidecar)
    assert await client_usage(caller, running, gemini_client) == (50, 4)
    assert access(running) == (50, 4)
    counted = await metrics(running)
    assert (counted["input"], counted["output"]) == (50, 4)


# The same stream cut before its last fragment (no finishReason: the upstream's body ends), its counts so
# far 50 prompt and 100, 200, then 300 candidates tokens (more than the text sent would be estimated at).
GEMINI_CUT = [
    {**fragment, "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": n, "totalTokenCount": 50 + n}}
    for fragment, n in zip(GEMINI_FRAGMENTS[:3], (100, 200, 300), strict=True)
]


async def read_cut_stream(caller: str, running: RunningSidecar, gemini_client: Any) -> None:
    """``caller``'s official SDK reads the stream, which ends with an error event: the SDK raises."""
    if caller == "openai":
        with pytest.raises(openai.APIError):
            await openai_stream_usages(running, "m")
    elif caller == "anthropic":
        ask: dict[str, Any] = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(anthropic.APIError):
            async with anthropic_client(running) as client, client.messages.stream(**ask) as events:
                await events.get_final_message()
    else:
        stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
        with pytest.raises(genai_errors.APIError):
            _ = [chunk async for chunk in stream]


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
async def test_a_gemini_stream_cut_before_its_end_is_counted_with_the_last_totals_it_sent(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, caller: str
) -> None:
    """Translated or relayed as it came, a Gemini stream whose body ends before a ``finishReason``: the
    access line and ``llm_sidecar_tokens_total`` say the last fragment's totals, 50 input and 300 output
    tokens (the relay reads a Gemini stream's usage from the last fragment that carried it, at its end)."""
    running = await serve_gemini(raw_upstream, sidecar, GEMINI_CUT)
    await read_cut_stream(caller, running, gemini_client)
    assert access(running) == (50, 300)
    counted = await metrics(running)
    assert (counted["input"], counted["output"]) == (50, 300)
