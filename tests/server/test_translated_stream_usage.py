"""An Anthropic stream's usage is read as Anthropic documents it: a ``message_delta``'s counts are the
totals so far ("cumulative"), each one it gives replacing ``message_start``'s, a smaller one too, and one
it leaves out keeping ``message_start``'s, as the Anthropic SDKs' accumulators read them. Before 2026-12-06
the counts were merged by maximum: an answer whose ``message_delta`` reported fewer output tokens than
``message_start`` reached an OpenAI or Gemini app, and the access line, with ``message_start``'s.

The upstream is a raw Anthropic server (``anthropic_usage``): ``message_start`` says 100 input and 5
output tokens, ``message_delta`` only ``output_tokens: 3`` (as Anthropic's older streams and some
Anthropic-compatible servers send it)."""

from __future__ import annotations

from typing import Any

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_stream_usages
from ..upstream.raw import UpstreamFactory
from .anthropic_usage import anthropic_upstream

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
