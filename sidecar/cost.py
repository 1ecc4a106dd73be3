"""Cost of one request in US dollars, from the model's prices in the policy and the usage reported.

The input is priced in five parts, each token once: read from the provider's prompt cache
(``cached_input_per_mtok``), written to it for five minutes (``cache_write_per_mtok``, Anthropic) or for
an hour (``cache_write_1h_per_mtok``, default ``HOUR_WRITE_FACTOR`` times the input price: Anthropic's),
the audio of the rest (``audio_input_per_mtok``), and the rest (``input_per_mtok``); the cache and audio
counts are parts of ``Usage.input_tokens``, the hour's a part of the writes. The output, reasoning
included, at ``output_per_mtok``, its audio part at ``audio_output_per_mtok``. A call whose prompt counts
more than the price's ``long_context.above_input_tokens`` has them all at the long-context tier's prices,
a call the provider says it served at a service tier the price names (``service_tiers``) at that tier's
(``PriceSpec.for_call``). The provider's server tools are billed per call, whatever the tier
(``tool_fees_usd``): the web searches it ran (``Usage.web_search_calls``) at ``web_search_per_1k_calls``,
or one when the price bills per prompt that searched, or one whatever it ran when the price bills per call
(``web_search_billed_per: call``, a model that searches on every call: ``PriceSpec.searches_billed``).

Before an answer, two estimates of the same prices:

- ``estimate_usd`` (and ``estimate_micro_usd``, dollars times a million): the most a call of a prompt
  and an output maximum may cost, the highest over the tiers it may be billed at
  (``PriceSpec.for_estimate``), its prompt at the dearest input price it may be billed (a cache write,
  a 1-hour write when the request asks for them, audio) and its output at the dearer of the output and
  audio output prices, and the web searches the request lets the provider run (the bound it gives, else
  the budgets' ``default_web_searches``: ``budgets.estimate.searches_asked``) at ``web_search_per_1k_calls``
  (the answer's own count is charged when it says), one for a call of a model billed per call whatever
  the request asks (``web_search_billed_per: call``). The budgets reserve it (``budgets.pricing``) and
  charge it an answer whose provider reported no usage; the access line's ``cost_usd`` of that answer is
  the same figure.
- ``expected_usd``: what routing expects a request to cost (``select: cheapest``'s order,
  ``x-sidecar-estimated-cost``): its prompt and expected output at the tier it is billed at: the service
  tier an OpenAI request asks for when the price names it (``requested_tier``: ``flex``, ``priority``;
  ``auto`` and ``default`` are the standard tier), else the long-context tier above its threshold, else
  the standard tier; the audio part of the prompt at that tier's audio input price; and the web searches
  it is expected to run (one per search tool it offers, at most the tool's bound:
  ``routing.record.expected_searches``; not the budgets' bound) at ``web_search_per_1k_calls`` as the
  price bills them (one for a model billed per call, whatever the request asks).
"""

from __future__ import annotations

from typing import Any

from .policy.price_plan import CallPrices
from .policy.prices import TokenPrices
from .policy.spec import PriceSpec
from .translate import Usage

HOUR_WRITE_FACTOR = 2.0
"""A 1-hour cache write's price over the input price when the policy names none (Anthropic's pricing)."""


def hour_write_price(price: TokenPrices | CallPrices) -> float:
    """The price of a token written to the prompt cache for an hour (``cache_write_1h_per_mtok``)."""
    hour = price.cache_write_1h_per_mtok
    return hour if hour is not None else price.input_per_mtok * HOUR_WRITE_FACTOR


def cost_usd(price: PriceSpec | CallPrices | None, usage: Usage | None) -> float | None:
    """None when the model has no price or the upstream reported no usage. ``price``: the spec, or its copy in
    slots that an answer's bill reads (``Target.prices``, ``policy.price_plan``): the same figure."""
    if price is None or usage is None:
        return None
    inputs = usage.input_tokens
    prices: TokenPrices | CallPrices = price
    if price.long_context is not None or price.service_tiers:
        prices = price.for_call(inputs, usage.service_tier)
    if not (
        usage.cached_input_tokens
        or usage.cache_write_tokens
        or usage.audio_input_tokens
        or usage.audio_output_tokens
        or usage.web_search_calls
        or price.web_search_billed_per == "call"
    ):
        return (inputs * prices.input_per_mtok + usage.output_tokens * prices.output_per_mtok) / 1_000_000  # most
    return _in_parts(prices, usage) / 1_000_000 + tool_fees_usd(price, usage)


def tool_fees_usd(price: PriceSpec | CallPrices, usage: Usage) -> float:
    """What the provider bills per call of its server tools, not per token: the web searches it ran at
    ``web_search_per_1k_calls`` (none priced: nothing), as ``PriceSpec.searches_billed`` counts them."""
    per_1k = price.web_search_per_1k_calls
    return price.searches_billed(usage.web_search_calls) * per_1k / 1000 if per_1k else 0.0


