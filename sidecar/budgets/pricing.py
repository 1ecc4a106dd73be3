"""What one call weighs in each measure, in the integer units the store counts.

Counters are integers so that sums are exact in Redis (``HINCRBY``) and in Python alike: US dollars are
counted in nano-dollars (``NANO_USD`` per dollar; an int64 holds $9 billion, Lua's doubles count exactly
up to $9 million per counter and window), tokens and requests as themselves.

- ``estimate_units(price, input_tokens, output_tokens, hour_writes)``: the reservation, priced by
  ``sidecar.cost.estimate_micro_usd`` (no cache discount, and the prompt at the cache-write price when
  that is higher, the 1-hour write price when the request asks for 1-hour writes: an estimate must not
  be low; the audio prices when higher, when the model names them; at the long-context tier's prices
  when the prompt estimate is above its threshold, the highest of those and every service tier's:
  ``PriceSpec.for_estimate``), and the web searches the request lets the provider run at the model's
  ``web_search_per_1k_calls`` (``estimate.searches_asked``), rounded up. The access line prices an
  answer without usage by the same function, so it and the budgets' settlement agree.
- ``actual(price, usage)``: what the answer cost, by ``sidecar.cost.cost_usd`` (cache reads and writes at
  their prices), rounded to the nearest nano-dollar. A model without a price weighs 0 USD.
"""

from __future__ import annotations

import math

from sidecar import cost  # the module, not its function: ``cost`` imports the policy, which imports this
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
    price: PriceSpec | None, input_tokens: int, output_tokens: int, hour_writes: bool = False, searches: int = 0
) -> tuple[int, int, int]:
    """The reservation of one call: (nano-USD, tokens, requests); ``hour_writes``: the request asks for
    1-hour prompt-cache writes (``estimate.asks_hour_writes``); ``searches``: the web searches it lets the
    provider run (``estimate.searches_asked``), at the model's ``web_search_per_1k_calls``."""
    usd = 0
    if price is not None:
        usd = math.ceil(cost.estimate_micro_usd(price, input_tokens, output_tokens, hour_writes, searches) * 1000)
    return usd, input_tokens + output_tokens, 1


def actual_units(price: PriceSpec | None, usage: Usage) -> tuple[int, int, int]:
    """What one finished (or cancelled) call used: (nano-USD, tokens, requests)."""
    dollars = cost.cost_usd(price, usage)
    usd = 0 if dollars is None else round(dollars * NANO_USD)
    return usd, usage.input_tokens + usage.output_tokens, 1
