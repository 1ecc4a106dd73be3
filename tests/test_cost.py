"""``cost.cost_usd``: an answer without prompt-cache counts is priced by its inputs and outputs alone (the
short way every such answer takes), to the same dollars as the four-part price of the docstring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.cost import cost_usd, estimate_usd
from sidecar.policy.spec import PriceSpec
from sidecar.translate import Usage

_TOKENS = st.integers(min_value=0, max_value=1_000_000_000)
_PRICES = st.floats(min_value=0, max_value=1_000, allow_nan=False)


@given(_TOKENS, _TOKENS, _TOKENS, _PRICES, _PRICES, _PRICES, _PRICES)
def test_an_answer_without_cache_counts_costs_what_the_four_part_price_gives(
    inputs: int, outputs: int, reasoning: int, input_price: float, output_price: float, cached: float, write: float
) -> None:
    """With no cached and no written prompt tokens, the cost is the same float as the four parts summed
    (cached and written parts of zero tokens), whatever the cache prices."""
    price = PriceSpec(
        input_per_mtok=input_price,
        output_per_mtok=output_price,
        cached_input_per_mtok=cached,
        cache_write_per_mtok=write,
    )
    usage = Usage(input_tokens=inputs, output_tokens=outputs, reasoning_tokens=reasoning)
    four_parts = (inputs * input_price + 0 * cached + 0 * write + outputs * output_price) / 1_000_000
    assert cost_usd(price, usage) == four_parts


def test_cached_and_written_prompt_tokens_are_priced_apart() -> None:
    """Cached reads at their price, cache writes at theirs, the rest of the prompt at the input price."""
    price = PriceSpec(input_per_mtok=10, output_per_mtok=40, cached_input_per_mtok=1, cache_write_per_mtok=12.5)
    usage = Usage(input_tokens=1_000, output_tokens=100, cached_input_tokens=600, cache_write_tokens=300)
    assert cost_usd(price, usage) == (100 * 10 + 600 * 1 + 300 * 12.5 + 100 * 40) / 1_000_000


LONG = PriceSpec(
    input_per_mtok=1.25,
    output_per_mtok=10,
    cached_input_per_mtok=0.125,
    long_context={"above_input_tokens": 200_000, "input_per_mtok": 2.5, "output_per_mtok": 15},
)


def test_a_prompt_at_the_long_context_threshold_is_priced_at_the_standard_tier() -> None:
    """200,000 prompt tokens, the threshold itself (Gemini: "prompts <= 200k"), cost the standard prices."""
    assert cost_usd(LONG, Usage(input_tokens=200_000, output_tokens=1_000)) == (200_000 * 1.25 + 1_000 * 10) / 1e6


def test_a_prompt_above_the_long_context_threshold_has_every_token_at_the_long_context_tier() -> None:
    """200,001 prompt tokens: input and output at the long-context prices, the cached part at the tier's
    cached price (not set there: the tier's input price), not the standard tier's."""
    usage = Usage(input_tokens=200_001, output_tokens=1_000, cached_input_tokens=100_000)
    assert cost_usd(LONG, usage) == (100_001 * 2.5 + 100_000 * 2.5 + 1_000 * 15) / 1e6


def test_a_call_served_at_a_named_service_tier_has_its_prices_whatever_the_prompt_length() -> None:
    """A call the provider says it served at ``flex``, named in the price: the flex prices, even above the
    long-context threshold; at ``default``, not named: the prompt's tier."""
    tiered = LONG.model_copy(update={"service_tiers": {"flex": PriceSpec(input_per_mtok=0.625, output_per_mtok=5)}})
    assert (
        cost_usd(tiered, Usage(input_tokens=300_000, output_tokens=100, service_tier="flex"))
        == (300_000 * 0.625 + 100 * 5) / 1e6
    )
    assert (
        cost_usd(tiered, Usage(input_tokens=300_000, output_tokens=100, service_tier="default"))
        == (300_000 * 2.5 + 100 * 15) / 1e6
    )


def test_the_audio_parts_are_at_the_audio_prices_or_the_text_prices_when_none_are_named() -> None:
    """60 of 100 fresh prompt tokens and 30 of 40 output tokens are audio: at ``audio_input_per_mtok`` and
    ``audio_output_per_mtok`` (gpt-4o-audio: $40 and $80 against $2.5 and $10); without them, at the input
    and output prices, as every token."""
    usage = Usage(input_tokens=100, output_tokens=40, audio_input_tokens=60, audio_output_tokens=30)
    audio = PriceSpec(input_per_mtok=2.5, output_per_mtok=10, audio_input_per_mtok=40, audio_output_per_mtok=80)
    assert cost_usd(audio, usage) == (40 * 2.5 + 60 * 40 + 10 * 10 + 30 * 80) / 1e6
    assert cost_usd(PriceSpec(input_per_mtok=2.5, output_per_mtok=10), usage) == (100 * 2.5 + 40 * 10) / 1e6


def test_web_searches_are_priced_per_thousand_at_every_tier_and_not_without_a_search_price() -> None:
    """3 searches at $10 per 1,000 add $0.03 to the tokens' cost, at a named service tier's prices too;
    a price without ``web_search_per_1k_calls`` counts the tokens alone."""
    searched = PriceSpec(
        input_per_mtok=2.5,
        output_per_mtok=10,
        web_search_per_1k_calls=10,
        service_tiers={"flex": PriceSpec(input_per_mtok=1.25, output_per_mtok=5)},
    )
    usage = Usage(input_tokens=100, output_tokens=40, web_search_calls=3)
    assert cost_usd(searched, usage) == (100 * 2.5 + 40 * 10) / 1e6 + 0.03
    flex = Usage(input_tokens=100, output_tokens=40, service_tier="flex", web_search_calls=3)
    assert cost_usd(searched, flex) == (100 * 1.25 + 40 * 5) / 1e6 + 0.03
    assert cost_usd(PriceSpec(input_per_mtok=2.5, output_per_mtok=10), usage) == (100 * 2.5 + 40 * 10) / 1e6


def test_a_price_billed_per_grounded_prompt_charges_one_fee_for_a_call_that_searched() -> None:
    """Gemini 2.5's grounding (``web_search_billed_per: prompt``, $35 per 1,000 grounded prompts): a call that
    ran 3 queries is charged one fee, one that ran none nothing; per search (Gemini 3's), each query."""
    per_prompt = PriceSpec(
        input_per_mtok=1, output_per_mtok=1, web_search_per_1k_calls=35, web_search_billed_per="prompt"
    )
    per_search = PriceSpec(
        input_per_mtok=1, output_per_mtok=1, web_search_per_1k_calls=14, web_search_billed_per="search"
    )
    usage = Usage(input_tokens=100, output_tokens=40, web_search_calls=3)
    assert cost_usd(per_prompt, usage) == pytest.approx(140 / 1e6 + 0.035)
    assert cost_usd(per_prompt, Usage(input_tokens=100, output_tokens=40)) == pytest.approx(140 / 1e6)
    assert cost_usd(per_search, usage) == pytest.approx(140 / 1e6 + 3 * 0.014)


def test_a_price_billed_per_call_charges_one_search_whatever_the_answer_shows() -> None:
    """An OpenAI search model (``web_search_billed_per: call``, $25 per 1,000 calls) searches on every call:
    an answer that cites nothing is charged one search, one whose citations count one as well, and its
    estimate holds one search without any asked (``estimate_usd``)."""
    per_call = PriceSpec(input_per_mtok=1, output_per_mtok=1, web_search_per_1k_calls=25, web_search_billed_per="call")
    assert cost_usd(per_call, Usage(input_tokens=100, output_tokens=40)) == pytest.approx(140 / 1e6 + 0.025)
    assert cost_usd(per_call, Usage(100, 40, web_search_calls=1)) == pytest.approx(140 / 1e6 + 0.025)
    assert estimate_usd(per_call, 100, 40) == pytest.approx(140 / 1e6 + 0.025)
    assert estimate_usd(per_call, 100, 40, searches=3) == pytest.approx(140 / 1e6 + 0.025)
