"""The cache's policy blocks: defaults, limits, unknown fields refused, a route's block merged over the
defaults field by field (as the policy merges resilience)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sidecar.cache import CacheStoreSpec, RouteCacheSpec
from sidecar.policy.compile import merge


def test_defaults_are_memory_and_caching_off() -> None:
    """No block: a bounded memory store, and routes that do not cache until they say so."""
    store = CacheStoreSpec()
    assert (store.redis, store.memory.max_entries, store.memory.max_bytes) == (None, 10_000, 32 * 1024 * 1024)
    route = RouteCacheSpec()
    assert (route.enabled, route.cacheable, route.stale_s) == (False, "deterministic", 0)
    assert route.share_across_apps is False


def test_a_route_block_merges_over_the_defaults() -> None:
    """A route that sets only enabled and ttl_s keeps the defaults' other fields."""
    defaults = RouteCacheSpec(stale_s=3600, cacheable="always")
    route = RouteCacheSpec.model_validate({"enabled": True, "ttl_s": 60})
    merged = merge(defaults, route)
    assert isinstance(merged, RouteCacheSpec)
    assert (merged.enabled, merged.ttl_s, merged.stale_s, merged.cacheable) == (True, 60, 3600, "always")


@pytest.mark.parametrize(
    "document",
    [
        {"ttl_s": 0},
        {"stale_s": -1},
        {"cacheable": "sometimes"},
        {"single_flight_wait_s": 601},
        {"ttl": 60},  # a typo is an error, not a silently ignored field
    ],
)
def test_route_settings_that_are_refused(document: dict[str, object]) -> None:
    """Out-of-range values, unknown modes and unknown fields are validation errors."""
    with pytest.raises(ValidationError):
        RouteCacheSpec.model_validate(document)


def test_memory_bounds_are_checked() -> None:
    """A memory store needs at least one entry and 64 KiB."""
    with pytest.raises(ValidationError):
        CacheStoreSpec.model_validate({"memory": {"max_entries": 0}})
    with pytest.raises(ValidationError):
        CacheStoreSpec.model_validate({"memory": {"max_bytes": 1000}})
