"""Cost of one request in US dollars, from the model's prices in the policy and the usage reported.

The input is priced in three parts, each token once: read from the provider's prompt cache
(``cached_input_per_mtok``), written to it (``cache_write_per_mtok``, Anthropic), and the rest
(``input_per_mtok``); both cache counts are parts of ``Usage.input_tokens``. The output, reasoning
included, at ``output_per_mtok``.
"""

from __future__ import annotations

from .policy.spec import PriceSpec
from .translate import Usage


def cost_usd(price: PriceSpec | None, usage: Usage | None) -> float | None:
    """None when the model has no price or the upstream reported no usage."""
    if price is None or usage is None:
        return None
    inputs = usage.input_tokens
    cached = min(usage.cached_input_tokens, inputs)  # subsets: a provider claiming more lies
    written = min(usage.cache_write_tokens, inputs - cached)
    fresh = inputs - cached - written
    cached_price = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    write_price = price.cache_write_per_mtok if price.cache_write_per_mtok is not None else price.input_per_mtok
    total = (
        fresh * price.input_per_mtok
        + cached * cached_price
        + written * write_price
        + usage.output_tokens * price.output_per_mtok
    )
    return total / 1_000_000
