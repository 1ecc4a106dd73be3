"""Estimates and actual uses in integer counter units."""

from __future__ import annotations

from sidecar.budgets.pricing import actual_units, estimate_units, from_units, to_units
from sidecar.budgets.spec import Measure
from sidecar.policy.spec import PriceSpec
from sidecar.translate import Usage

PRICE = PriceSpec(input_per_mtok=2.5, output_per_mtok=10, cached_input_per_mtok=1.25)


def test_an_estimate_prices_input_and_max_output() -> None:
    """3 input + 1 output tokens at $2.5/$10 per million is $0.0000175 (17,500 nano-dollars), 4 tokens, 1 call."""
    assert estimate_units(PRICE, 3, 1) == (17_500, 4, 1)


def test_an_estimate_rounds_up() -> None:
    """A tenth of a nano-dollar is reserved as one: an estimate is never low."""
    assert estimate_units(PriceSpec(input_per_mtok=0.0001), 1, 0)[0] == 1


def test_the_actual_use_counts_cached_input_at_its_price() -> None:
    """The settlement uses sidecar.cost: 1000 cached at $1.25 + 100 out at $10 per million = $0.00225."""
    assert actual_units(PRICE, Usage(input_tokens=1000, output_tokens=100, cached_input_tokens=1000)) == (
        2_250_000,
        1100,
        1,
    )


ANTHROPIC = PriceSpec(input_per_mtok=3, output_per_mtok=15, cached_input_per_mtok=0.3, cache_write_per_mtok=3.75)


def test_the_actual_use_counts_cache_writes_at_their_price() -> None:
    """Anthropic's input of 100 fresh, 1,000 written to the cache and 2,000 read from it (3,100 in
    ``Usage.input_tokens``), and 50 out: $0.0003 + $0.00375 + $0.0006 + $0.00075 = $0.0054, each token once."""
    usage = Usage(input_tokens=3100, output_tokens=50, cached_input_tokens=2000, cache_write_tokens=1000)
    assert actual_units(ANTHROPIC, usage) == (5_400_000, 3150, 1)


def test_an_estimate_prices_the_prompt_at_the_cache_write_price_when_higher() -> None:
    """The prompt may all be written to the cache: 1,000 input tokens are reserved at $3.75 per million,
    not $3, so that the estimate is not low."""
    assert estimate_units(ANTHROPIC, 1000, 0) == (3_750_000, 1000, 1)


def test_a_model_without_a_price_weighs_zero_dollars() -> None:
    """No price: $0 but its tokens and the request still count."""
    assert estimate_units(None, 10, 10) == (0, 20, 1)
    assert actual_units(None, Usage(10, 10)) == (0, 20, 1)


def test_units_round_trip() -> None:
    """Dollars become nano-dollars and back; tokens stay tokens."""
    assert (to_units(Measure.USD, 0.1), from_units(Measure.USD, 100_000_000)) == (100_000_000, 0.1)
    assert (to_units(Measure.TOKENS, 5), from_units(Measure.TOKENS, 5)) == (5, 5.0)


def test_an_estimate_above_the_long_context_threshold_is_at_the_long_context_prices() -> None:
    """A prompt estimated at 300,000 tokens on a model billed at $2.5/$15 above 200,000: reserved at those
    prices ($0.75 + $0.015 for 1,000 output tokens), not the standard tier's $1.25/$10 (which would settle
    above its reservation)."""
    price = PriceSpec(
        input_per_mtok=1.25,
        output_per_mtok=10,
        long_context={"above_input_tokens": 200_000, "input_per_mtok": 2.5, "output_per_mtok": 15},
    )
    assert estimate_units(price, 300_000, 1_000) == (765_000_000, 301_000, 1)
    assert estimate_units(price, 200_000, 1_000) == (260_000_000, 201_000, 1)


def test_an_estimate_covers_the_dearest_service_tier() -> None:
    """A model whose price names a priority tier at twice the standard prices and a flex one at half: the
    reservation is at the priority prices (the request does not bind the tier the provider serves)."""
    price = PriceSpec(
        input_per_mtok=1,
        output_per_mtok=4,
        service_tiers={"priority": {"input_per_mtok": 2, "output_per_mtok": 8}, "flex": {"output_per_mtok": 2}},
    )
    assert estimate_units(price, 1_000, 100) == (2_800_000, 1_100, 1)


def test_an_estimate_is_at_the_audio_prices_when_the_model_names_them() -> None:
    """A model priced $2.5/$10 for text and $40/$80 for audio: its reservation of 1,000 prompt and 100
    output tokens is at the audio prices ($0.04 + $0.008): the request is not read for audio."""
    price = PriceSpec(input_per_mtok=2.5, output_per_mtok=10, audio_input_per_mtok=40, audio_output_per_mtok=80)
    assert estimate_units(price, 1_000, 100) == (48_000_000, 1_100, 1)
