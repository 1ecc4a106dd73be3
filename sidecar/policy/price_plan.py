"""A model's price as an answer's bill reads it: a slotted record made once per load.

A pydantic model's class defines ``__getattr__``, so Python 3.11 specializes no read of its fields: about
460 instructions a read, against 96 for a slot (docs/benchmarks.md, "Wave 47 `plain48`"), and
``cost.cost_usd`` reads five of a ``PriceSpec`` for every answer priced (more with cache or audio
counts). The compiled policy keeps a copy of every field in plain slots beside the spec it is made from:
``Target.prices`` (a ``CallPrices``), which the bill of a request (``server.bill``) prices its answer
with. It answers what ``cost.cost_usd`` asks of a price as the spec does (its fields, ``for_call``,
``searches_billed``), so either may be priced. The spec stays the source, validated and immutable:
``diff``, ``explain``, the ``cost`` command, the budgets' estimates, routing's expected cost and the rarer
paths read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .base import slotted_copy
from .prices import LongContextPrices, PriceSpec, TokenPrices


@dataclass(frozen=True, slots=True)
class CallPrices:
    """A ``PriceSpec``'s every field, in slots; ``spec`` is the spec it was copied from."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None
    cache_write_per_mtok: float | None
    cache_write_1h_per_mtok: float | None
    audio_input_per_mtok: float | None
    audio_output_per_mtok: float | None
    long_context: LongContextPrices | None
    service_tiers: Mapping[str, TokenPrices]
    web_search_per_1k_calls: float | None
    web_search_billed_per: Literal["search", "prompt", "call"] | None
    spec: PriceSpec

    @classmethod
    def of(cls, spec: PriceSpec) -> CallPrices:
        return slotted_copy(cls, spec, spec=spec)

    def for_call(self, input_tokens: int, service_tier: str | None) -> TokenPrices | CallPrices:
        """``PriceSpec.for_call`` (the spec decides): the tier's prices a call is billed at, these when it is
        the standard one."""
        chosen = self.spec.for_call(input_tokens, service_tier)
        return self if chosen is self.spec else chosen

    def searches_billed(self, searches: int) -> int:
        """``PriceSpec.searches_billed``."""
        return self.spec.searches_billed(searches)
