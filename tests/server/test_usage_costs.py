"""The cost the sidecar counts for one answer is the provider's bill for it, from the usage in the shape each
provider sends: the access line's ``cost_usd``, the budget's charge and the token counts agree with the
model's prices applied to that usage, each token priced once (docs/policy.md, Prices).

- The OpenAI Responses API (``input_tokens``/``output_tokens`` names, the stream's usage in its
  ``response.completed`` event) through openai-python, from the fake provider, relayed to OpenAI or
  translated for Anthropic and Gemini.
- Anthropic prompt caching: ``cache_creation_input_tokens`` at ``cache_write_per_mtok`` and
  ``cache_read_input_tokens`` at ``cached_input_per_mtok``, both outside Anthropic's ``input_tokens``,
  from a raw upstream writing Anthropic's answer and stream (``message_start`` and a ``message_delta``
  that repeats the cumulative counts), through the Anthropic SDK; and a stream cut after its
  ``message_start`` (whose count of 1 output token is not what was streamed).
- Gemini thinking and cached content: ``thoughtsTokenCount`` (outside ``candidatesTokenCount``) billed
  as output, ``cachedContentTokenCount`` a part of ``promptTokenCount``, through google-genai, whole
  and streamed (cumulative counts in each fragment).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import ServerConn, UpstreamFactory, whole_or_streamed
from .anthropic_usage import CACHED, HOUR_USAGE, IN, OUT, WRITE, anthropic_asked, anthropic_upstream
from .usage_priced import PRICE, access, charged, policy


@pytest.mark.parametrize("speaks", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_api_answer_is_costed_and_charged(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool, speaks: str
) -> None:
    """``responses.create`` and ``responses.stream``, relayed to OpenAI or translated for Anthropic or
    Gemini: the access line counts the tokens the answer's usage reports and their cost (its operation
    ``responses``), and the budgets charge the same dollars and tokens (they read 0 tokens and $0 for an
    answer, and nothing, so the reservation, for a stream)."""
    url = await fake(f"fake-{speaks}")
    running = await sidecar(policy(provider_block("p", url, speaks)))
    async with openai_client(running) as client:
        if stream:
            async with client.responses.stream(model="m", input="hello costs") as events:
                async for _ in events:
                    pass
                usage = (await events.get_final_response()).usage
        else:
            usage = (await client.responses.create(model="m", input="hello costs")).usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    cost = (usage.input_tokens * IN + usage.output_tokens * OUT) / 1e6
    line = access(running)
    assert (line["operation"], line["input_tokens"], line["output_tokens"], line["cost_usd"]) == (
        "responses",
        usage.input_tokens,
        usage.output_tokens,
        pytest.approx(cost),
    )
    assert await charged(running) == {"usd-month": pytest.approx(cost), "tokens-month": usage.total_tokens}


ANTHROPIC_COST = (100 * IN + 1000 * WRITE + 2000 * CACHED + 50 * OUT) / 1e6  # 0.6 + 1.25 + 0.2 + 0.1 = 1.45


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_anthropic_cache_writes_and_reads_are_each_priced_once(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """An Anthropic answer with cache writes and reads: the app gets Anthropic's usage as sent; the access
    line counts 3,100 input tokens (2,000 of them cached) and costs the writes at ``cache_write_per_mtok``
    (they were priced as fresh input), the reads at ``cached_input_per_mtok``, the rest at the input
    price; the budget charges the same dollars."""
    upstream = await raw_upstream(anthropic_upstream())
    provider = f"  p: {{dialect: anthropic, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
    running = await sidecar(policy(provider), env={"P_KEY": "sk-x"})
    usage = await anthropic_asked(running, stream)
    assert (usage.input_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (100, 1000, 2000)
    line = access(running)
    counts = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
    assert [line[name] for name in counts] == [3100, 2000, 1000, 50]
    assert line["cost_usd"] == pytest.approx(ANTHROPIC_COST)
    assert await charged(running) == {"usd-month": pytest.approx(ANTHROPIC_COST), "tokens-month": 3150}


HOUR = 1800.0  # $ per million 1-hour writes, when the policy names the price


@pytest.mark.parametrize("priced", [True, False], ids=["priced", "default"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_anthropic_one_hour_cache_writes_are_priced_apart(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool, priced: bool
) -> None:
    """An Anthropic answer that wrote 400 prompt tokens to the cache for five minutes and 600 for an hour:
    the hour's writes cost ``cache_write_1h_per_mtok``, or twice the input price when the policy names
    none (Anthropic's price), the others ``cache_write_per_mtok``; the access line (``cache_write_1h_tokens``),
    the budget and the cost metric agree (before: every write at ``cache_write_per_mtok``, the hour's
    about 38% low)."""
    upstream = await raw_upstream(anthropic_upstream(HOUR_USAGE))
    provider = f"  p: {{dialect: anthropic, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
    price = PRICE[:-1] + f", cache_write_1h_per_mtok: {HOUR}}}" if priced else PRICE
    running = await sidecar(policy(provider, price), env={"P_KEY": "sk-x"})
    await anthropic_asked(running, stream)
    hour_price = HOUR if priced else 2 * IN
    cost = (100 * IN + 400 * WRITE + 600 * hour_price + 50 * OUT) / 1e6
    line = access(running)
    assert (line["cache_write_tokens"], line["cache_write_1h_tokens"]) == (1000, 600)
    assert line["cost_usd"] == pytest.approx(cost)
    assert await charged(running) == {"usd-month": pytest.approx(cost), "tokens-month": 1150}
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as answer:
        metrics = await answer.text()
    (metric,) = [row for row in metrics.splitlines() if row.startswith("llm_sidecar_cost_usd_total{")]
    assert float(metric.rsplit(" ", 1)[1]) == pytest.approx(cost)


def cut_anthropic_upstream() -> Any:
    """An Anthropic server whose stream counts 100 input tokens and 1 output token in ``message_start``,
    sends 400 words, and closes the connection before its ``message_delta`` (the final count)."""
    start_usage = {"input_tokens": 100, "output_tokens": 1}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m-1",
        "content": [],
        "usage": start_usage,
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {**message, "stop_reason": None}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for i in range(400):
        delta = {"type": "text_delta", "text": f" word{i}"}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    body = b"".join(f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events)

    async def handler(conn: ServerConn) -> None:
        if await conn.read_request() is not None:
            head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
            conn.writer.write(head + body)
            await conn.writer.drain()
            conn.writer.close()

    return handler


async def test_a_stream_cut_after_its_first_count_is_charged_the_output_streamed(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A stream cut after Anthropic's ``message_start`` (input counted, output 1) and 400 words: the app's
    SDK raises; the access line and the budget count the output streamed (at least a token a word), not
    the 1 token of the early count."""
    import anthropic

    upstream = await raw_upstream(cut_anthropic_upstream())
    provider = f"  p: {{dialect: anthropic, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
    running = await sidecar(policy(provider), env={"P_KEY": "sk-x"})
    ask: dict[str, Any] = {"model": "m", "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}]}
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIError):
            async with client.messages.stream(**ask) as events:
                async for _ in events:
                    pass
    line = access(running)
    assert (line["outcome"], line["input_tokens"]) == ("stream_error", 100)
    assert 400 <= line["output_tokens"] < 4000
    cost = (100 * IN + line["output_tokens"] * OUT) / 1e6
    assert line["cost_usd"] == pytest.approx(cost)
    assert await charged(running) == {"usd-month": pytest.approx(cost), "tokens-month": 100 + line["output_tokens"]}


# Gemini's usage of an answer that thought 300 tokens, read 600 prompt tokens from a cached content,
# and wrote 40: thoughts are billed as output but not in candidatesTokenCount; the cached tokens are
# part of promptTokenCount. A stream repeats the counts so far in each fragment (the last one wins).
GEMINI_USAGE = {
    "promptTokenCount": 1000,
    "cachedContentTokenCount": 600,
    "candidatesTokenCount": 40,
    "thoughtsTokenCount": 300,
    "totalTokenCount": 1340,
}
GEMINI_COST = (400 * IN + 600 * CACHED + 340 * OUT) / 1e6


def gemini_upstream(usage: dict[str, int] = GEMINI_USAGE) -> Any:
    """A Gemini server answering "hello" with ``usage``, whole or as two fragments (the first with 5
    candidate tokens)."""
    first = {**usage, "candidatesTokenCount": 5}

    def fragment(text: str, usage: dict[str, int], finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "m-1", "responseId": "r1"}

    whole = fragment("hello", usage, "STOP")
    sse = [
        b"data: " + orjson.dumps(f) + b"\r\n\r\n" for f in (fragment("hel", first, None), fragment("lo", usage, "STOP"))
    ]

    return whole_or_streamed(orjson.dumps(whole), sse, lambda request: b"streamGenerateContent" in request.head)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_thoughts_are_output_and_cached_content_is_part_of_the_prompt(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """Through google-genai: 1,000 prompt tokens (600 of them cached, at the cached price) and 340 output
    tokens (40 answer and 300 thoughts, each at the output price once), counted alike by the access line
    and the budgets, whether read whole or from the last fragment of a stream."""
    upstream = await raw_upstream(gemini_upstream())
    provider = f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
    running = await sidecar(policy(provider), env={"P_KEY": "k"})
    client = gemini_client(running.url)
    if stream:
        texts = [
            chunk.text async for chunk in await client.aio.models.generate_content_stream(model="m", contents="hi")
        ]
        assert "".join(texts) == "hello"
    else:
        assert (await client.aio.models.generate_content(model="m", contents="hi")).text == "hello"
    line = access(running)
    counts = ("input_tokens", "cached_input_tokens", "output_tokens")
    assert [line[name] for name in counts] == [1000, 600, 340]
    assert line["cost_usd"] == pytest.approx(GEMINI_COST)
    assert await charged(running) == {"usd-month": pytest.approx(GEMINI_COST), "tokens-month": 1340}


LONG_PRICE = PRICE[:-1] + ", long_context: {above_input_tokens: 200000, input_per_mtok: 2000, output_per_mtok: 6000}}"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_prompt_above_the_long_context_threshold_is_charged_the_long_context_prices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, stream: bool
) -> None:
    """Gemini 2.5 Pro's rule, through google-genai: an answer whose prompt counted 250,000 tokens (more than
    the price's ``long_context.above_input_tokens``) has its input and output at the long-context prices,
    alike in the access line, the budget and ``llm_sidecar_cost_usd_total`` (before: at the standard prices,
    half the input's bill)."""
    usage = {"promptTokenCount": 250_000, "candidatesTokenCount": 40, "totalTokenCount": 250_040}
    upstream = await raw_upstream(gemini_upstream(usage))
    provider = f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
    running = await sidecar(policy(provider, LONG_PRICE), env={"P_KEY": "k"})
    client = gemini_client(running.url)
    if stream:
        async for _ in await client.aio.models.generate_content_stream(model="m", contents="hi"):
            pass
    else:
        await client.aio.models.generate_content(model="m", contents="hi")
    cost = (250_000 * 2000 + 40 * 6000) / 1e6
    line = access(running)
    assert (line["input_tokens"], line["output_tokens"], line["cost_usd"]) == (250_000, 40, pytest.approx(cost))
    assert await charged(running) == {"usd-month": pytest.approx(cost), "tokens-month": 250_040}
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as answer:
        metrics = await answer.text()
    (metric,) = [row for row in metrics.splitlines() if row.startswith("llm_sidecar_cost_usd_total{")]
    assert float(metric.rsplit(" ", 1)[1]) == pytest.approx(cost)


async def test_a_streamed_text_completion_is_costed_from_the_usage_the_sidecar_asks_for(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A legacy ``completions.create(stream=True)`` (openai-python) without ``stream_options``: the sidecar
    asks the upstream for the usage chunk itself, as for a chat stream, and keeps it from the app; the
    access line and the budget count the provider's tokens, not an estimate (before: no usage came, so the
    call was charged its reservation, 4,096 output tokens, and marked ``tokens_estimated``)."""
    url = await fake("fake-openai")
    running = await sidecar(policy(provider_block("p", url, "openai")))
    async with openai_client(running) as client:
        chunks = [chunk async for chunk in await client.completions.create(model="m", prompt="count", stream=True)]
    assert chunks and all(chunk.usage is None for chunk in chunks)
    line = access(running)
    assert "tokens_estimated" not in line and 0 < line["output_tokens"] <= 16  # the legacy default max_tokens
    cost = (line["input_tokens"] * IN + line["output_tokens"] * OUT) / 1e6
    assert line["cost_usd"] == pytest.approx(cost)
    assert await charged(running) == {
        "usd-month": pytest.approx(cost),
        "tokens-month": line["input_tokens"] + line["output_tokens"],
    }
