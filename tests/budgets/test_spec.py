"""The budgets policy block: every field validated, every error reported with its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.budgets import compile_budgets
from sidecar.budgets.spec import BudgetsSpec, StoreSpec
from sidecar.policy import PolicyError

from .conftest import MODELS, budgets_of

LIMIT: dict[str, Any] = {"name": "daily", "measure": "usd", "amount": 10, "window": "day"}


def limit(**changes: Any) -> dict[str, Any]:
    return {"limits": [{**LIMIT, **changes}]}


def errors(block: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        budgets_of(block)
    return caught.value.errors


CASES: list[tuple[dict[str, Any], str]] = [
    (limit(name="has space"), "budgets.limits[0].name: 1-64 characters"),
    (limit(measure="euros"), "budgets.limits[0].measure: Input should be 'usd', 'tokens' or 'requests'"),
    (limit(amount=0), "budgets.limits[0].amount: Input should be greater than 0"),
    (limit(measure="tokens", amount=1.5), "budgets.limits[0]: amount: a whole number of tokens"),
    (limit(window="week"), "budgets.limits[0].window: Input should be 'minute', 'hour', 'day' or 'month'"),
    (limit(scope={"by": "team"}), "budgets.limits[0].scope.by: Input should be"),
    (limit(scope={"by": "header", "header": "x team"}), "budgets.limits[0].scope.header: 'x team' is not a valid"),
    (limit(scope={"by": "header"}), "budgets.limits[0].scope: header is required with by: header"),
    (limit(scope={"by": "header", "header": "X-Api-Key"}), "budgets.limits[0].scope.header: a credential header"),
    (limit(scope={"by": "app", "header": "x-team"}), "budgets.limits[0].scope: header is required with by: header"),
    (limit(scope={"by": "app", "values": []}), "budgets.limits[0].scope.values: an empty list"),
    (limit(scope={"by": "app", "values": ["other"]}), "budgets.limits[0].scope.values: 'other' is the name"),
    (limit(scope={"by": "app", "values": ["a", "a"]}), "budgets.limits[0].scope.values: duplicate values"),
    (limit(scope={"by": "app", "values": ["x" * 300]}), "budgets.limits[0].scope.values: each value must be"),
    (limit(scope={"by": "global", "values": ["a"]}), "budgets.limits[0].scope: by: global has no values"),
    (limit(scope={"by": "key", "values": ["sk-live-secret"]}), "budgets.limits[0].scope: by: key values are key"),
    (limit(scope={"by": "app", "others": "exempt"}), "budgets.limits[0].scope: others applies only with values"),
    (limit(scope={"by": "app", "values": ["a"], "others": "x"}), "budgets.limits[0].scope.others: Input should"),
    (limit(scope={"by": "model", "values": ["nope"]}), "budgets.limits[0].scope.values[0]: unknown model 'nope'"),
    (limit(scope={"by": "provider", "values": ["nope"]}), "budgets.limits[0].scope.values[0]: unknown provider"),
    (limit(scope={"by": "route", "values": ["chat", "x"]}), "budgets.limits[0].scope.values[1]: unknown route 'x'"),
    (
        limit(scope={"by": "model", "values": ["free"]}),
        "budgets.limits[0].measure: usd, but model free has no price: set models.free.price",
    ),
    (limit(action="block"), "budgets.limits[0].action: Input should be 'deny', 'downgrade' or 'warn'"),
    (limit(action="downgrade"), "budgets.limits[0]: downgrade_to is required with action: downgrade"),
    (limit(downgrade_to=["small"]), "budgets.limits[0]: downgrade_to is required with action: downgrade"),
    (limit(action="downgrade", downgrade_to=[]), "budgets.limits[0].downgrade_to: List should have at least 1"),
    (limit(action="downgrade", downgrade_to=["tiny"]), "budgets.limits[0].downgrade_to[0]: unknown model 'tiny'"),
    (limit(soft={"at": 1.0, "action": "warn"}), "budgets.limits[0].soft.at: Input should be less than 1"),
    (limit(soft={"at": 0.8, "action": "deny"}), "budgets.limits[0].soft.action: Input should be 'warn' or"),
    (limit(soft={"at": 0.8, "action": "downgrade"}), "budgets.limits[0].soft: downgrade_to is required"),
    (
        limit(soft={"at": 0.8, "action": "downgrade", "downgrade_to": ["x"]}),
        "budgets.limits[0].soft.downgrade_to[0]: unknown model 'x'",
    ),
    (
        limit(action="warn", soft={"at": 0.8, "action": "downgrade", "downgrade_to": ["small"]}),
        "budgets.limits[0]: soft: a downgrade before a limit that only warns",
    ),
    (limit(on_store_error="maybe"), "budgets.limits[0].on_store_error: Input should be 'open' or 'closed'"),
    (limit(colour="red"), "budgets.limits[0].colour: unknown field"),
    ({"limits": [LIMIT, {**LIMIT, "window": "hour"}]}, "budgets.limits[1].name: duplicate name 'daily'"),
    ({"store": "memcached://x"}, "budgets.store: url: local, redis://host:port/db or rediss://"),
    ({"store": "redis://:hunter2@redis:6379/0"}, "budgets.store: url: put the user in username and the password"),
    ({"store": "redis://redis:6379/0?password=hunter2"}, "budgets.store: url: put the user in username and the pass"),
    ({"store": "redis://redis/0?username=u&PASSWORD=h"}, "budgets.store: url: put the user in username and the pass"),
    ({"store": "redis:///0"}, "budgets.store: url: no host"),
    ({"store": {"url": "local", "password": {"env": "P"}}}, "budgets.store: password: only for a redis:// store"),
    ({"store": {"url": "redis://r", "password": {"env": "P", "file": "/f"}}}, "budgets.store.password: set exactly"),
    ({"store": {"url": "rediss://r", "tls": {"cert_file": "/c"}}}, "budgets.store.tls: cert_file and key_file go"),
    ({"store": {"url": "rediss://r", "tls": {"verify": "sometimes"}}}, "budgets.store.tls.verify: Input should be"),
    ({"store": {"url": "redis://r", "tls": {"verify": False}}}, "budgets.store: tls: needs a rediss:// url"),
    ({"store": {"url": "redis://r", "timeout_ms": 0}}, "budgets.store.timeout_ms: Input should be greater than 0"),
    ({"store": {"url": "redis://r", "connect_timeout_ms": -1}}, "budgets.store.connect_timeout_ms: Input should"),
    ({"store": {"url": "redis://r", "max_connections": 0}}, "budgets.store.max_connections: Input should be"),
    ({"store": {"url": "redis://r", "key_prefix": "a b"}}, "budgets.store: key_prefix: 1-64 characters"),
    ({"store": {"url": "redis://r", "breaker": {"failures": 0}}}, "budgets.store.breaker.failures: Input should"),
    ({"store": {"url": "redis://r", "breaker": {"open_s": 0}}}, "budgets.store.breaker.open_s: Input should be"),
    ({"store": {"url": "redis://r", "breaker": {"open_s": 60}}}, "budgets.store.breaker: open_max_s must be at least"),
    ({"store": {"url": "redis://r", "username": 7}}, "budgets.store.username: Input should be a valid string"),
    ({"store": {"url": "redis://r", "log_interval_s": 0}}, "budgets.store.log_interval_s: Input should be greater"),
    ({"reservation_ttl_s": 5}, "budgets.reservation_ttl_s: Input should be greater than or equal to 10"),
    ({"default_max_output_tokens": 0}, "budgets.default_max_output_tokens: Input should be greater than or equal"),
    ({"headers": "sometimes"}, "budgets.headers: Input should be a valid boolean"),
    ({"max_tracked_values": 0}, "budgets.max_tracked_values: Input should be greater than or equal to 1"),
    ({"limit": []}, "budgets.limit: unknown field"),
]


IDS = [f"{expected.split(':')[0]}#{i}" for i, (_, expected) in enumerate(CASES)]


@pytest.mark.parametrize(("block", "expected"), CASES, ids=IDS)
def test_an_invalid_field_is_reported_with_its_path(block: dict[str, Any], expected: str) -> None:
    """Each invalid field of the block yields an error line that starts with its path."""
    found = errors(block)
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_reported_at_once() -> None:
    """Several problems in one block come back together, not one per attempt."""
    found = errors({"limits": [{**LIMIT, "amount": -1}, {**LIMIT, "name": "x", "window": "year"}]})
    assert len(found) == 2


def test_a_store_written_as_a_string_is_its_url() -> None:
    """``store: redis://...`` is shorthand for ``store: {url: redis://...}`` with the defaults."""
    assert BudgetsSpec.model_validate({"store": "redis://redis:6379/1"}).store == StoreSpec(url="redis://redis:6379/1")


