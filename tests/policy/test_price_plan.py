"""A model's price copied into a slotted record at load (``Target.prices``): every field of the spec, its
tiers and its search fee answered as the spec answers them, and the same cost either way."""

from __future__ import annotations

from dataclasses import fields

from sidecar.cost import cost_usd
from sidecar.policy import load_policy_bytes
from sidecar.policy.price_plan import CallPrices
from sidecar.policy.prices import PriceSpec
from sidecar.translate import Usage

from .policies import BASE

PRICED = BASE.replace(
    "gpt-4o-mini: {provider: openai, model: gpt-4o-mini}",
    "gpt-4o-mini: {provider: openai, model: gpt-4o-mini, price: {input_per_mtok: 1.5, output_per_mtok: 6,"
    " cached_input_per_mtok: 0.25, cache_write_per_mtok: 1.75, cache_write_1h_per_mtok: 3.5,"
    " audio_input_per_mtok: 9, audio_output_per_mtok: 18, web_search_per_1k_calls: 25, web_search_billed_per: call,"
    " long_context: {above_input_tokens: 1000, input_per_mtok: 3, output_per_mtok: 12},"
    " service_tiers: {flex: {input_per_mtok: 0.75, output_per_mtok: 3}}}}",
)


def test_every_field_of_a_models_price_is_copied_into_its_slots() -> None:
    """Each ``PriceSpec`` field, set to a value of its own, is the same in the target's ``prices`` (a field
    added to the spec and not to the record fails here), which keeps the spec it was made from; a model
    without a price has none."""
    policy = load_policy_bytes((PRICED + "default: {target: gpt-4o-mini}\n").encode(), "t")
    target = policy.models["gpt-4o-mini"]
    assert target.price is not None and isinstance(target.prices, CallPrices)
    assert set(PriceSpec.model_fields) == {f.name for f in fields(CallPrices)} - {"spec"}
    assert all(getattr(target.prices, name) == getattr(target.price, name) for name in PriceSpec.model_fields)
    assert all(getattr(target.price, name) not in (None, {}) for name in PriceSpec.model_fields)
    assert target.prices.spec is target.price
    assert policy.models["gpt-4o"].prices is None


def test_the_slotted_prices_cost_a_call_as_the_spec_does_at_every_tier() -> None:
    """A call in parts (cache reads, writes, an hour's writes, audio both ways, searches), a long prompt, a
    call served at a named service tier and one at an unnamed tier cost the same from the record as
    from the spec, and its tiers and searches billed are the spec's."""
    policy = load_policy_bytes((PRICED + "default: {target: gpt-4o-mini}\n").encode(), "t")
    spec, prices = policy.models["gpt-4o-mini"].price, policy.models["gpt-4o-mini"].prices
    assert spec is not None and prices is not None
    usages = [
        Usage(900, 300, 200, 100, 0, 40, 50, 60, None, 2),
        Usage(5000, 20),
        Usage(900, 300, service_tier="flex"),
        Usage(900, 300, service_tier="priority"),
    ]
    assert [cost_usd(prices, usage) for usage in usages] == [cost_usd(spec, usage) for usage in usages]
    assert prices.for_call(5000, None) == spec.for_call(5000, None)
    assert prices.for_call(10, "flex") == spec.for_call(10, "flex")
    assert prices.for_call(10, None) is prices
    assert [prices.searches_billed(n) for n in (0, 3)] == [spec.searches_billed(n) for n in (0, 3)] == [1, 1]
