"""Cost of one request in US dollars, from the model's prices in the policy and the usage reported."""

from __future__ import annotations

from .policy.spec import PriceSpec
from .translate import Usage


def cost_usd(price: PriceSpec | None, usage: Usage | None) -> float | None:
    """None when the model has no price or the upstream reported no usage."""
    if price is None or usage is None:
        return None
    cached = min(usage.cached_input_tokens, usage.input_tokens)  # a subset: a provider claiming more lies
    fresh = usage.input_tokens - cached
    cached_price = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    total = fresh * price.input_per_mtok + cached * cached_price + usage.output_tokens * price.output_per_mtok
    return total / 1_000_000
