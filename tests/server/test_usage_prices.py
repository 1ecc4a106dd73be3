"""Prices beyond a model's input and output prices, through the official SDKs; the access line, the budget and
``llm_sidecar_cost_usd_total`` agree:

- a call the provider says it served at a service tier is charged that tier's prices when the model's price
  names them (``price.service_tiers``): OpenAI's ``service_tier`` beside the usage (whole, and on each chunk
  of a stream), Anthropic's ``usage.service_tier`` (in ``message_start``; its ``message_delta`` leaves it out);
- the audio parts of the prompt and the output OpenAI counts are charged the audio prices
  (``audio_input_per_mtok``, ``audio_output_per_mtok``);
- the web searches a provider ran are charged ``web_search_per_1k_calls`` each thousand: Anthropic's
  ``usage.server_tool_use.web_search_requests`` (whole, and a stream's last ``message_delta``), OpenAI's
  Responses ``web_search_call`` items (whole, and ``response.completed``), an OpenAI chat answer citing the web
  (whole, and a stream's ``delta.annotations``, relayed and translated), one for every chat call of a model
  billed per call (``web_search_billed_per: call``: OpenAI's search models) whatever its answer shows,
  Gemini's distinct non-empty grounding queries (``groundingMetadata.webSearchQueries``, whole and streamed).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import openai_chat_text, openai_client
from ..upstream.raw import UpstreamFactory, whole_or_streamed
from .anthropic_usage import CACHED, IN, OUT, anthropic_asked, anthropic_upstream
from .usage_priced import PRICE, access, charged, policy

TIERED = PRICE[:-1] + f", service_tiers: {{priority: {{input_per_mtok: {2 * IN}, output_per_mtok: {2 * OUT}}}}}}}"
USAGE = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}


def openai_upstream(tier: str, usage: dict[str, Any] = USAGE) -> Any:
    """An OpenAI server answering "hi" with ``usage``, saying it served the call at ``tier``."""
    head = {"id": "c1", "created": 1, "model": "m-1", "service_tier": tier}
    message = {"role": "assistant", "content": "hi"}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    whole = {**head, "object": "chat.completion", "choices": [choice]}
    chunk = {**head, "object": "chat.completion.chunk"}
    chunks = [
        {**chunk, "choices": [{"index": 0, "delta": message, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": usage},
    ]
    sse = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return whole_or_streamed(
        orjson.dumps({**whole, "usage": usage}), sse, lambda request: bool(orjson.loads(request.body).get("stream"))
    )


async def agree(running: RunningSidecar, cost: float, tokens: int) -> None:
    """The access line, the budgets and the cost metric count ``cost`` dollars (and ``tokens``)."""
    assert access(running)["cost_usd"] == pytest.approx(cost)
    assert await charged(running) == {"usd-month": pytest.approx(cost), "tokens-month": tokens}
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as answer:
        metrics = await answer.text()
    (metric,) = [row for row in metrics.splitlines() if row.startswith("llm_sidecar_cost_usd_total{")]
    assert float(metric.rsplit(" ", 1)[1]) == pytest.approx(cost)


async def started(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, handler: Any, dialect: str, price: str
) -> Any:
    """A sidecar whose model ``m`` (priced ``price``) is served by a raw upstream speaking ``dialect``."""
    upstream = await raw_upstream(handler)
    base = upstream.base + ("/v1" if dialect == "openai" else "")
    provider = f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: P_KEY}}}}\n"
    return await sidecar(policy(provider, price), env={"P_KEY": "sk-x"})


async def openai_asked(running: RunningSidecar, stream: bool) -> str | None:
    """Ask model ``m`` "hi" through openai-python, whole or streamed; the whole answer's service tier."""
    ask: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with openai_client(running) as client:
        if stream:
            async for _ in await client.chat.completions.create(**ask, stream=True):
                pass
            return None
        return (await client.chat.completions.create(**ask)).service_tier


