"""What one call weighs in each measure, in the integer units the store counts.

Counters are integers so that sums are exact in Redis (``HINCRBY``) and in Python alike: US dollars are
counted in nano-dollars (``NANO_USD`` per dollar; an int64 holds $9 billion, Lua's doubles count exactly
up to $9 million per counter and window), tokens and requests as themselves.

- ``estimate_units(price, input_tokens, output_tokens, hour_writes)``: the reservation, priced with the
  model's input and output prices (no cache discount, and the prompt at the cache-write price when that
  is higher, the 1-hour write price when the request asks for 1-hour writes: an estimate must not be
  low; the audio prices when higher, when the model names them), at the long-context tier's prices when
  the prompt estimate is above its threshold, the highest of those and every service tier's
  (``PriceSpec.for_estimate``), rounded up.
- ``actual(price, usage)``: what the answer cost, by ``sidecar.cost.cost_usd`` (cache reads and writes at
  their prices), rounded to the nearest nano-dollar. A model without a price weighs 0 USD.
"""

from __future__ import annotations

import math

from sidecar import cost  # the module, not its function: ``cost`` imports the policy, which imports this
from sidecar.policy.prices import TokenPrices
from sidecar.policy.spec import PriceSpec
from sidecar.translate import Usage

from .spec import Measure

NANO_USD = 1_000_000_000


def to_units(measure: Measure, amount: float) -> int:
    """A policy amount (dollars, tokens, requests) in counter units."""
    return round(amount * NANO_USD) if measure is Measure.USD else int(amount)


def from_units(measure: Measure, units: int) -> float:
    """Counter units back in the policy's unit (dollars as a float)."""
    return units / NANO_USD if measure is Measure.USD else float(units)


def estimate_units(
    price: PriceSpec | None, input_tokens: int, output_tokens: int, hour_writes: bool = False
) -> tuple[int, int, int]:
    """The reservation of one call: (nano-USD, tokens, requests); ``hour_writes``: the request asks for
    1-hour prompt-cache writes (``estimate.asks_hour_writes``)."""
    usd = 0
    if price is not None:
        usd = max(
            _estimate(prices, input_tokens, output_tokens, hour_writes) for prices in price.for_estimate(input_tokens)
        )
    return usd, input_tokens + output_tokens, 1


def _estimate(prices: TokenPrices, input_tokens: int, output_tokens: int, hour_writes: bool) -> int:
    """One tier's reservation in nano-USD (``estimate_units``)."""
    input_price = prices.input_per_mtok
    if prices.cache_write_per_mtok is not None and prices.cache_write_per_mtok > input_price:
        input_price = prices.cache_write_per_mtok
    if hour_writes:
        input_price = max(input_price, cost.hour_write_price(prices))
    if prices.audio_input_per_mtok is not None:  # the prompt may be audio: the request is not read for it
        input_price = max(input_price, prices.audio_input_per_mtok)
    output_price = prices.output_per_mtok
    if prices.audio_output_per_mtok is not None:
        output_price = max(output_price, prices.audio_output_per_mtok)
    return math.ceil((input_tokens * input_price + output_tokens * output_price) * 1000)


def actual_units(price: PriceSpec | None, usage: Usage) -> tuple[int, int, int]:
    """What one finished (or cancelled) call used: (nano-USD, tokens, requests)."""
    dollars = cost.cost_usd(price, usage)
    usd = 0 if dollars is None else round(dollars * NANO_USD)
    return usd, usage.input_tokens + usage.output_tokens, 1