def estimate_micro_usd(
    price: PriceSpec, input_tokens: int, output_tokens: int, hour_writes: bool = False, searches: int = 0
) -> float:
    """Dollars times a million a call may cost at most (the module docstring); ``hour_writes``: the
    request asks for 1-hour prompt-cache writes (``budgets.estimate.asks_hour_writes``); ``searches``: the
    web searches it lets the provider run (``budgets.estimate.searches_asked``), at ``web_search_per_1k_calls``."""
    tiers = price.for_estimate(input_tokens)
    tokens = max(_dearest(prices, input_tokens, output_tokens, hour_writes) for prices in tiers)
    per_1k = price.web_search_per_1k_calls
    return tokens + price.searches_billed(searches) * per_1k * 1000 if per_1k else tokens


def estimate_usd(
    price: PriceSpec | None, input_tokens: int, output_tokens: int, hour_writes: bool = False, searches: int = 0
) -> float | None:
    """``estimate_micro_usd`` in dollars; None when the model has no price."""
    if price is None:
        return None
    return estimate_micro_usd(price, input_tokens, output_tokens, hour_writes, searches) / 1_000_000


def _dearest(prices: TokenPrices, input_tokens: int, output_tokens: int, hour_writes: bool) -> float:
    """One tier's ``estimate_micro_usd``."""
    input_price = prices.input_per_mtok
    if prices.cache_write_per_mtok is not None and prices.cache_write_per_mtok > input_price:
        input_price = prices.cache_write_per_mtok
    if hour_writes:
        input_price = max(input_price, hour_write_price(prices))
    if prices.audio_input_per_mtok is not None:  # the prompt may be audio: the request is not read for it
        input_price = max(input_price, prices.audio_input_per_mtok)
    output_price = prices.output_per_mtok
    if prices.audio_output_per_mtok is not None:
        output_price = max(output_price, prices.audio_output_per_mtok)
    return input_tokens * input_price + output_tokens * output_price


def expected_usd(
    price: PriceSpec,
    prompt_tokens: int,
    audio_tokens: int,
    output_tokens: int,
    service_tier: str | None = None,
    searches: int = 0,
) -> float:
    """What routing expects a request to cost (the module docstring): ``audio_tokens`` of its
    ``prompt_tokens`` are audio; ``service_tier``: the tier it asks for (``requested_tier``); ``searches``:
    the web searches it is expected to run (``routing.record.expected_searches``)."""
    prices = price.for_call(prompt_tokens, service_tier)
    input_price = prices.input_per_mtok
    total = prompt_tokens * input_price + output_tokens * prices.output_per_mtok
    if audio_tokens and prices.audio_input_per_mtok is not None:
        total += min(audio_tokens, prompt_tokens) * (prices.audio_input_per_mtok - input_price)
    per_1k = price.web_search_per_1k_calls
    if per_1k:  # dollars times a million, as ``total``
        total += price.searches_billed(searches) * per_1k * 1000
    return total / 1e6


OPENAI_TIER_ANSWERED = {"auto": None, "default": None, "fast": "priority"}
"""An OpenAI request's ``service_tier`` -> the tier its answer will say it was served at, where they differ:
``auto`` and ``default`` the standard tier (``auto`` is the project's setting, ``default`` unless it says
otherwise), ``fast`` answered as ``priority`` (openai-python 3.63's ``service_tier`` documentation)."""


def requested_tier(body: dict[str, Any]) -> str | None:
    """The service tier an OpenAI request (chat or Responses) asks for, as its answer names it: ``flex``,
    ``priority``, ``scale``...; None for none, ``auto``, ``default``, or not a string (Anthropic's request
    ``service_tier``, ``auto`` or ``standard_only``, says whether priority capacity may be used, not that it
    will: its estimate stays standard, as Gemini's)."""
    tier = body.get("service_tier")
    if type(tier) is not str:
        return None
    return OPENAI_TIER_ANSWERED.get(tier, tier)


def _in_parts(prices: TokenPrices | CallPrices, usage: Usage) -> float:
    """Dollars times a million: each part at its price (the module docstring)."""
    inputs = usage.input_tokens
    cached = min(usage.cached_input_tokens, inputs)  # subsets: a provider claiming more lies
    written = min(usage.cache_write_tokens, inputs - cached)
    hour = min(usage.cache_write_1h_tokens, written)
    audio = min(usage.audio_input_tokens, inputs - cached - written)
    fresh = inputs - cached - written - audio
    output = usage.output_tokens
    audio_out = min(usage.audio_output_tokens, output)
    input_price = prices.input_per_mtok
    cached_price = prices.cached_input_per_mtok if prices.cached_input_per_mtok is not None else input_price
    write_price = prices.cache_write_per_mtok if prices.cache_write_per_mtok is not None else input_price
    audio_price = prices.audio_input_per_mtok if prices.audio_input_per_mtok is not None else input_price
    output_price = prices.output_per_mtok
    audio_out_price = prices.audio_output_per_mtok if prices.audio_output_per_mtok is not None else output_price
    total = (
        fresh * input_price
        + cached * cached_price
        + (written - hour) * write_price
        + audio * audio_price
        + (output - audio_out) * output_price
        + audio_out * audio_out_price
    )
    if hour:
        total += hour * hour_write_price(prices)
    return total