async def test_an_openai_answer_with_cached_tokens_bills_its_header_and_line_at_the_three_prices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """Through openai-python, a model with input, output and cached prices whose answer counts 40 of its 100
    prompt tokens as cached: ``x-sidecar-cost`` and the access line's ``cost_usd`` are the same figure, the
    fresh, cached and output tokens each at their price (the bill prices from ``Target.prices``, the spec's
    copy in slots)."""
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 40}}
    running = await started(raw_upstream, sidecar, openai_upstream("default", usage), "openai", PRICE)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    expected = (60 * IN + 40 * CACHED + 50 * OUT) / 1e6
    assert float(raw.headers["x-sidecar-cost"]) == access(running)["cost_usd"] == pytest.approx(expected)
    assert raw.headers["x-sidecar-cost"] == f"{expected:.8f}"


@pytest.mark.parametrize(("tier", "factor"), [("priority", 2), ("default", 1)])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_openai_call_served_at_a_named_tier_is_charged_its_prices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool, tier: str, factor: int
) -> None:
    """Through openai-python, an answer OpenAI says it served at ``priority`` costs the priority prices the
    policy names (twice the standard here), one at ``default`` (not named) the standard prices (before: the
    standard prices whatever the tier, a priority call about half its bill)."""
    running = await started(raw_upstream, sidecar, openai_upstream(tier), "openai", TIERED)
    assert await openai_asked(running, stream) == (None if stream else tier)
    await agree(running, factor * (100 * IN + 50 * OUT) / 1e6, 150)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_anthropic_call_served_at_priority_is_charged_its_prices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Through the Anthropic SDK, an answer whose ``usage.service_tier`` is ``priority`` (a stream's in its
    ``message_start`` alone, its ``message_delta`` counting the output without it) costs the priority prices."""
    usage: dict[str, Any] = {"input_tokens": 100, "output_tokens": 50}
    start = {**usage, "output_tokens": 1, "service_tier": "priority"}
    handler = anthropic_upstream(usage, start) if stream else anthropic_upstream(start | usage)
    running = await started(raw_upstream, sidecar, handler, "anthropic", TIERED)
    await anthropic_asked(running, stream)
    await agree(running, 2 * (100 * IN + 50 * OUT) / 1e6, 150)


AUDIO_PRICE = PRICE[:-1] + f", audio_input_per_mtok: {8 * IN}, audio_output_per_mtok: {4 * OUT}}}"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_openai_audio_tokens_are_charged_the_audio_prices(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Through openai-python, an answer whose usage counts 60 of its 100 prompt tokens and 30 of its 50
    output tokens as audio (gpt-4o-audio's ``audio_tokens``) costs those at the audio prices, the rest at
    the text prices (before: every token at the text prices, audio input 16 times under its bill)."""
    usage = {
        **USAGE,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 30},
    }
    running = await started(raw_upstream, sidecar, openai_upstream("default", usage), "openai", AUDIO_PRICE)
    await openai_asked(running, stream)
    await agree(running, (40 * IN + 60 * 8 * IN + 20 * OUT + 30 * 4 * OUT) / 1e6, 150)


