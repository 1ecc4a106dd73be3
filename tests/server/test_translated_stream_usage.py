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

from sidecar.server.stream_totals import KEEP_BYTES

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_stream_usages
from ..upstream.raw import UpstreamFactory, paced, whole_or_streamed
from .anthropic_usage import anthropic_upstream
from .budget_policies import get_json, metrics

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
    meta = [chunk.usage_metadata async for chunk in stream if chunk.usage_metadata is not None][-1]
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


# Where a Gemini stream's usage is read from: a fragment's top-level ``usageMetadata`` only. Two text
# fragments with the totals so far (50 prompt tokens, then 1 and 2 candidates tokens), then a function call
# whose arguments hold a key ``usageMetadata`` (7 and 7 tokens: the app's data, not the provider's counts)
# and no usage of its own; each fragment its own read, as a provider's come. With a budget (a tap) the relay
# reads every event; without one it forwards a read of whole events as it came, unread when it can.
def gemini_text(text: str, usage: tuple[int, int] | None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]}
    if usage is not None:
        fragment["usageMetadata"] = {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1]}
    return fragment


APP_USAGE_ARGS = {"usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 7, "totalTokenCount": 14}}
GEMINI_CALL = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"functionCall": {"name": "log", "args": APP_USAGE_ARGS}}]}, "index": 0}
    ]
}
GEMINI_CALL_ENDS = {"candidates": [{**GEMINI_CALL["candidates"][0], "finishReason": "STOP"}]}


BUDGET = "budgets:\n  limits:\n    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"


async def serve_gemini_reads(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, fragments: list[Any], budget: bool = True
) -> RunningSidecar:
    """A Gemini upstream writing each of ``fragments`` as its own read, then the body's end; a token budget
    unless ``budget`` is False."""
    upstream = await raw_upstream(paced([b"data: " + orjson.dumps(f) + b"\r\n\r\n" for f in fragments]))
    return await sidecar(
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
        "models:\n  m: {provider: p, model: m-1}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n" + (BUDGET if budget else ""),
        env={"P_KEY": "g-key"},
    )


async def counted_everywhere(running: RunningSidecar) -> tuple[tuple[int, int], tuple[int, int], int | None]:
    """The (input, output) tokens of the access line and of ``llm_sidecar_tokens_total``, and the tokens
    the budget counted (None: no budget)."""
    counted = await metrics(running)
    rows = (await get_json(running.url + "/status"))["budgets"]
    used = int(rows[0]["used"]) if rows else None
    return access(running), (int(counted["input"]), int(counted["output"])), used


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
async def test_a_usage_metadata_key_in_the_last_fragments_call_arguments_is_not_its_usage(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, caller: str
) -> None:
    """The stream ends with a function call whose arguments hold ``usageMetadata`` and carry no usage of
    its own: the SDK's usage, the access line, ``llm_sidecar_tokens_total`` and the budget say the last
    totals the provider sent, 50 and 2 (not 7 and 7, nor an estimate)."""
    fragments = [gemini_text("wa", (50, 1)), gemini_text("ter", (50, 2)), GEMINI_CALL_ENDS]
    running = await serve_gemini_reads(raw_upstream, sidecar, fragments)
    assert await client_usage(caller, running, gemini_client) == (50, 2)
    assert await counted_everywhere(running) == ((50, 2), (50, 2), 52)


@pytest.mark.parametrize(
    ("caller", "budget"), [("openai", True), ("anthropic", True), ("gemini", True), ("gemini", False)]
)
async def test_a_stream_cut_after_a_call_whose_arguments_hold_a_usage_metadata_key_keeps_the_last_totals(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, caller: str, budget: bool
) -> None:
    """The body ends (no ``finishReason``) right after the call whose arguments hold ``usageMetadata``: the
    access line, ``llm_sidecar_tokens_total`` and the budget say 50 and 200, the last totals sent (more
    than what was sent would be estimated at, which a cut stream is charged when it is more); relayed to a
    Gemini app without a budget too (the call's read is not forwarded unread)."""
    fragments = [gemini_text("wa", (50, 100)), gemini_text("ter", (50, 200)), GEMINI_CALL]
    running = await serve_gemini_reads(raw_upstream, sidecar, fragments, budget)
    await read_cut_stream(caller, running, gemini_client)
    assert await counted_everywhere(running) == ((50, 200), (50, 200), 250 if budget else None)


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
async def test_usage_sent_on_an_earlier_fragment_only_is_the_streams(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, caller: str
) -> None:
    """The totals come with the first fragment only (50 and 4), the two after it carry none: the SDK's
    usage, the access line, ``llm_sidecar_tokens_total`` and the budget say 50 and 4."""
    fragments = [gemini_text("wa", (50, 4)), gemini_text("ter", None), gemini_text("fall", None)]
    fragments[-1]["candidates"][0]["finishReason"] = "STOP"
    running = await serve_gemini_reads(raw_upstream, sidecar, fragments)
    assert await client_usage(caller, running, gemini_client) == (50, 4)
    assert await counted_everywhere(running) == ((50, 4), (50, 4), 54)


async def test_a_call_whose_arguments_hold_the_key_and_fill_what_the_relay_keeps_is_not_the_usage(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """Text fragments with the totals so far (50 prompt, 1, 2, 3 candidates tokens), then a call whose
    arguments hold ``usageMetadata`` and ``KEEP_BYTES`` of data, where the relay reads back to the last
    fragment with usage and forgets the rest, relayed to a Gemini app: the SDK, the access line and the
    budget say 50 and 3."""
    call = {"name": "log", "args": {**APP_USAGE_ARGS, "pad": "x" * KEEP_BYTES}}
    ends = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": call}]}, "finishReason": "STOP"}]}
    fragments = [gemini_text("w ", (50, n)) for n in (1, 2, 3)] + [ends]
    sse = [b"data: " + orjson.dumps(fragment) + b"\r\n\r\n" for fragment in fragments]
    upstream = await raw_upstream(whole_or_streamed(orjson.dumps(fragments[-1]), sse, lambda _: True))
    running = await sidecar(
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
        "models:\n  m: {provider: p, model: m-1}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n" + BUDGET,
        env={"P_KEY": "g-key"},
    )
    assert await client_usage("gemini", running, gemini_client) == (50, 3)
    assert await counted_everywhere(running) == ((50, 3), (50, 3), 53)
