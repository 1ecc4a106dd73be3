"""The route's cache settings as the request path reads them (``cache.rules.CacheRules``): every field of the
merged ``RouteCacheSpec``, copied once per load."""

from __future__ import annotations

from dataclasses import asdict, fields

from sidecar.cache import RouteCacheSpec
from sidecar.cache.rules import CacheRules
from sidecar.policy import load_policy_bytes


def test_the_rules_hold_every_field_of_the_spec_with_its_value() -> None:
    """``CacheRules.of`` copies each field of ``RouteCacheSpec`` (a field added to the spec and not to the
    rules would be read from nowhere on the request path)."""
    spec = RouteCacheSpec.model_validate(
        {"enabled": True, "ttl_s": 12.5, "cacheable": "always", "stale_s": 7.0, "store_truncated": True}
        | {"share_across_apps": True, "single_flight_wait_s": 0.0, "client_control": False}
    )
    assert [f.name for f in fields(CacheRules)] == list(RouteCacheSpec.model_fields)
    assert asdict(CacheRules.of(spec)) == spec.model_dump()


def test_a_routes_plan_reads_its_merged_settings_from_the_rules() -> None:
    """A route's plan holds the rules of its settings merged field by field (the route's ``cache:`` over
    ``defaults.cache``), beside the spec ``diff`` and ``explain`` read."""
    policy = load_policy_bytes(
        b"""
providers:
  openai: {dialect: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  gpt: {provider: openai, model: gpt-4o-mini}
defaults:
  cache: {enabled: true, ttl_s: 60, stale_s: 30}
routes:
  - {name: chat, match: {model: gpt}, target: gpt, cache: {ttl_s: 5, cacheable: always}}
""",
        "rules-test.yaml",
    )
    plan = policy.routes[0].settings.cache
    assert plan is not None
    assert (plan.rules.ttl_s, plan.rules.stale_s, plan.rules.cacheable) == (5.0, 30.0, "always")
    assert plan.rules == CacheRules.of(plan.settings)