SEARCH = 10.0  # dollars per 1,000 web searches: Anthropic's web_search tool
SEARCHED = PRICE[:-1] + f", web_search_per_1k_calls: {SEARCH}}}"
TOKENS_COST = (100 * IN + 50 * OUT) / 1e6


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_anthropic_web_searches_are_charged_per_thousand(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Through the Anthropic SDK, an answer whose ``usage.server_tool_use.web_search_requests`` is 3 (a
    stream's ``message_start`` says 0, its ``message_delta`` 3) costs its tokens and 3 searches at $10 per
    1,000, in the line (``web_search_calls``), the budgets and the metric (before: the tokens alone)."""
    usage: dict[str, Any] = {"input_tokens": 100, "output_tokens": 50, "server_tool_use": {"web_search_requests": 3}}
    start = {**usage, "output_tokens": 1, "server_tool_use": {"web_search_requests": 0}}
    handler = anthropic_upstream(usage, start) if stream else anthropic_upstream(usage)
    running = await started(raw_upstream, sidecar, handler, "anthropic", SEARCHED)
    await anthropic_asked(running, stream)
    assert access(running)["web_search_calls"] == 3
    await agree(running, TOKENS_COST + 3 * SEARCH / 1000, 150)


def responses_upstream(searches: int) -> Any:
    """An OpenAI Responses server whose answer ran ``searches`` web searches (a ``web_search_call`` item
    each, then the message), whole or streamed (``response.created``, then ``response.completed``)."""
    calls = [
        {"type": "web_search_call", "id": f"ws_{n}", "status": "completed", "action": {"type": "search", "query": "q"}}
        for n in range(searches)
    ]
    text = {"type": "output_text", "text": "hi", "annotations": []}
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [text]}
    usage = {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150}
    head = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m-1",
        "tools": [],
        "parallel_tool_calls": True,
    }
    head |= {"tool_choice": "auto", "status": "completed", "output": [*calls, message], "usage": usage}
    created = {**head, "status": "in_progress", "output": [], "usage": None}
    events = [
        ("response.created", {"type": "response.created", "sequence_number": 0, "response": created}),
        ("response.completed", {"type": "response.completed", "sequence_number": 1, "response": head}),
    ]
    sse = [f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events]
    return whole_or_streamed(orjson.dumps(head), sse, lambda request: bool(orjson.loads(request.body).get("stream")))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_openai_responses_web_search_calls_are_charged_per_thousand(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Through openai-python's ``responses.create``, an answer with two ``web_search_call`` items (a stream's
    in ``response.completed``) costs its tokens and 2 searches."""
    running = await started(raw_upstream, sidecar, responses_upstream(2), "openai", SEARCHED)
    async with openai_client(running) as client:
        if stream:
            async for _ in await client.responses.create(model="m", input="hi", stream=True):
                pass
        else:
            assert (await client.responses.create(model="m", input="hi")).output_text == "hi"
    assert access(running)["web_search_calls"] == 2
    await agree(running, TOKENS_COST + 2 * SEARCH / 1000, 150)


def cited_chat_upstream() -> Any:
    """An OpenAI search model (gpt-4o-search-preview) answering "hi" with a ``url_citation``: whole, in
    ``message.annotations``; streamed, in a chunk of its own (``delta.annotations``) after the text, then
    the finish and the usage chunk, as OpenAI streams it (openai-python 3.63's ``ChoiceDelta`` does not
    type ``annotations``: they reach the app as an extra field)."""
    cited = {
        "type": "url_citation",
        "url_citation": {"url": "https://e.x", "title": "e", "start_index": 0, "end_index": 2},
    }
    message = {"role": "assistant", "content": "hi", "annotations": [cited]}
    head = {"id": "c1", "created": 1, "model": "m-1"}
    whole = {**head, "object": "chat.completion", "usage": USAGE}
    whole["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    chunk = {**head, "object": "chat.completion.chunk"}
    deltas = [{"role": "assistant", "content": "hi"}, {"annotations": [cited]}]
    chunks = [{**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks += [
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": USAGE},
    ]
    sse = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return whole_or_streamed(orjson.dumps(whole), sse, lambda request: bool(orjson.loads(request.body).get("stream")))


async def test_an_openai_chat_answer_citing_the_web_is_charged_one_search(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A search model's chat answer (``url_citation`` annotations, gpt-4o-search-preview) costs one search;
    the same answer's whole head says so in ``x-sidecar-cost``."""
    running = await started(raw_upstream, sidecar, cited_chat_upstream(), "openai", SEARCHED)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert access(running)["web_search_calls"] == 1
    await agree(running, TOKENS_COST + SEARCH / 1000, 150)
    assert float(raw.headers["x-sidecar-cost"]) == access(running)["cost_usd"]


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
async def test_an_openai_chat_stream_citing_the_web_is_charged_one_search(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, caller: str
) -> None:
    """A search model's chat stream, whose citations come in a delta, costs one search as its whole answer
    does, relayed to openai-python as it came and translated to the Anthropic SDK (before: the tokens alone)."""
    running = await started(raw_upstream, sidecar, cited_chat_upstream(), "openai", SEARCHED)
    if caller == "anthropic":
        await anthropic_asked(running, True)
    else:
        ask: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with openai_client(running) as client:
            chunks = await client.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True})
            cited = [c.choices[0].delta.model_extra.get("annotations") async for c in chunks if c.choices]
        assert [{"url": "https://e.x", "title": "e", "start_index": 0, "end_index": 2}] in [
            [a["url_citation"] for a in annotations] for annotations in cited if annotations
        ]
    assert access(running)["web_search_calls"] == 1
    await agree(running, TOKENS_COST + SEARCH / 1000, 150)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_chat_of_a_model_billed_per_call_is_charged_one_search_citing_nothing(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Through openai-python, a search model's answer that cites nothing (asked without
    ``web_search_options``), whose price says it searches on every call (``web_search_billed_per: call``),
    costs its tokens and one search, whole and streamed, in the line, the budgets and the metric (before:
    ``call`` was refused; a model billed per search, the tokens alone)."""
    per_call = SEARCHED[:-1] + ", web_search_billed_per: call}"
    running = await started(raw_upstream, sidecar, openai_upstream("default"), "openai", per_call)
    await openai_asked(running, stream)
    await agree(running, TOKENS_COST + SEARCH / 1000, 150)


def gemini_grounded_upstream(queries: list[str]) -> Any:
    """A Gemini server whose answer "hi" was grounded with Google Search: ``queries`` in its candidate's
    ``groundingMetadata.webSearchQueries``, whole or streamed (the usage so far on every fragment, the
    grounding on the last, as Gemini sends them)."""
    usage = {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150}
    grounding = {"webSearchQueries": queries, "groundingChunks": [{"web": {"uri": "https://e.x", "title": "e"}}]}
    content = {"role": "model", "parts": [{"text": "hi"}]}
    last = {"content": content, "finishReason": "STOP", "index": 0, "groundingMetadata": grounding}
    whole = {"candidates": [last], "usageMetadata": usage, "modelVersion": "m-1", "responseId": "r1"}
    first = {"candidates": [{"content": content, "index": 0}], "modelVersion": "m-1", "responseId": "r1"}
    first["usageMetadata"] = {"promptTokenCount": 100, "totalTokenCount": 100}
    ending = {**whole, "candidates": [{**last, "content": {"role": "model", "parts": [{"text": ""}]}}]}
    sse = [b"data: " + orjson.dumps(fragment) + b"\r\n\r\n" for fragment in (first, ending)]
    return whole_or_streamed(orjson.dumps(whole), sse, lambda request: b"streamGenerateContent" in request.head)


@pytest.mark.parametrize(("unit", "billed"), [("search", 2), ("prompt", 1)])
@pytest.mark.parametrize("caller", ["gemini", "openai"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_grounding_search_queries_are_charged_per_thousand(
    raw_upstream: UpstreamFactory,
    sidecar: SidecarFactory,
    gemini_client: Any,
    stream: bool,
    caller: str,
    unit: str,
    billed: int,
) -> None:
    """Through google-genai (and through openai-python, the answer translated), an answer grounded with
    Google Search whose ``webSearchQueries`` are two distinct queries, one repeated and one empty costs its
    tokens and 2 searches when the price bills each query (Gemini 3: ``web_search_billed_per: search``), 1
    when it bills the grounded prompt (Gemini 2.5: ``prompt``; before: 2, twice Google's bill); the line's
    ``web_search_calls`` says the 2 queries either way."""
    handler = gemini_grounded_upstream(["weather paris", "", "weather lyon", "weather paris"])
    price = SEARCHED[:-1] + f", web_search_billed_per: {unit}}}"
    running = await started(raw_upstream, sidecar, handler, "gemini", price)
    if caller == "openai":
        assert await openai_chat_text(running, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, stream)
    elif stream:
        async for _ in await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi"):
            pass
    else:
        assert (await gemini_client(running.url).aio.models.generate_content(model="m", contents="hi")).text == "hi"
    assert access(running)["web_search_calls"] == 2
    await agree(running, TOKENS_COST + billed * SEARCH / 1000, 150)