def test_the_defaults_are_local_and_unlimited() -> None:
    """An empty block means a local store, no limits, no headers."""
    spec = BudgetsSpec()
    assert (spec.store.is_redis, spec.limits, spec.headers) == (False, [], False)


def test_an_unpriced_model_under_a_broad_usd_limit_is_a_warning() -> None:
    """A USD limit over every model warns that the unpriced ones count $0, without failing the load."""
    budgets = budgets_of(limit())
    assert budgets.warnings == ("budgets.limits[0]: model free has no price and counts $0 here",)


def test_a_header_scope_name_is_lower_cased() -> None:
    """Header names are case-insensitive; the compiled scope reads the lower-case name."""
    budgets = budgets_of(limit(scope={"by": "header", "header": "X-Team"}))
    assert budgets.header_names == frozenset({"x-team"})


def test_the_documented_example_compiles() -> None:
    """The annotated example in docs/budgets.md is a valid budgets block (the docs stay true)."""
    text = (Path(__file__).parents[2] / "docs" / "budgets.md").read_text()
    example = text.split("## Every field, annotated", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    block = yaml.safe_load(example)["budgets"]
    budgets = compile_budgets(block, models=MODELS, providers=["openai", "acme", "zeta"], routes=["chat"])
    assert [limit.name for limit in budgets.limits] == ["team-day", "route-month", "key-rpm", "openai-tpm"]
