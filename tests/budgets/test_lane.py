"""A route's lane: the fast path's prices, read once."""

from __future__ import annotations

from sidecar.budgets import Decision, TargetInfo
from sidecar.budgets.calls import Call
from sidecar.budgets.lane import Lane
from sidecar.budgets.pricing import actual_units, estimate_units
from sidecar.policy.spec import PriceSpec
from sidecar.translate import Usage

from .conftest import budgets_of


def test_a_lanes_prices_give_the_units_pricing_gives() -> None:
    """Lane.units and Lane.used, on prices read once, equal estimate_units (times an ensemble's calls, all of one model)
    and actual_units to the nano-dollar, cached input and cache writes (five-minute and one-hour, priced
    or at the default) included, priced or not."""
    priced = TargetInfo("m", "p", PriceSpec(input_per_mtok=2.5, output_per_mtok=10, cached_input_per_mtok=1.25))
    writes = TargetInfo("w", "p", PriceSpec(input_per_mtok=3, output_per_mtok=15, cache_write_per_mtok=3.75))
    hour = TargetInfo("h", "p", PriceSpec(input_per_mtok=3, cache_write_per_mtok=3.75, cache_write_1h_per_mtok=6.5))
    unpriced = TargetInfo("u", "p")
    plain = TargetInfo("n", "p", PriceSpec(input_per_mtok=0.15, output_per_mtok=0.6))
    for target in (priced, writes, hour, unpriced, plain):
        for calls in (1, 3):
            ensemble = tuple(Call(target) for _ in range(calls)) if calls > 1 else ()
            lane = Lane(budgets_of({"limits": []}), [target], Decision("allow"), ensemble)
            for tokens in (0, 1, 7, 333, 12_345, 987_654):
                usd, total, requests = estimate_units(target.price, tokens, tokens // 3 + 1)
                assert lane.units(tokens, tokens // 3 + 1) == (usd * calls, total * calls, requests)
                usage = Usage(tokens, tokens // 7, cached_input_tokens=tokens // 2, cache_write_tokens=tokens // 3)
                assert lane.used(usage) == actual_units(target.price, usage)
                hourly = Usage(tokens, 1, cache_write_tokens=tokens // 3, cache_write_1h_tokens=tokens // 5)
                assert lane.used(hourly) == actual_units(target.price, hourly)
